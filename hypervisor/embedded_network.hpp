// The usernet network inside usernet-vm: a VirtualNetwork with the gateway's DHCP and
// DNS services and the host -> guest port forwards, configured from usernetd's network flags, plus one
// switch port per VM NIC on the launcher's end of a socketpair.
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "hypervisor/vm_config.hpp"
#include "netstack/daemon/daemon_options.hpp"

namespace usernet {

class EmbeddedNetwork {
 public:
  /// Builds the network and its services; throws std::runtime_error on bad settings.
  EmbeddedNetwork(uv_loop_t* loop, const DaemonOptions& options);
  ~EmbeddedNetwork();
  EmbeddedNetwork(const EmbeddedNetwork&) = delete;
  EmbeddedNetwork& operator=(const EmbeddedNetwork&) = delete;

  /// Attaches the launcher's end of a NIC socketpair as a switch port (takes the fd):
  /// stream = 4-byte big-endian length framing, dgram = one frame per datagram.
  void attach_nic(int fd, EmbeddedSocket socket, const std::string& description);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace usernet
