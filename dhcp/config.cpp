#include "dhcp/config.hpp"

#include <algorithm>

namespace usernet::dhcp {

namespace {

inline constexpr std::uint8_t kMinPrefixLength = 8;
inline constexpr std::uint8_t kMaxPrefixLength = 30;
inline constexpr std::uint16_t kMinMtu = 576;
inline constexpr std::uint16_t kMaxMtu = 65520;
inline constexpr std::uint32_t kMinLeaseTimeS = 60;
/// 0xffffffff means "infinite" on the wire (RFC 2132 §9.2); we never grant that.
inline constexpr std::uint32_t kMaxLeaseTimeS = 0xfffffffe;

std::uint32_t prefix_mask(std::uint8_t prefix_length) {
  return prefix_length == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix_length);
}

/// Fails with why `address` can never be handed to a client under `config` ("is the gateway").
/// "5a:94:ef:e4:0c:ee" form (format_mac lives in usernet_netstack, which dhcp/ must not link).
std::string mac_text(const MacAddress& mac) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  for (const std::uint8_t byte : mac) {
    if (!text.empty()) text += ':';
    text += kHex[byte >> 4];
    text += kHex[byte & 0x0f];
  }
  return text;
}

Status check_assignable(const Config& config, std::uint32_t address) {
  if (!config.contains(address)) return Error{"is outside the subnet"};
  if (address == config.network) return Error{"is the network address"};
  if (address == config.broadcast()) return Error{"is the broadcast address"};
  if (address == config.gateway) return Error{"is the gateway"};
  if (address == config.server_id) return Error{"is the server identifier"};
  if (std::find(config.excluded.begin(), config.excluded.end(), address) != config.excluded.end()) {
    return Error{"is excluded"};
  }
  return {};
}

Status validate_subnet(const Config& c) {
  if (c.prefix_length < kMinPrefixLength || c.prefix_length > kMaxPrefixLength) {
    return Error{"prefix length /" + std::to_string(c.prefix_length) + " is outside /8../30"};
  }
  if ((c.network & ~c.netmask()) != 0) {
    return Error{"network " + format_ipv4(c.network) + "/" + std::to_string(c.prefix_length) + " has host bits set"};
  }
  for (const auto& [name, address] : {std::pair{"gateway", c.gateway}, {"server id", c.server_id}}) {
    if (!c.contains(address) || address == c.network || address == c.broadcast()) {
      return Error{std::string(name) + " " + format_ipv4(address) + " is not a host address of the subnet"};
    }
  }
  for (const std::uint32_t address : c.excluded) {
    if (!c.contains(address)) return Error{"excluded address " + format_ipv4(address) + " is outside the subnet"};
  }
  if (c.pool_first != 0 || c.pool_last != 0) {
    const bool inside = c.contains(c.pool_first) && c.contains(c.pool_last) && c.pool_first != c.network &&
                        c.pool_last != c.broadcast();
    if (!inside || c.pool_first > c.pool_last)
      return Error{"pool " + format_ipv4(c.pool_first) + "-" + format_ipv4(c.pool_last) +
                   " is not a range of host addresses of the subnet"};
  }
  return {};
}

Status validate_options(const Config& c) {
  if (c.dns_servers.empty()) return Error{"no DNS server configured"};
  if (c.dns_servers.size() * 4 > kMaxOptionInstance) return Error{"too many DNS servers (at most 63)"};
  if (!c.domain_name.empty() && !is_valid_domain_name(c.domain_name)) {
    return Error{"domain name \"" + c.domain_name + "\" is not a valid DNS name"};
  }
  for (const std::string& domain : c.search_domains) {
    if (!is_valid_domain_name(domain)) return Error{"search domain \"" + domain + "\" is not a valid DNS name"};
  }
  if (const auto search = encode_domain_search(c.search_domains);
      search && search->size() > kMaxSearchListBytes) {
    return Error{"search list encodes to " + std::to_string(search->size()) + " bytes, more than " +
                 std::to_string(kMaxSearchListBytes)};
  }
  if (c.mtu < kMinMtu || c.mtu > kMaxMtu) {
    return Error{"MTU " + std::to_string(c.mtu) + " is outside " + std::to_string(kMinMtu) + ".." +
                 std::to_string(kMaxMtu)};
  }
  if (c.lease_time_s < kMinLeaseTimeS || c.lease_time_s > kMaxLeaseTimeS) {
    return Error{"lease time " + std::to_string(c.lease_time_s) + " s is outside " + std::to_string(kMinLeaseTimeS) +
                 ".." + std::to_string(kMaxLeaseTimeS) + " s"};
  }
  for (const ClasslessRoute& route : c.classless_routes) {
    const std::string text = format_ipv4(route.destination) + "/" + std::to_string(route.prefix_length);
    if (route.prefix_length > 32) return Error{"route " + text + " has a prefix longer than 32"};
    if ((route.destination & ~prefix_mask(route.prefix_length)) != 0) {
      return Error{"route " + text + " has bits set beyond its prefix"};
    }
  }
  if (encode_classless_routes(c.classless_routes).size() > kMaxClasslessRoutesBytes) {
    return Error{"classless routes encode to more than " + std::to_string(kMaxClasslessRoutesBytes) + " bytes"};
  }
  return {};
}

}  // namespace

std::string format_ipv4(std::uint32_t address) {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 0xff) + "." +
         std::to_string((address >> 8) & 0xff) + "." + std::to_string(address & 0xff);
}

std::uint32_t Config::netmask() const { return prefix_mask(prefix_length); }

std::uint32_t Config::broadcast() const { return network | ~netmask(); }

bool Config::contains(std::uint32_t address) const { return (address & netmask()) == network; }

Status validate_static_lease(const Config& config, const StaticLease& lease) {
  if (lease.mac == MacAddress{} || is_group_address(lease.mac)) {
    return Error{"static lease MAC " + mac_text(lease.mac) + " is not a unicast address"};
  }
  if (const Status assignable = check_assignable(config, lease.ip); !assignable) {
    return Error{"static lease " + format_ipv4(lease.ip) + " for " + mac_text(lease.mac) + " " + assignable.error()};
  }
  for (const StaticLease& other : config.static_leases) {
    if (other.ip == lease.ip && other.mac != lease.mac) {
      return Error{"static lease " + format_ipv4(lease.ip) + " for " + mac_text(lease.mac) + " is already bound to " +
                   mac_text(other.mac)};
    }
  }
  return {};
}

Status validate(const Config& config) {
  if (Status subnet = validate_subnet(config); !subnet) return subnet;
  if (Status options = validate_options(config); !options) return options;
  Config seen = config;
  seen.static_leases.clear();
  for (const StaticLease& lease : config.static_leases) {
    if (Status bindable = validate_static_lease(seen, lease); !bindable) return bindable;
    for (const StaticLease& earlier : seen.static_leases) {
      if (earlier.mac == lease.mac) return Error{"MAC " + mac_text(lease.mac) + " has two static leases"};
    }
    seen.static_leases.push_back(lease);
  }
  return {};
}

}  // namespace usernet::dhcp
