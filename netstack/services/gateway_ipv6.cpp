#include "netstack/services/gateway_ipv6.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "netstack/base/byte_order.hpp"
#include "netstack/base/domain_name.hpp"
#include "netstack/ndp/icmpv6.hpp"

namespace usernet {

namespace {
constexpr std::uint8_t kNextHeaderUdp = 17;
constexpr std::size_t kUdpHeader = 8;

/// A UDP datagram over IPv6 (checksum mandatory, RFC 8200 §8.1).
std::vector<std::uint8_t> udp6_packet(const Ipv6& source, std::uint16_t source_port, const Ipv6& destination,
                                      std::uint16_t destination_port, ByteSpan payload) {
  std::vector<std::uint8_t> datagram;
  datagram.reserve(kUdpHeader + payload.size());
  append_be16(datagram, source_port);
  append_be16(datagram, destination_port);
  append_be16(datagram, static_cast<std::uint16_t>(kUdpHeader + payload.size()));
  append_be16(datagram, 0);  // checksum, filled in below
  datagram.insert(datagram.end(), payload.begin(), payload.end());
  std::uint16_t checksum = ndp::ipv6_checksum(source, destination, kNextHeaderUdp, datagram);
  if (checksum == 0) checksum = 0xffff;  // 0 means "none", which IPv6 forbids
  datagram[6] = static_cast<std::uint8_t>(checksum >> 8);
  datagram[7] = static_cast<std::uint8_t>(checksum);
  return ndp::build_ipv6(source, destination, 64, kNextHeaderUdp, datagram);
}
/// The search domains an RA (DNSSL) and DHCPv6 can carry: valid DNS names, at most 1 KiB
/// of them encoded (a host's resolv.conf may hold anything).
std::vector<std::string> usable_search_domains(const std::vector<std::string>& domains) {
  constexpr std::size_t kBudget = 1024;
  std::vector<std::string> usable;
  std::size_t size = 0;
  for (const std::string& domain : domains) {
    const auto wire = encode_domain_name(domain);
    if (!wire || size + wire->size() > kBudget) continue;
    size += wire->size();
    usable.push_back(domain);
  }
  return usable;
}
}  // namespace

ndp::Config make_ndp_config(const NetworkConfig& network, const Ipv6Options& options) {
  ndp::Config c;
  c.gateway_mac = network.gateway_mac;
  c.mtu = network.mtu;
  c.prefix = network.ipv6_prefix;
  c.addresses = {network.ipv6_gateway_ip, network.ipv6_host_alias};
  c.dns_servers = {network.ipv6_gateway_ip};
  c.search_domains = usable_search_domains(options.search_domains);
  return c;
}

dhcp6::Config make_dhcp6_config(const NetworkConfig& network, const Ipv6Options& options) {
  dhcp6::Config c;
  c.server_mac = network.gateway_mac;
  c.search_domains = usable_search_domains(options.search_domains);
  return c;
}

GatewayIpv6::GatewayIpv6(VirtualNetwork& network, const Ipv6Options& options)
    : network_(network),
      ndp_(make_ndp_config(network.config(), options)),
      dhcp_(make_dhcp6_config(network.config(), options)),
      advertiser_(network.loop(), [this] { advertise(); }) {
  network_.gateway().set_ipv6_receiver(this);
  network_.nat().set_ipv6_gateway_addresses({ndp_.config().link_local, network.config().ipv6_gateway_ip});
  // No guest may send from the router's or the host alias's IPv6 addresses.
  const MacAddress& mac = network.config().gateway_mac;
  network_.network_switch().reserve_ip(ndp_.config().link_local, mac);
  for (const Ipv6& address : ndp_.config().addresses) network_.network_switch().reserve_ip(address, mac);
  advertiser_.start(0, options.advertise_interval_ms);  // one at once for guests already up
  advertiser_.unref();
  spdlog::info("usernet: IPv6 prefix {} router {} (RA, DHCPv6, NAT66 for TCP, UDP and ping)",
               ndp_.config().prefix.to_string(), format_ipv6(ndp_.config().link_local));
}

GatewayIpv6::~GatewayIpv6() { network_.gateway().set_ipv6_receiver(nullptr); }

void GatewayIpv6::send(const MacAddress& destination, ByteSpan packet) {
  std::vector<std::uint8_t> frame;
  frame.reserve(kEthernetHeaderSize + packet.size());
  frame.insert(frame.end(), destination.begin(), destination.end());
  const MacAddress& source = network_.config().gateway_mac;
  frame.insert(frame.end(), source.begin(), source.end());
  frame.push_back(0x86);
  frame.push_back(0xdd);
  frame.insert(frame.end(), packet.begin(), packet.end());
  network_.gateway().transmit(frame);
}

void GatewayIpv6::solicit_neighbor(const Ipv6& target) {
  const ndp::Output solicitation = ndp_.neighbor_solicitation(target);
  send(solicitation.destination_mac, solicitation.packet);
}

void GatewayIpv6::advertise() {
  const ndp::Output ra = ndp_.periodic_advertisement(uv_now(network_.loop()));
  send(ra.destination_mac, ra.packet);
}

void GatewayIpv6::receive_ipv6(ByteSpan frame) {
  ndp::PacketError error{};
  const auto ip = ndp::parse_ipv6_header(frame.subspan(kEthernetHeaderSize), error);
  if (!ip) {
    counters_.truncated++;
    return;
  }
  // The packet without Ethernet padding, for the engine that takes bytes.
  const ByteSpan packet = frame.subspan(kEthernetHeaderSize, ndp::kIpv6HeaderSize + ip->payload.size());
  const MacAddress client_mac = frame_source(frame);
  network_.gateway().learn_ipv6_neighbor(ip->source, client_mac);
  const Ipv6& source = ip->source;
  const Ipv6& destination = ip->destination;
  const std::uint8_t next_header = ip->next_header;
  const std::uint64_t now = uv_now(network_.loop());
  const bool echo_request = next_header == ndp::kNextHeaderIcmpv6 && !ip->payload.empty() &&
                            ip->payload[0] == static_cast<std::uint8_t>(ndp::Icmpv6Type::echo_request);
  if (echo_request && is_router_address(destination)) {
    // Only the router itself answers here: a ping to the host alias or beyond goes to the
    // NAT (a ping socket), never a fake reply from here.
    const auto request = ndp::icmpv6_of(*ip, error);
    if (const auto reply = request ? ndp::echo_reply(*request, destination) : std::nullopt) {
      counters_.echo_replies++;
      send(client_mac, *reply);
    } else {
      counters_.bad_echo++;
    }
    return;
  }
  if (next_header == ndp::kNextHeaderIcmpv6 && !echo_request) {
    if (auto out = ndp_.handle(packet, client_mac, now)) send(out->destination_mac, out->packet);
    return;
  }
  const ByteSpan payload = ip->payload;
  if (next_header == kNextHeaderUdp && payload.size() >= kUdpHeader &&
      load_be16(&payload[2]) == dhcp6::kServerPort) {
    on_udp(source, destination, payload, client_mac);
    return;
  }
  if (is_router_address(destination)) {
    counters_.to_gateway++;
    network_.gateway().input_ipv6(packet);
    return;
  }
  // Routed through the host: unicast beyond the link, from an address in the guests'
  // prefix (on-link destinations are the switch's, link-local sources cannot be routed).
  const NetworkConfig& config = network_.config();
  const bool on_link = is_multicast(destination) || is_link_local(destination) ||
                       (config.ipv6_prefix.contains(destination) && destination != config.ipv6_host_alias);
  // An IPv4-mapped destination would be an IPv4 flow to the NAT: never from an IPv6 packet.
  const bool ipv4_mapped = IpAddress::from_v6(destination).is_v4();
  if (on_link || ipv4_mapped || !config.ipv6_prefix.contains(source)) {
    counters_.not_routed++;
    return;
  }
  counters_.forwarded++;
  network_.gateway().input_ipv6(packet);
}

bool GatewayIpv6::is_router_address(const Ipv6& address) const {
  return address == ndp_.config().link_local || address == network_.config().ipv6_gateway_ip;
}

void GatewayIpv6::on_udp(const Ipv6& source, const Ipv6& destination, ByteSpan datagram,
                         const MacAddress& client_mac) {
  const std::size_t length = load_be16(&datagram[4]);
  if (length < kUdpHeader || length > datagram.size()) {
    counters_.truncated++;
    return;
  }
  datagram = datagram.first(length);
  if (load_be16(&datagram[6]) == 0 || ndp::ipv6_checksum(source, destination, kNextHeaderUdp, datagram) != 0) {
    counters_.dhcp_bad_checksum++;
    return;
  }
  auto reply = dhcp_.handle(datagram.subspan(kUdpHeader), uv_now(network_.loop()));
  if (!reply) return;
  // RFC 8415 §18.3.10: to the client's address and port; from our link-local address.
  send(client_mac, udp6_packet(ndp_.config().link_local, dhcp6::kServerPort, source, load_be16(&datagram[0]), *reply));
}

}  // namespace usernet
