// The in-guest control API: an lwIP TCP listener on the gateway's port 80. Each guest
// connection is relayed (TcpRelay: back-pressure, half-close) to one end of a unix
// socketpair whose other end goes to the owner, which serves HTTP on it with the same
// reader, limits and timeouts as the host-side endpoints: a connection that has not sent
// its request within kHttpRequestTimeoutMs is closed, so an idle slot comes back. Each guest
// address may hold kGuestApiMaxPerGuest of the kGuestApiMaxConnections slots, so one guest
// holding its connections idle cannot lock the others out.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "netstack/base/ipv4.hpp"
#include "netstack/lwip/gateway_tcp_listener.hpp"
#include "netstack/nat/tcp_relay.hpp"
#include "netstack/services/virtual_network.hpp"

struct tcp_pcb;

namespace usernet {

/// The gateway port the guest reaches the API on.
inline constexpr std::uint16_t kGuestApiPort = 80;
/// Guest API connections open at once; more are reset (a guest cannot exhaust us).
inline constexpr std::size_t kGuestApiMaxConnections = 32;
/// Of those, what one guest address may hold.
inline constexpr std::size_t kGuestApiMaxPerGuest = 8;

/// Guest connections reset at accept, by why.
struct ApiGuestRefusals {
  std::uint64_t guest_limit = 0;  ///< that guest already held kGuestApiMaxPerGuest
  std::uint64_t total_limit = 0;  ///< every slot was taken
  std::uint64_t no_fds = 0;       ///< no socketpair could be made
};

class ApiGuestListener {
 public:
  /// Receives the host end of a new connection (owning it) and the guest's address.
  using OnConnection = std::function<void(int fd, Ipv4 guest_ip)>;

  /// Listens on gateway:80; throws std::runtime_error if lwIP cannot.
  ApiGuestListener(VirtualNetwork& network, OnConnection on_connection);
  ~ApiGuestListener();
  ApiGuestListener(const ApiGuestListener&) = delete;
  ApiGuestListener& operator=(const ApiGuestListener&) = delete;

  std::size_t active() const { return relays_.active(); }
  const ApiGuestRefusals& refusals() const { return refusals_; }

 private:
  static std::int8_t on_accept(void* arg, tcp_pcb* pcb, std::int8_t err);

  VirtualNetwork& network_;
  OnConnection on_connection_;
  TcpRelayGroup relays_;
  std::optional<GatewayTcpListener> listener_;
  ApiGuestRefusals refusals_;
};

}  // namespace usernet
