// What an SSH unix-socket forward is (gvproxy's -forward-sock/-forward-dest/-forward-user/
// -forward-identity): a host unix socket whose connections become SSH direct-streamlocal
// channels to a unix socket inside the guest, over one SSH connection to the guest's
// sshd made through the virtual network. Also the retry schedule used while that sshd
// is not up yet. Pure data and rules; no sockets, no libssh.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "netstack/base/ipv4.hpp"
#include "netstack/base/result.hpp"

namespace usernet {

struct SshForwardSpec {
  std::string socket_path;    // host unix socket we listen on (mode 0600)
  std::string dest_path;      // guest unix socket each channel connects to
  std::string user;           // SSH user in the guest
  std::string identity_file;  // private key file (no passphrase)
  Ipv4 guest_ip = 0;          // where the guest's sshd listens
  std::uint16_t guest_port = 22;
};

/// The flags as given: repeatable, and the i-th of each list belong together.
struct SshForwardFlags {
  std::vector<std::string> sockets, dests, users, identities;
};

/// Pairs the repeated flags into specs for the guest at `guest_ip`. The lists must have
/// equal lengths, no empty item, socket paths that fit sockaddr_un and differ from each
/// other; otherwise the error names the problem.
Result<std::vector<SshForwardSpec>> make_ssh_forwards(const SshForwardFlags& flags, Ipv4 guest_ip);

/// How often one connection attempt tries to reach the guest's sshd before giving up.
constexpr int kSshConnectTries = 60;
/// Delay before try number `attempt` (0-based; try 0 starts at once): 100 ms doubling
/// up to 1 s, so 60 tries wait about 56 s in total.
std::uint32_t ssh_retry_delay_ms(int attempt);

}  // namespace usernet
