#include "vsock/transport/socket_address.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace usernet {

SocketAddress unix_socket_address(const std::string& path) {
  SocketAddress address;
  auto* un = reinterpret_cast<sockaddr_un*>(&address.storage);
  un->sun_family = AF_UNIX;
  const std::size_t n = std::min(path.size(), sizeof(un->sun_path) - 1);
  std::memcpy(un->sun_path, path.data(), n);
  address.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n + 1);
  return address;
}

SocketAddress socket_address_for(const TransportUrl& url) {
  SocketAddress address;
  switch (url.scheme) {
    case UrlScheme::unix_stream:
    case UrlScheme::unixgram:
    case UrlScheme::unixpacket:
      return unix_socket_address(url.path);
    case UrlScheme::tcp: {
      auto* in4 = reinterpret_cast<sockaddr_in*>(&address.storage);
      if (inet_pton(AF_INET, url.host.c_str(), &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(url.port);
        address.length = sizeof(sockaddr_in);
        return address;
      }
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
      if (inet_pton(AF_INET6, url.host.c_str(), &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(url.port);
        address.length = sizeof(sockaddr_in6);
        return address;
      }
      throw std::runtime_error("bad URL '" + url.text + "': host is not an IP address");
    }
    case UrlScheme::vsock: {
      auto* vm = reinterpret_cast<sockaddr_vm*>(&address.storage);
      vm->svm_family = AF_VSOCK;
      vm->svm_cid = url.cid;
      vm->svm_port = url.port;
      address.length = sizeof(sockaddr_vm);
      return address;
    }
  }
  return address;
}

int socket_type_for(UrlScheme scheme) {
  switch (scheme) {
    case UrlScheme::unixgram: return SOCK_DGRAM;
    case UrlScheme::unixpacket: return SOCK_SEQPACKET;
    default: return SOCK_STREAM;
  }
}

std::string errno_text(int error) {
  char buffer[128];
  // GNU strerror_r returns the message (which may or may not be buffer).
  return strerror_r(error, buffer, sizeof buffer);
}

bool set_nonblocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

void enlarge_socket_buffers(int fd, int bytes) {
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

int connect_stream(const TransportUrl& url) {
  if (socket_type_for(url.scheme) != SOCK_STREAM)
    throw std::runtime_error("cannot connect to '" + url.text + "': not a stream URL");
  const SocketAddress address = socket_address_for(url);
  const int fd = socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket for '" + url.text + "': " + errno_text(errno));
  if (connect(fd, address.get(), address.length) != 0) {
    const int error = errno;
    close(fd);
    throw std::runtime_error("connect to '" + url.text + "': " + errno_text(error));
  }
  return fd;
}

}  // namespace usernet
