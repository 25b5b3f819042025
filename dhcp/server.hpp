// The DHCPv4 server engine (public header of dhcp/): UDP payloads a client sent to port 67 go
// in, reply payloads come out with where to send them (to port 68). No sockets, no clock:
// the caller passes the time. RFC 2131 state machine over a LeaseTable; replies built by
// ReplyBuilder. The server is authoritative for its subnet (it is the only DHCP server of a
// usernet segment), so it also ACKs an INIT-REBOOT or RENEW for an address it has no record
// of, when that address is free for the client (e.g. after usernetd restarted).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dhcp/config.hpp"
#include "dhcp/lease_table.hpp"
#include "dhcp/message.hpp"
#include "dhcp/reply_builder.hpp"
#include "netstack/base/result.hpp"

namespace usernet::dhcp {

/// A reply and its destination: broadcast to 255.255.255.255:68, else unicast to
/// unicast_ip:68 (RFC 2131 §4.1 without relays: ciaddr set -> unicast, else and for every
/// NAK -> broadcast).
struct Reply {
  std::vector<std::uint8_t> payload;
  bool broadcast = true;
  std::uint32_t unicast_ip = 0;
  MessageType type = MessageType::ack;
};

/// What the server saw and did, for /stats and logs.
struct Counters {
  std::uint64_t received = 0;
  /// Valid messages by option 53 value (index = value; 0 unused).
  std::array<std::uint64_t, 9> by_type{};
  std::uint64_t offers = 0;
  std::uint64_t acks = 0;
  std::uint64_t naks = 0;
  std::uint64_t releases = 0;
  std::uint64_t declines = 0;
  /// Host names (option 12) that were not usable as a DNS label and were not stored.
  std::uint64_t invalid_host_names = 0;
  /// Messages left unanswered (or ignored), by reason.
  std::array<std::uint64_t, kDropReasonCount> drops{};

  std::uint64_t drops_of(DropReason reason) const { return drops[static_cast<std::size_t>(reason)]; }
  std::uint64_t received_of(MessageType type) const { return by_type[static_cast<std::size_t>(type)]; }
};

class Server {
 public:
  /// Throws std::invalid_argument with validate()'s message when `config` is unusable.
  explicit Server(Config config);

  /// Handles one UDP payload received on port 67 at time `now_ms`. nullopt when there is
  /// nothing to send (RELEASE, DECLINE, or a drop, counted in counters()).
  std::optional<Reply> handle(std::span<const std::uint8_t> payload, std::uint64_t now_ms);

  /// Bound, unexpired leases (for the leases API and DNS names).
  std::vector<Lease> leases(std::uint64_t now_ms) const;
  /// The MAC statically bound to or currently leasing `ip` (who may send from it).
  std::optional<MacAddress> holder_of(std::uint32_t ip, std::uint64_t now_ms) const {
    return table_.holder_of(ip, now_ms);
  }
  const Counters& counters() const { return counters_; }
  /// True once after a DISCOVER found the pool full; again only after an allocation
  /// succeeded in between. Lets the caller log "pool exhausted" once per episode.
  bool take_pool_exhausted_event();

  /// Adds or replaces the static lease of a MAC at run time; an error sentence when the
  /// address cannot be bound statically (then nothing changes).
  Status add_static_lease(const StaticLease& lease);
  /// Removes the static lease of `mac`; false when it had none.
  bool remove_static_lease(const MacAddress& mac);
  std::vector<StaticLease> static_leases() const { return table_.static_leases(); }
  /// Replaces the search list (option 119; option 15 becomes its first domain) for the
  /// replies from now on; the host's resolv.conf changed. An error sentence when the list
  /// is unusable (then nothing changes).
  Status set_search_domains(std::vector<std::string> domains);
  const Config& config() const { return config_; }

 private:
  std::optional<Reply> on_discover(const Message& request, std::uint64_t now_ms);
  std::optional<Reply> on_request(const Message& request, std::uint64_t now_ms);
  std::optional<Reply> on_decline(const Message& request, std::uint64_t now_ms);
  std::optional<Reply> on_release(const Message& request, std::uint64_t now_ms);
  std::optional<Reply> on_inform(const Message& request);

  /// Counts `reason` and returns "no reply".
  std::optional<Reply> drop(DropReason reason);
  /// Builds the reply and picks its destination.
  Reply make_reply(const Message& request, const ReplySpec& spec);
  /// Option 12 of `request` as a DNS label, counting unusable names; empty when none.
  std::string host_name_of(const Message& request);

  Config config_;
  LeaseTable table_;
  ReplyBuilder builder_;
  Counters counters_;
  bool pool_exhausted_pending_ = false;
  bool pool_exhausted_reported_ = false;
};

}  // namespace usernet::dhcp
