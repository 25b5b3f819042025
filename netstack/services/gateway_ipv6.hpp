// IPv6 autoconfiguration on the gateway: router advertisements (SLAAC, MTU, RDNSS, DNSSL),
// neighbour advertisements for the gateway's addresses, DHCPv6 (stateless and stateful) and
// echo replies, served from frames (lwIP runs IPv4 only). Any other IPv6 packet is counted:
// IPv6 NAT is not there yet.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dhcp/v6/server.hpp"
#include "netstack/base/uv_handles.hpp"
#include "netstack/ndp/neighbor_discovery.hpp"
#include "netstack/services/virtual_network.hpp"

namespace usernet {

/// IPv6 settings from the command line.
struct Ipv6Options {
  bool enabled = false;
  std::vector<std::string> search_domains;  // RA DNSSL and DHCPv6 domain list
  std::uint64_t advertise_interval_ms = 200'000;  // unsolicited RAs (RFC 4861 allows 4-1800 s)
};

struct GatewayIpv6Counters {
  std::uint64_t echo_replies = 0;
  std::uint64_t dhcp_bad_checksum = 0;  // UDP to port 547 with a wrong (or no) checksum
  std::uint64_t truncated = 0;          // shorter than its IPv6 or UDP header says
  std::uint64_t unhandled = 0;          // IPv6 traffic for no service here (no NAT66 yet)
};

/// The NDP and DHCPv6 engine configurations for a network.
ndp::Config make_ndp_config(const NetworkConfig& network, const Ipv6Options& options);
dhcp6::Config make_dhcp6_config(const NetworkConfig& network, const Ipv6Options& options);

class GatewayIpv6 final : public Ipv6Receiver {
 public:
  GatewayIpv6(VirtualNetwork& network, const Ipv6Options& options);
  ~GatewayIpv6() override;
  GatewayIpv6(const GatewayIpv6&) = delete;
  GatewayIpv6& operator=(const GatewayIpv6&) = delete;

  void receive_ipv6(ByteSpan frame) override;

  const ndp::NeighborDiscovery& neighbor_discovery() const { return ndp_; }
  const dhcp6::Server& dhcp() const { return dhcp_; }
  const GatewayIpv6Counters& counters() const { return counters_; }

 private:
  void on_udp(const Ipv6& source, const Ipv6& destination, ByteSpan datagram, const MacAddress& client_mac);
  void send(const MacAddress& destination, ByteSpan packet);
  void advertise();

  VirtualNetwork& network_;
  ndp::NeighborDiscovery ndp_;
  dhcp6::Server dhcp_;
  Timer advertiser_;
  GatewayIpv6Counters counters_;
};

}  // namespace usernet
