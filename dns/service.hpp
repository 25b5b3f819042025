// The DNS service as the gateway's UDP/TCP glue uses it: the pure DnsServer engine plus an
// UpstreamResolver on the same libuv loop. One call per received query; the answer comes
// back through a callback, at once for local and cached names, later for forwarded ones.
#pragma once

#include <uv.h>

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "dns/server.hpp"
#include "dns/upstream_resolver.hpp"

namespace usernet::dns {

/// Counted by the service around the engine (the engine's own are in ServerCounters).
struct ServiceCounters {
  std::uint64_t over_pending_cap = 0;  // forwards dropped: max_pending already in flight
};

class DnsService {
 public:
  /// Forwarded queries in flight at most; more are dropped (counted) rather than queued
  /// without bound while an upstream is slow or dead.
  static constexpr std::size_t kDefaultMaxPending = 1024;

  /// Receives the answer to send back (UDP payload, or TCP message without length prefix).
  using Respond = std::function<void(std::vector<std::uint8_t> answer)>;

  /// `upstream_servers` empty: the system's resolv.conf. Throws like UpstreamResolver.
  DnsService(uv_loop_t* loop, ServerConfig config, std::vector<std::string> upstream_servers,
             UpstreamOptions upstream_options = {});

  /// Handles one query. `respond` is not called for dropped queries; for forwarded ones it
  /// is called from the loop later, and not at all if the service is destroyed first.
  void query(std::span<const std::uint8_t> bytes, Transport transport, Respond respond);

  DnsServer& server() { return server_; }
  UpstreamResolver& upstream() { return upstream_; }
  const ServiceCounters& counters() const { return counters_; }
  void set_max_pending(std::size_t max_pending) { max_pending_ = max_pending; }

 private:
  /// Sends a reply, or forwards and carries out what finishing the answer decides.
  void carry_out(Decision decision, Respond respond);

  uv_loop_t* loop_;
  std::size_t max_pending_ = kDefaultMaxPending;
  ServiceCounters counters_;
  DnsServer server_;
  UpstreamResolver upstream_;
};

}  // namespace usernet::dns
