// Serves the DHCP engine (dhcp/) on the gateway: UDP 67 in, replies to port 68 by
// broadcast or unicast as the engine decides.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dhcp/server.hpp"
#include "netstack/services/virtual_network.hpp"

namespace usernet {

/// DHCP settings from the command line.
struct DhcpOptions {
  bool enabled = true;
  std::uint32_t lease_time_s = 3600;
  std::vector<dhcp::StaticLease> static_leases;  // besides first-guest MAC -> first-guest IP
  std::vector<std::string> search_domains;       // option 119 (and 15: the first one)
  std::vector<dhcp::ClasslessRoute> routes;      // option 121
  std::uint32_t pool_first = 0, pool_last = 0;   // --dhcp-range (0, 0: the whole subnet)
};

/// The engine configuration for a network: gateway as router, DNS server and server id;
/// the host alias never leased; the first guest MAC statically on the first guest IP.
dhcp::Config make_dhcp_config(const NetworkConfig& network, const DhcpOptions& options);

/// Parses "MAC=IP" (--dhcp-static-lease); nullopt if malformed.
std::optional<dhcp::StaticLease> parse_static_lease(std::string_view text);
/// Parses "NET/LEN=ROUTER" (--dhcp-route); nullopt if malformed.
std::optional<dhcp::ClasslessRoute> parse_classless_route(std::string_view text);
/// The domains of the last "search" (or "domain") line of a resolv.conf text.
std::vector<std::string> search_domains_from_resolv_conf(std::string_view text);
/// The search domains of the host's resolver (/etc/resolv.conf): what guests search too.
std::vector<std::string> host_search_domains();

/// Also tells the switch who holds which address, so no guest can send from another's lease.
class GatewayDhcp final : public AddressOwners {
 public:
  GatewayDhcp(VirtualNetwork& network, dhcp::Config config);
  ~GatewayDhcp() override;
  GatewayDhcp(const GatewayDhcp&) = delete;
  GatewayDhcp& operator=(const GatewayDhcp&) = delete;
  dhcp::Server& server() { return server_; }
  std::optional<MacAddress> owner_of(Ipv4 ip) const override;

 private:
  void on_request(const UdpRequest& request);
  VirtualNetwork& network_;
  dhcp::Server server_;
};

}  // namespace usernet
