#include "netstack/base/address_map.hpp"

#include <algorithm>

#include "netstack/base/byte_order.hpp"

namespace usernet {

void AddressMap::add_translation(Ipv4 virtual_address, Ipv4 real_address) {
  translations_[virtual_address] = real_address;
}

std::optional<Ipv4> AddressMap::to_host(Ipv4 destination) const {
  if (deny_all_) return std::nullopt;
  if (auto it = translations_.find(destination); it != translations_.end()) return it->second;
  if (gateway_aliases_.contains(destination)) return std::nullopt;
  if (is_link_local(destination) && !allow_link_local_) return std::nullopt;
  // Never let a guest reach the host's loopback except through an explicit translation,
  // nor send to multicast/broadcast/"this network" through a unicast socket.
  if (is_loopback(destination) || is_multicast(destination) || destination == 0xffffffff ||
      (destination >> 24) == 0)
    return std::nullopt;
  return destination;
}

void AddressMap::set_nat64(const Ipv6Prefix& prefix, const Ipv4Subnet& guest_subnet) {
  nat64_prefix_ = prefix;
  guest_subnet_ = guest_subnet;
}

void AddressMap::add_translation(const Ipv6& virtual_address, const Ipv6& real_address) {
  translations6_[virtual_address] = real_address;
}

std::optional<IpAddress> AddressMap::to_host(const IpAddress& destination) const {
  if (destination.is_v4()) {
    auto real = to_host(destination.v4());
    return real ? std::optional(IpAddress::from_v4(*real)) : std::nullopt;
  }
  if (deny_all_) return std::nullopt;
  const Ipv6& address = destination.v6();
  if (auto it = translations6_.find(address); it != translations6_.end()) return IpAddress::from_v6(it->second);
  if (nat64_prefix_ && nat64_prefix_->contains(address)) {
    const Ipv4 embedded = load_be32(address.data() + 12);
    if (guest_subnet_.contains(embedded) && !translations_.contains(embedded)) return std::nullopt;
    auto real = to_host(embedded);
    return real ? std::optional(IpAddress::from_v4(*real)) : std::nullopt;
  }
  if (is_link_local(address) && !allow_link_local_) return std::nullopt;
  constexpr Ipv6 kLoopback{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  // ::/96, the deprecated IPv4-compatible form (also :: and ::1). IPv4-mapped addresses
  // (::ffff:0:0/96) are IPv4 to IpAddress and took the branch above.
  const bool ipv4_compatible = std::all_of(address.begin(), address.begin() + 12, [](std::uint8_t b) { return b == 0; });
  if (address == kLoopback || is_multicast(address) || ipv4_compatible ||
      (guest_prefix_ && guest_prefix_->contains(address)))
    return std::nullopt;
  return destination;
}

}  // namespace usernet
