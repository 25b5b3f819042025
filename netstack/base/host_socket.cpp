#include "netstack/base/host_socket.hpp"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace usernet {

sockaddr_in make_sockaddr(Ipv4 address, std::uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(address);
  sin.sin_port = htons(port);
  return sin;
}

bool bind_outbound(int fd, const IpAddress& destination, const OutboundAddresses& outbound) {
  std::optional<IpAddress> source;
  if (destination.is_v4() && outbound.v4) source = IpAddress::from_v4(*outbound.v4);
  if (!destination.is_v4() && outbound.v6) source = IpAddress::from_v6(*outbound.v6);
  if (!source) return true;
  const SocketAddress from = make_socket_address(*source, 0);
  return ::bind(fd, from.get(), from.length) == 0;
}

int start_tcp_connect(const IpAddress& address, std::uint16_t port, const OutboundAddresses& outbound) {
  const SocketAddress to = make_socket_address(address, port);
  const int fd = ::socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  tune_tcp_socket(fd);
  if (!bind_outbound(fd, address, outbound) ||
      (::connect(fd, to.get(), to.length) != 0 && errno != EINPROGRESS)) {
    const int error = errno;
    ::close(fd);
    return -error;
  }
  return fd;
}

int socket_error(int fd) {
  int error = 0;
  socklen_t len = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) return errno;
  return error;
}

void close_with_reset(int fd) {
  const linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

void tune_tcp_socket(int fd) {
  const int one = 1, idle = 60, interval = 10, count = 6;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

}  // namespace usernet
