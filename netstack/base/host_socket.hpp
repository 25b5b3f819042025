// Non-blocking host sockets for the NAT and port forwards.
#pragma once

#include <netinet/in.h>

#include <cstdint>

#include "netstack/base/ip_address.hpp"
#include "netstack/base/ipv4.hpp"

namespace usernet {

sockaddr_in make_sockaddr(Ipv4 address, std::uint16_t port);
/// Starts a non-blocking TCP connect; returns the fd, or -errno if it failed at once.
int start_tcp_connect(const IpAddress& address, std::uint16_t port);
/// The pending error of a socket (SO_ERROR), 0 if none.
int socket_error(int fd);
/// Closes so that the peer sees a reset (SO_LINGER 0), for propagating a guest RST.
void close_with_reset(int fd);
/// TCP_NODELAY and keep-alive (idle 60 s, interval 10 s, 6 probes) on a host TCP socket.
void tune_tcp_socket(int fd);

}  // namespace usernet
