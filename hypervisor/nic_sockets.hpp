// The sockets a VM's NICs need before QEMU starts: a socketpair per embedded-network NIC,
// a connected unix datagram socket per external usernetd/gvproxy (vfkit's
// unixSocketPath hand-off: bind a fresh local path next to the peer, connect, send "VFKT"),
// and the checks for a datagram socket inherited from the parent (vfkit's fd=N).
#pragma once

#include <string>

namespace usernet {

/// Both ends of a NIC socketpair (close-on-exec; the launcher maps QEMU's end explicitly).
struct NicSocketPair {
  int launcher_end = -1;
  int qemu_end = -1;
};

/// socketpair(AF_UNIX, SOCK_STREAM or SOCK_DGRAM); throws std::system_error.
NicSocketPair make_nic_socketpair(bool datagram);

/// A unixgram socket bound to a new path in the peer's directory ("usernet-vm-<pid>-<n>.sock",
/// returned in local_path so it can be removed at exit) and connected to peer_path,
/// with vfkit's 1 MiB send / 4 MiB receive buffers; sends the "VFKT" datagram if asked.
/// Throws std::runtime_error naming the path when the peer is not there.
int connect_unixgram_peer(const std::string& peer_path, bool vfkit_magic, std::string& local_path);

/// vfkit `fd=N`: checks that the inherited descriptor is a connected SOCK_DGRAM socket
/// (QEMU's -netdev dgram sends with no destination, so it must be connected) and marks it
/// close-on-exec, so QEMU gets it only where the launcher maps it. Throws ConfigError
/// (key "fd") naming N and what is wrong.
void adopt_inherited_dgram_socket(int fd);

}  // namespace usernet
