// Non-blocking host sockets for the NAT and port forwards.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <optional>

#include "netstack/base/ip_address.hpp"
#include "netstack/base/ipv4.hpp"
#include "netstack/base/ipv6.hpp"

namespace usernet {

sockaddr_in make_sockaddr(Ipv4 address, std::uint16_t port);

/// Source addresses the NAT's host sockets bind to before connecting (slirp4netns
/// --outbound-addr, usernetd --outbound-addr); unset: the kernel picks by route.
struct OutboundAddresses {
  std::optional<Ipv4> v4;
  std::optional<Ipv6> v6;
};
/// Binds `fd` (of the family of `destination`) to the outbound address of that family, if
/// one is set; false with errno on failure.
bool bind_outbound(int fd, const IpAddress& destination, const OutboundAddresses& outbound);

/// Starts a non-blocking TCP connect (from the outbound address of the destination's
/// family, if set); returns the fd, or -errno if it failed at once.
int start_tcp_connect(const IpAddress& address, std::uint16_t port, const OutboundAddresses& outbound = {});
/// The pending error of a socket (SO_ERROR), 0 if none.
int socket_error(int fd);
/// Closes so that the peer sees a reset (SO_LINGER 0), for propagating a guest RST.
void close_with_reset(int fd);
/// TCP_NODELAY and keep-alive (idle 60 s, interval 10 s, 6 probes) on a host TCP socket.
void tune_tcp_socket(int fd);

}  // namespace usernet
