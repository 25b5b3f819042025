#include "dns/socket_reserve.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace usernet::dns {

SocketReserve::SocketReserve(std::size_t size) : size_(size) { refill(); }

SocketReserve::~SocketReserve() {
  for (int fd : held_) ::close(fd);
}

void SocketReserve::refill() {
  while (held_.size() < size_) {
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;  // still short of descriptors: try again at the next close
    held_.push_back(fd);
  }
}

int SocketReserve::open_socket(int domain, int type, int protocol) {
  type |= SOCK_NONBLOCK | SOCK_CLOEXEC;
  int fd = ::socket(domain, type, protocol);
  while (fd < 0 && (errno == EMFILE || errno == ENFILE) && !held_.empty()) {
    ::close(held_.back());
    held_.pop_back();
    fd = ::socket(domain, type, protocol);
    if (fd >= 0) ++rescues_;
  }
  return fd;
}

int SocketReserve::close_socket(int fd) {
  int result = ::close(fd);
  refill();
  return result;
}

}  // namespace usernet::dns
