// Forwards raw DNS queries to upstream servers with c-ares, driven by a libuv loop.
// c-ares does the retries, the fallback to the next server and the retry over TCP when a
// UDP answer comes back truncated. Without explicit servers it reads /etc/resolv.conf
// (what makes VPN split DNS work); set_servers() swaps the servers at run time (the
// gateway follows resolv.conf changes that way). c-ares' sockets come from a private
// SocketReserve so forwarding survives the process running out of descriptors. Integration: c-ares reports the sockets it wants
// watched (ARES_OPT_SOCK_STATE_CB) -> one uv_poll_t each; one uv_timer_t fires at
// ares_timeout() so retries happen.
#pragma once

#include <ares.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "dns/socket_reserve.hpp"
#include "netstack/base/result.hpp"

namespace usernet::dns {

struct UpstreamOptions {
  int timeout_ms = 2000;  // first try's timeout (c-ares grows it on later rounds)
  int tries = 2;          // rounds over the server list
  std::size_t reserved_fds = 4;  // descriptors kept aside for c-ares' sockets
};

/// Turns `IP`, `IP:PORT`, `[IPv6]` or `[IPv6]:PORT` entries into the CSV form
/// ares_set_servers_ports_csv takes (port 53 by default). An error when an entry is not a
/// literal address with an optional port in 1..65535.
Result<std::string> upstream_servers_csv(const std::vector<std::string>& servers);

class UpstreamResolver {
 public:
  /// The answer's bytes, or nullopt when every server failed or timed out.
  using Callback = std::function<void(std::optional<std::vector<std::uint8_t>> answer)>;

  /// `servers` empty: use the system's resolv.conf. Throws std::invalid_argument for a bad
  /// server entry and std::runtime_error when c-ares cannot be set up.
  UpstreamResolver(uv_loop_t* loop, std::vector<std::string> servers, UpstreamOptions options = {});
  /// Pending callbacks are dropped, not called. Handles close on the loop's next turn.
  ~UpstreamResolver();
  UpstreamResolver(const UpstreamResolver&) = delete;
  UpstreamResolver& operator=(const UpstreamResolver&) = delete;

  /// Sends `query` (a complete DNS message; its id is replaced on the wire and the answer
  /// carries the upstream's id). `callback` runs later on the loop, never inside resolve(),
  /// and may destroy this resolver.
  void resolve(std::span<const std::uint8_t> query, Callback callback);

  /// Replaces the servers (same entry syntax as the constructor). Queries in flight on the
  /// old servers are answered as failures (c-ares cannot switch under them). An error for a
  /// bad entry; then nothing changes.
  Status set_servers(const std::vector<std::string>& servers);

  std::size_t pending() const { return pending_; }
  const SocketReserve& socket_reserve() const { return reserve_; }

 private:
  struct Poll;
  struct Completion {
    Callback callback;
    std::optional<std::vector<std::uint8_t>> answer;
  };

  // c-ares: a socket's wanted events changed (both 0: it is about to be closed).
  static void on_socket_state(void* data, ares_socket_t fd, int readable, int writable);
  // c-ares: a query finished; queues the result for deliver_completions().
  static void on_answer(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
  // libuv: a c-ares socket is ready; lets c-ares process it.
  static void on_poll(uv_poll_t* handle, int status, int events);
  // libuv: ares_timeout() elapsed; lets c-ares retry or give up.
  static void on_timer(uv_timer_t* handle);
  // libuv: delivers results c-ares produced inside resolve().
  static void on_deferred(uv_idle_t* handle);

  // Starts, changes or stops the uv_poll_t of one c-ares socket.
  void watch_socket(ares_socket_t fd, bool readable, bool writable);
  // Runs queued callbacks (outside c-ares), then re-arms the timer.
  void deliver_completions();
  // Arms the timer for c-ares' next timeout, or stops it when nothing is pending.
  void schedule_timeout();
  // c-ares socket functions, all through reserve_.
  static ares_socket_t open_socket(int domain, int type, int protocol, void* data);
  static int close_socket(ares_socket_t fd, void* data);
  static int connect_socket(ares_socket_t fd, const sockaddr* address, ares_socklen_t length, void* data);
  static ares_ssize_t receive_from(ares_socket_t fd, void* buffer, std::size_t length, int flags, sockaddr* from,
                                   ares_socklen_t* from_length, void* data);
  static ares_ssize_t send_vector(ares_socket_t fd, const iovec* vector, int count, void* data);

  uv_loop_t* loop_;
  SocketReserve reserve_;  // before channel_: c-ares closes its sockets through it
  ares_channel channel_ = nullptr;
  uv_timer_t* timer_;
  uv_idle_t* deferred_;  // runs completions that arrived outside a loop callback
  std::unordered_map<ares_socket_t, Poll*> polls_;
  std::vector<Completion> completions_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::size_t pending_ = 0;
  bool destroying_ = false;
};

}  // namespace usernet::dns
