// IPv6 on the gateway: router advertisements (SLAAC, MTU, RDNSS, DNSSL), neighbour
// advertisements for the gateway's addresses, DHCPv6 (stateless and stateful) and echo
// replies, served from frames; packets for the gateway's services (DNS) and for addresses
// beyond the link go on to the NAT (TCP and UDP through host sockets, NAT66). The rest is
// counted.
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
  std::string off_reason;  // why IPv6 is off when nobody said --no-ipv6 (logged at start)
  std::vector<std::string> search_domains;  // RA DNSSL and DHCPv6 domain list
  std::uint64_t advertise_interval_ms = 200'000;  // unsolicited RAs (RFC 4861 allows 4-1800 s)
};

struct GatewayIpv6Counters {
  std::uint64_t echo_replies = 0;
  std::uint64_t dhcp_bad_checksum = 0;  // UDP to port 547 with a wrong (or no) checksum
  std::uint64_t truncated = 0;          // shorter than its IPv6 or UDP header says
  std::uint64_t bad_echo = 0;            // echo requests to the router failing ICMPv6 checks
  std::uint64_t not_routed = 0;          // on-link or multicast destinations, sources outside the prefix
  std::uint64_t to_gateway = 0;          // to the gateway's services (DNS over UDP and TCP)
  std::uint64_t forwarded = 0;           // handed to the NAT
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
  void solicit_neighbor(const Ipv6& target) override;

  const ndp::NeighborDiscovery& neighbor_discovery() const { return ndp_; }
  const dhcp6::Server& dhcp() const { return dhcp_; }
  const GatewayIpv6Counters& counters() const { return counters_; }

 private:
  void on_udp(const Ipv6& source, const Ipv6& destination, ByteSpan datagram, const MacAddress& client_mac);
  void send(const MacAddress& destination, ByteSpan packet);
  void advertise();
  /// fe80::1 or the gateway's address in the prefix.
  bool is_router_address(const Ipv6& address) const;

  VirtualNetwork& network_;
  ndp::NeighborDiscovery ndp_;
  dhcp6::Server dhcp_;
  Timer advertiser_;
  GatewayIpv6Counters counters_;
};

}  // namespace usernet
