#include "hypervisor/nic_sockets.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "hypervisor/config_error.hpp"
#include "netstack/base/owner_only_bind.hpp"
#include "netstack/base/unix_address.hpp"

namespace usernet {

namespace {

/// The sockaddr_un for a path; throws when the path does not fit.
sockaddr_un checked_unix_address(const std::string& path) {
  const auto address = unix_address(path);
  if (!address) throw std::runtime_error("unix socket path too long: " + path);
  return *address;
}

/// The directory part of a path ("." when there is none).
std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

NicSocketPair make_nic_socketpair(bool datagram) {
  int fds[2];
  if (::socketpair(AF_UNIX, (datagram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0, fds) != 0) {
    throw std::system_error(errno, std::generic_category(), "socketpair");
  }
  return NicSocketPair{fds[0], fds[1]};
}

int connect_unixgram_peer(const std::string& peer_path, bool vfkit_magic, std::string& local_path) {
  static std::atomic<unsigned> counter{0};
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  try {
    const std::string dir = directory_of(peer_path);
    local_path = dir + "/usernet-vm-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".sock";
    ::unlink(local_path.c_str());
    const sockaddr_un local = checked_unix_address(local_path);
    if (bind_owner_only(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
      throw std::runtime_error("bind " + local_path + ": " + std::strerror(errno));
    }
    const sockaddr_un peer = checked_unix_address(peer_path);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&peer), sizeof peer) != 0) {
      throw std::runtime_error("virtio-net: cannot reach " + peer_path + ": " + std::strerror(errno));
    }
    const int send_buffer = 1 << 20, receive_buffer = 4 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    if (vfkit_magic && ::send(fd, "VFKT", 4, 0) != 4) {
      throw std::runtime_error("virtio-net: sending VFKT to " + peer_path + ": " + std::strerror(errno));
    }
  } catch (...) {
    ::close(fd);
    if (!local_path.empty()) ::unlink(local_path.c_str());
    throw;
  }
  return fd;
}

void adopt_inherited_dgram_socket(int fd) {
  const std::string what = "virtio-net fd=" + std::to_string(fd) + ": ";
  int type = 0;
  socklen_t length = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0) {
    throw ConfigError("fd", what + (errno == EBADF ? "no such descriptor (not inherited from the parent?)"
                                                   : "not a socket (" + std::string(std::strerror(errno)) + ")"));
  }
  if (type != SOCK_DGRAM) throw ConfigError("fd", what + "not a datagram (SOCK_DGRAM) socket");
  sockaddr_storage peer{};
  socklen_t peer_length = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_length) != 0) {
    throw ConfigError("fd", what + "the socket is not connected (" + std::strerror(errno) + ")");
  }
  const int flags = ::fcntl(fd, F_GETFD);
  if (flags < 0 || ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0) {
    throw ConfigError("fd", what + "fcntl: " + std::strerror(errno));
  }
}

}  // namespace usernet
