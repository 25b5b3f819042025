#include "netstack/ndp/neighbor_discovery.hpp"

#include <algorithm>
#include <stdexcept>

#include "netstack/base/byte_order.hpp"
#include "netstack/base/domain_name.hpp"

namespace usernet::ndp {

namespace {
enum class OptionType : std::uint8_t {
  source_link_address = 1,
  target_link_address = 2,
  prefix_information = 3,
  mtu = 5,
  rdnss = 25,
  dnssl = 31,
};

constexpr std::uint8_t kAdvertisedHopLimit = 64;
constexpr std::uint8_t kManagedFlag = 0x80, kOtherConfigFlag = 0x40;
constexpr std::uint8_t kOnLinkFlag = 0x80, kAutonomousFlag = 0x40;
constexpr std::uint8_t kRouterFlag = 0x80, kSolicitedFlag = 0x40, kOverrideFlag = 0x20;
constexpr std::size_t kSolicitationHeader = 8;  // type, code, checksum, reserved
constexpr std::size_t kNeighborSolicitationSize = 24;

void put_bytes(std::vector<std::uint8_t>& out, ByteSpan bytes) { out.insert(out.end(), bytes.begin(), bytes.end()); }

/// Starts an option; its length byte is set by end_option once the body is in.
std::size_t begin_option(std::vector<std::uint8_t>& out, OptionType type) {
  out.push_back(static_cast<std::uint8_t>(type));
  out.push_back(0);
  return out.size() - 2;
}
/// Pads the option to a multiple of 8 bytes and stores its length in those units.
void end_option(std::vector<std::uint8_t>& out, std::size_t start) {
  while ((out.size() - start) % 8 != 0) out.push_back(0);
  out[start + 1] = static_cast<std::uint8_t>((out.size() - start) / 8);
}

void put_link_address(std::vector<std::uint8_t>& out, OptionType type, const MacAddress& mac) {
  const std::size_t start = begin_option(out, type);
  put_bytes(out, mac);
  end_option(out, start);
}

/// The RA message (RFC 4861 §4.2) with its options; the checksum is left to build_icmpv6.
std::vector<std::uint8_t> build_advertisement(const Config& c) {
  std::vector<std::uint8_t> m{static_cast<std::uint8_t>(Icmpv6Type::router_advertisement), 0, 0, 0};
  m.push_back(kAdvertisedHopLimit);
  m.push_back(static_cast<std::uint8_t>((c.managed ? kManagedFlag : 0) | (c.other_config ? kOtherConfigFlag : 0)));
  append_be16(m, c.router_lifetime_s);
  append_be32(m, 0);  // reachable time: unspecified
  append_be32(m, 0);  // retransmission timer: unspecified
  put_link_address(m, OptionType::source_link_address, c.gateway_mac);
  std::size_t start = begin_option(m, OptionType::mtu);
  append_be16(m, 0);
  append_be32(m, c.mtu);
  end_option(m, start);
  start = begin_option(m, OptionType::prefix_information);
  m.push_back(static_cast<std::uint8_t>(c.prefix.length));
  m.push_back(kOnLinkFlag | kAutonomousFlag);
  append_be32(m, c.prefix_valid_lifetime_s);
  append_be32(m, c.prefix_preferred_lifetime_s);
  append_be32(m, 0);
  put_bytes(m, c.prefix.network);
  end_option(m, start);
  if (!c.dns_servers.empty()) {  // RFC 8106 §5.1
    start = begin_option(m, OptionType::rdnss);
    append_be16(m, 0);
    append_be32(m, c.dns_lifetime_s);
    for (const Ipv6& server : c.dns_servers) put_bytes(m, server);
    end_option(m, start);
  }
  if (!c.search_domains.empty()) {  // RFC 8106 §5.2; names padded with zeros
    start = begin_option(m, OptionType::dnssl);
    append_be16(m, 0);
    append_be32(m, c.dns_lifetime_s);
    for (const std::string& domain : c.search_domains) put_bytes(m, *encode_domain_name(domain));
    end_option(m, start);
  }
  return m;
}

/// Walks the options from `offset`: every one must have a non-zero length inside the
/// message (RFC 4861 §6.1.1). Sets `source_link` to a source link-layer address option.
bool read_options(ByteSpan message, std::size_t offset, std::optional<MacAddress>& source_link) {
  while (offset < message.size()) {
    if (message.size() - offset < 2) return false;
    const std::size_t length = std::size_t{message[offset + 1]} * 8;
    if (length == 0 || length > message.size() - offset) return false;
    if (message[offset] == static_cast<std::uint8_t>(OptionType::source_link_address) && length == 8) {
      MacAddress mac;
      std::copy_n(&message[offset + 2], mac.size(), mac.begin());
      source_link = mac;
    }
    offset += length;
  }
  return true;
}
}  // namespace

Status Config::validate() const {
  if (!is_link_local(link_local)) return Error{"the router address " + format_ipv6(link_local) + " is not link-local"};
  if (prefix.length != 64)
    return Error{"the prefix " + prefix.to_string() + " must be a /64: guests form SLAAC addresses only in one"};
  if (mtu < 1280) return Error{"an IPv6 link needs an MTU of at least 1280, not " + std::to_string(mtu)};
  if (dns_servers.size() > 127) return Error{"too many DNS servers for one RDNSS option"};
  if (prefix_preferred_lifetime_s > prefix_valid_lifetime_s)
    return Error{"the prefix's preferred lifetime exceeds its valid lifetime"};
  std::size_t dnssl_size = 8;
  for (const std::string& domain : search_domains) {
    const auto wire = encode_domain_name(domain);
    if (!wire) return Error{"the search domain '" + domain + "' is not a valid DNS name"};
    dnssl_size += wire->size();
  }
  if (dnssl_size > std::size_t{255} * 8) return Error{"the search domains do not fit one DNSSL option"};
  return {};
}

NeighborDiscovery::NeighborDiscovery(Config config) : config_(std::move(config)) {
  if (const Status valid = config_.validate(); !valid) throw std::invalid_argument(valid.error());
  advertisement_ = build_advertisement(config_);
}

bool NeighborDiscovery::is_gateway_address(const Ipv6& address) const {
  if (address == config_.link_local) return true;
  for (const Ipv6& own : config_.addresses)
    if (own == address) return true;
  return false;
}

std::optional<Output> NeighborDiscovery::drop(Drop reason) {
  counters_.drops[static_cast<std::size_t>(reason)]++;
  return std::nullopt;
}

std::optional<Output> NeighborDiscovery::handle(ByteSpan packet, const MacAddress& source_mac,
                                                std::uint64_t now_ms) {
  PacketError error{};
  const auto in = parse_icmpv6(packet, error);
  if (!in) return drop(error == PacketError::bad_checksum ? Drop::bad_checksum : Drop::malformed);
  const auto type = static_cast<Icmpv6Type>(in->message[0]);
  if (type != Icmpv6Type::router_solicitation && type != Icmpv6Type::neighbor_solicitation)
    return drop(Drop::unhandled_type);
  if (in->hop_limit != kNdHopLimit) return drop(Drop::bad_hop_limit);
  if (in->message[1] != 0) return drop(Drop::bad_code);
  if (type == Icmpv6Type::router_solicitation) return on_router_solicitation(*in, source_mac, now_ms);
  return on_neighbor_solicitation(*in, source_mac);
}

std::optional<Output> NeighborDiscovery::on_router_solicitation(const Icmpv6Packet& in, const MacAddress& source_mac,
                                                                std::uint64_t now_ms) {
  counters_.router_solicitations++;
  if (in.message.size() < kSolicitationHeader) return drop(Drop::malformed);
  std::optional<MacAddress> source_link;
  if (!read_options(in.message, kSolicitationHeader, source_link)) return drop(Drop::bad_option);
  if (is_unspecified(in.source)) {
    // A host without an address yet: no link-layer option allowed; answer all nodes.
    if (source_link) return drop(Drop::invalid);
    if (last_multicast_ms_ && now_ms - *last_multicast_ms_ < config_.min_multicast_interval_ms)
      return drop(Drop::rate_limited);
    return periodic_advertisement(now_ms);
  }
  if (is_multicast(in.source)) return drop(Drop::invalid);
  counters_.router_advertisements++;
  return Output{build_icmpv6(config_.link_local, in.source, kNdHopLimit, advertisement_),
                source_link.value_or(source_mac)};
}

std::optional<Output> NeighborDiscovery::on_neighbor_solicitation(const Icmpv6Packet& in,
                                                                  const MacAddress& source_mac) {
  counters_.neighbor_solicitations++;
  if (in.message.size() < kNeighborSolicitationSize) return drop(Drop::malformed);
  Ipv6 target;
  std::copy_n(&in.message[8], target.size(), target.begin());
  if (is_multicast(target) || is_multicast(in.source)) return drop(Drop::invalid);
  std::optional<MacAddress> source_link;
  if (!read_options(in.message, kNeighborSolicitationSize, source_link)) return drop(Drop::bad_option);
  const bool duplicate_address_detection = is_unspecified(in.source);
  if (duplicate_address_detection && (in.destination != solicited_node_multicast(target) || source_link))
    return drop(Drop::invalid);
  if (!is_gateway_address(target)) return drop(Drop::not_ours);

  std::vector<std::uint8_t> m{static_cast<std::uint8_t>(Icmpv6Type::neighbor_advertisement), 0, 0, 0};
  // A probe for one of our addresses (a guest about to take it) learns it is in use from
  // an unsolicited advertisement to all nodes (RFC 4861 §7.2.4).
  m.push_back(duplicate_address_detection ? kRouterFlag | kOverrideFlag : kRouterFlag | kSolicitedFlag | kOverrideFlag);
  m.insert(m.end(), 3, 0);
  put_bytes(m, target);
  put_link_address(m, OptionType::target_link_address, config_.gateway_mac);
  counters_.neighbor_advertisements++;
  if (duplicate_address_detection)
    return Output{build_icmpv6(target, kAllNodes, kNdHopLimit, std::move(m)), multicast_mac(kAllNodes)};
  return Output{build_icmpv6(target, in.source, kNdHopLimit, std::move(m)), source_link.value_or(source_mac)};
}

Output NeighborDiscovery::neighbor_solicitation(const Ipv6& target) {
  std::vector<std::uint8_t> m{static_cast<std::uint8_t>(Icmpv6Type::neighbor_solicitation), 0, 0, 0, 0, 0, 0, 0};
  put_bytes(m, target);
  put_link_address(m, OptionType::source_link_address, config_.gateway_mac);
  counters_.neighbor_solicitations_sent++;
  const Ipv6 group = solicited_node_multicast(target);
  return Output{build_icmpv6(config_.link_local, group, kNdHopLimit, std::move(m)), multicast_mac(group)};
}

Output NeighborDiscovery::periodic_advertisement(std::uint64_t now_ms) {
  last_multicast_ms_ = now_ms;
  counters_.router_advertisements++;
  return Output{build_icmpv6(config_.link_local, kAllNodes, kNdHopLimit, advertisement_), multicast_mac(kAllNodes)};
}

}  // namespace usernet::ndp
