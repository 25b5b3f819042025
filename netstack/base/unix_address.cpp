#include "netstack/base/unix_address.hpp"

#include <sys/socket.h>

#include <cstring>

namespace usernet {

std::optional<sockaddr_un> unix_address(std::string_view path) {
  sockaddr_un address{};
  if (path.size() >= sizeof address.sun_path) return std::nullopt;
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());  // the zeroed tail terminates it
  return address;
}

}  // namespace usernet
