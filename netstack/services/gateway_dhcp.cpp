#include "netstack/services/gateway_dhcp.hpp"

#include <spdlog/spdlog.h>

#include <fstream>
#include <iterator>
#include <sstream>

#include "dns/resolv_conf.hpp"
#include "netstack/lwip/lwip_packet_io.hpp"

namespace usernet {

namespace {
constexpr std::uint16_t kServerPort = 67;
constexpr std::uint16_t kClientPort = 68;
}  // namespace

dhcp::Config make_dhcp_config(const NetworkConfig& n, const DhcpOptions& o) {
  dhcp::Config c;
  c.network = n.subnet.network;
  c.prefix_length = static_cast<std::uint8_t>(n.subnet.prefix_length);
  c.gateway = n.router();
  c.server_id = n.gateway_ip;
  c.dns_servers = {n.gateway_ip};
  c.mtu = static_cast<std::uint16_t>(n.mtu);
  c.lease_time_s = o.lease_time_s;
  c.static_leases = {{n.first_guest_mac, n.first_guest_ip}};
  for (const auto& lease : o.static_leases) {
    std::erase_if(c.static_leases, [&](const dhcp::StaticLease& l) { return l.mac == lease.mac; });
    c.static_leases.push_back(lease);
  }
  c.excluded = {n.host_alias};
  if (n.router() != n.gateway_ip && n.router() != n.host_alias) c.excluded.push_back(n.router());
  for (const auto& [virtual_ip, real_ip] : n.extra_translations) c.excluded.push_back(virtual_ip);
  c.search_domains = o.search_domains;
  if (!o.search_domains.empty()) c.domain_name = o.search_domains.front();
  c.classless_routes = o.routes;
  c.pool_first = o.pool_first;
  c.pool_last = o.pool_last;
  return c;
}

std::optional<dhcp::StaticLease> parse_static_lease(std::string_view text) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  auto mac = parse_mac(text.substr(0, eq));
  auto ip = parse_ipv4(text.substr(eq + 1));
  if (!mac || !ip) return std::nullopt;
  return dhcp::StaticLease{*mac, *ip};
}

std::optional<dhcp::ClasslessRoute> parse_classless_route(std::string_view text) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  auto subnet = parse_ipv4_subnet(text.substr(0, eq));
  auto router = parse_ipv4(text.substr(eq + 1));
  if (!subnet || !router) return std::nullopt;
  return dhcp::ClasslessRoute{subnet->network, static_cast<std::uint8_t>(subnet->prefix_length), *router};
}

std::vector<std::string> search_domains_from_resolv_conf(std::string_view text) {
  return dns::parse_resolv_conf(text).search;
}

std::vector<std::string> host_search_domains() {
  std::ifstream file("/etc/resolv.conf");
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  return search_domains_from_resolv_conf(text);
}

GatewayDhcp::GatewayDhcp(VirtualNetwork& network, dhcp::Config config)
    : network_(network), server_(std::move(config)) {
  network_.services().add_udp_service(kServerPort, [this](const UdpRequest& r) { on_request(r); });
  network_.network_switch().set_address_owners(this);
}

GatewayDhcp::~GatewayDhcp() { network_.network_switch().set_address_owners(nullptr); }

std::optional<MacAddress> GatewayDhcp::owner_of(Ipv4 ip) const { return server_.holder_of(ip, uv_now(network_.loop())); }

void GatewayDhcp::on_request(const UdpRequest& request) {
  if (request.source_port != kClientPort) return;
  auto reply = server_.handle(request.payload, uv_now(network_.loop()));
  if (server_.take_pool_exhausted_event()) spdlog::warn("DHCP: address pool exhausted; not answering new clients");
  if (!reply) return;
  const Ipv4 destination = reply->broadcast ? 0xffffffffu : reply->unicast_ip;
  send_udp_to_guest(network_.gateway().lwip_netif(), network_.gateway().address(), kServerPort, destination,
                    kClientPort, reply->payload);
}

}  // namespace usernet
