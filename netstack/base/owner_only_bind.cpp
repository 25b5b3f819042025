#include "netstack/base/owner_only_bind.hpp"

#include <sys/stat.h>

#include <cerrno>

namespace usernet {

int with_owner_only_umask(const std::function<int()>& bind_call) {
  const mode_t previous = ::umask(0177);
  const int result = bind_call();
  const int error = errno;
  ::umask(previous);
  errno = error;
  return result;
}

int bind_owner_only(int fd, const sockaddr* address, socklen_t length) {
  return with_owner_only_umask([&] { return ::bind(fd, address, length); });
}

}  // namespace usernet
