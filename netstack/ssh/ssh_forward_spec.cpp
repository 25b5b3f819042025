#include "netstack/ssh/ssh_forward_spec.hpp"

#include <sys/un.h>

#include <algorithm>
#include <set>

namespace usernet {

Result<std::vector<SshForwardSpec>> make_ssh_forwards(const SshForwardFlags& flags, Ipv4 guest_ip) {
  const std::size_t count = flags.sockets.size();
  if (flags.dests.size() != count || flags.users.size() != count || flags.identities.size() != count) {
    return Error{
        "--forward-sock, --forward-dest, --forward-user and --forward-identity must be given the same "
        "number of times (got " +
        std::to_string(count) + ", " + std::to_string(flags.dests.size()) + ", " + std::to_string(flags.users.size()) +
        ", " + std::to_string(flags.identities.size()) + ")"};
  }
  std::vector<SshForwardSpec> specs;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < count; ++i) {
    SshForwardSpec spec{flags.sockets[i], flags.dests[i], flags.users[i], flags.identities[i], guest_ip, 22};
    const std::string which = " #" + std::to_string(i + 1);
    if (spec.socket_path.empty() || spec.dest_path.empty() || spec.user.empty() || spec.identity_file.empty()) {
      return Error{"SSH forward" + which + ": socket, destination, user and identity must not be empty"};
    }
    if (spec.socket_path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return Error{"--forward-sock '" + spec.socket_path + "': path too long for a unix socket"};
    }
    if (!seen.insert(spec.socket_path).second) {
      return Error{"--forward-sock '" + spec.socket_path + "': given twice"};
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

std::uint32_t ssh_retry_delay_ms(int attempt) {
  if (attempt <= 0) return 0;
  std::uint32_t delay = 100;
  for (int i = 1; i < attempt && delay < 1000; ++i) delay *= 2;
  return std::min<std::uint32_t>(delay, 1000);
}

}  // namespace usernet
