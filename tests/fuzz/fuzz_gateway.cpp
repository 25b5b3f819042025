// Arbitrary Ethernet frames from a guest port into the switch, the gateway (lwIP) and the
// NAT hook, with DHCP and DNS served. NAT destinations are all refused, so fuzzing never
// opens a host socket; everything else (ARP, IPv4 parsing, fragments, TCP to the gateway,
// ICMP, DHCP, DNS) runs for real. The first byte of an input selects a frame template
// (raw, IPv4/TCP, IPv4/UDP to the gateway, ICMP) so that deep paths are reached.
#include <uv.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

extern "C" {
#include "lwip/ip4_frag.h"
}

#include "netstack/services/gateway_dhcp.hpp"
#include "netstack/services/gateway_dns.hpp"
#include "netstack/services/gateway_ipv6.hpp"
#include "netstack/services/virtual_network.hpp"

using namespace usernet;

namespace {

struct NullPort : SwitchPort {
  bool send_frame(ByteSpan) override { return true; }
  std::string describe() const override { return "fuzz"; }
};

struct World {
  uv_loop_t* loop = uv_default_loop();
  std::unique_ptr<VirtualNetwork> network;
  std::unique_ptr<GatewayDhcp> dhcp;
  std::unique_ptr<GatewayDns> dns;
  std::unique_ptr<GatewayIpv6> ipv6;  // raw frames with the IPv6 EtherType reach it
  NullPort port;
  PortId id = 0;

  World() {
    NetworkConfig config;
    config.nat_disabled = true;
    network = std::make_unique<VirtualNetwork>(loop, config);
    dhcp = std::make_unique<GatewayDhcp>(*network, make_dhcp_config(config, DhcpOptions{}));
    DnsOptions dns_options;
    dns_options.upstream = {"127.0.0.1:1"};  // never reached: only local names resolve in time
    dns = std::make_unique<GatewayDns>(*network, dns_options);
    Ipv6Options ipv6_options;
    ipv6_options.enabled = true;
    ipv6 = std::make_unique<GatewayIpv6>(*network, ipv6_options);
    id = network->network_switch().attach(port);
  }
};

std::vector<std::uint8_t> with_headers(std::uint8_t kind, const std::uint8_t* data, std::size_t size) {
  static const std::uint8_t eth[14] = {0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xdd, 0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xee, 0x08, 0x00};
  std::vector<std::uint8_t> frame(eth, eth + 14);
  if (kind % 4 == 0) {  // raw: the fuzzer writes the Ethernet header too
    frame.assign(data, data + size);
    return frame;
  }
  const std::uint8_t protocol = kind % 4 == 1 ? 6 : kind % 4 == 2 ? 17 : 1;
  const std::size_t total = 20 + size;
  const std::uint8_t ip[20] = {0x45, 0, static_cast<std::uint8_t>(total >> 8), static_cast<std::uint8_t>(total),
                               0, 1, static_cast<std::uint8_t>(kind & 0x20 ? 0x20 : 0), 0, 64, protocol, 0, 0,
                               192, 168, 127, 2, 192, 168, 127, static_cast<std::uint8_t>(kind & 0x10 ? 1 : 9)};
  frame.insert(frame.end(), ip, ip + 20);
  frame.insert(frame.end(), data, data + size);
  return frame;
}

}  // namespace

/// lwIP links queued fragments through helper structs written into their IP headers, at
/// unaligned offsets: LeakSanitizer follows pointers there only when told to, or it reports
/// the queue as leaked (libFuzzer's per-input check did, after a million inputs).
extern "C" const char* __lsan_default_options() { return "use_unaligned=1"; }

/// The exit-time scan needs no such help once the queue has expired.
void drain_reassembly_queue() {
  for (int i = 0; i <= IP_REASS_MAXAGE; ++i) ip_reass_tmr();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World world;
  static const int registered = std::atexit(drain_reassembly_queue);
  (void)registered;
  if (size == 0) return 0;
  const auto frame = with_headers(data[0], data + 1, size - 1);
  world.network->network_switch().receive(world.id, frame);
  uv_run(world.loop, UV_RUN_NOWAIT);
  return 0;
}
