#include "netstack/base/address_map.hpp"

namespace usernet {

void AddressMap::add_translation(Ipv4 virtual_address, Ipv4 real_address) {
  translations_[virtual_address] = real_address;
}

std::optional<Ipv4> AddressMap::to_host(Ipv4 destination) const {
  if (deny_all_) return std::nullopt;
  if (auto it = translations_.find(destination); it != translations_.end()) return it->second;
  if (is_link_local(destination) && !allow_link_local_) return std::nullopt;
  // Never let a guest reach the host's loopback except through an explicit translation,
  // nor send to multicast/broadcast/"this network" through a unicast socket.
  if (is_loopback(destination) || is_multicast(destination) || destination == 0xffffffff ||
      (destination >> 24) == 0)
    return std::nullopt;
  return destination;
}

}  // namespace usernet
