#include "hypervisor/embedded_network.hpp"

#include <spdlog/spdlog.h>

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <vector>

#include "netstack/services/gateway_dhcp.hpp"
#include "netstack/services/gateway_dns.hpp"
#include "netstack/services/host_resolver_follower.hpp"
#include "netstack/services/port_forwarder.hpp"
#include "netstack/services/virtual_network.hpp"

#include "vsock/transport/datagram_port.hpp"
#include "vsock/transport/peer_set.hpp"
#include "vsock/transport/port_context.hpp"
#include "vsock/transport/stream_port.hpp"

namespace usernet {

namespace {

}  // namespace

struct EmbeddedNetwork::State {
  State(uv_loop_t* loop, const DaemonOptions& options) : network(loop, options.network) {}
  VirtualNetwork network;
  std::unique_ptr<GatewayDhcp> dhcp;
  std::unique_ptr<GatewayDns> dns;
  std::unique_ptr<ResolvConfWatcher> host_resolver;  // after dns/dhcp: goes first
  std::unique_ptr<PortForwarder> forwarder;
  TransportCounters counters;
  std::unique_ptr<PeerSet> peers;  // owns the NIC ports
};

EmbeddedNetwork::EmbeddedNetwork(uv_loop_t* loop, const DaemonOptions& options)
    : state_(std::make_unique<State>(loop, options)) {
  VirtualNetwork& network = state_->network;
  if (options.dhcp.enabled) {
    auto dhcp_options = options.dhcp;
    if (options.search_from_host) dhcp_options.search_domains = host_search_domains();
    state_->dhcp = std::make_unique<GatewayDhcp>(network, make_dhcp_config(options.network, dhcp_options));
  }
  if (options.dns.enabled) state_->dns = std::make_unique<GatewayDns>(network, options.dns);
  state_->host_resolver = follow_host_resolver(loop, options.dns.resolv_conf,
                                               options.dns.upstream.empty() ? state_->dns.get() : nullptr,
                                               options.search_from_host ? state_->dhcp.get() : nullptr);
  state_->forwarder = std::make_unique<PortForwarder>(network);
  for (const auto& spec : options.forwards) {
    if (auto error = state_->forwarder->add(spec)) throw std::runtime_error("--forward: " + *error);
  }
  state_->peers = std::make_unique<PeerSet>(loop, network.end_of_turn());
  spdlog::info("usernet: gateway {} subnet {} mtu {}", format_ipv4(options.network.gateway_ip),
               options.network.subnet.to_string(), options.network.mtu);
}

EmbeddedNetwork::~EmbeddedNetwork() {
  state_->peers.reset();  // ports detach from the switch before it goes
  state_->forwarder.reset();
}

void EmbeddedNetwork::attach_nic(int fd, EmbeddedSocket socket, const std::string& description) {
  VirtualNetwork& network = state_->network;
  PortContext context{network.loop(), network.network_switch(), *state_->peers, state_->counters,
                      network.config().max_frame()};
  if (socket == EmbeddedSocket::stream) {
    auto port = std::make_unique<StreamPort>(context, fd, fd, LengthPrefix::be32, description);
    auto& added = static_cast<StreamPort&>(state_->peers->add(std::move(port)));
    added.start();
  } else {
    auto port = std::make_unique<DatagramPort>(context, fd, DatagramPort::Mode::connected, description);
    auto& added = static_cast<DatagramPort&>(state_->peers->add(std::move(port)));
    added.start();
  }
}

}  // namespace usernet
