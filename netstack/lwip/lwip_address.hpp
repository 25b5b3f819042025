// The one conversion between our addresses (netstack/base/ipv4.hpp, ip_address.hpp) and
// lwIP's ip_addr_t (network byte order inside, dual-stack: it carries its family).
#pragma once

#include <arpa/inet.h>

#include <cstring>

#include "netstack/base/ip_address.hpp"
#include "netstack/base/ipv4.hpp"

extern "C" {
#include "lwip/ip_addr.h"
}

namespace usernet {

inline ip_addr_t to_lwip_address(Ipv4 address) {
  ip_addr_t out;
  ip_addr_set_ip4_u32_val(out, htonl(address));
  return out;
}

inline ip_addr_t to_lwip_address(const IpAddress& address) {
  if (address.is_v4()) return to_lwip_address(address.v4());
  ip_addr_t out;
  std::memset(&out, 0, sizeof out);
  IP_SET_TYPE_VAL(out, IPADDR_TYPE_V6);
  std::memcpy(ip_2_ip6(&out)->addr, address.v6().data(), 16);
  return out;
}

/// The address of either family an lwIP address holds.
inline IpAddress from_lwip_address(const ip_addr_t& address) {
  if (IP_IS_V6_VAL(address)) {
    Ipv6 bytes;
    std::memcpy(bytes.data(), ip_2_ip6(&address)->addr, 16);
    return IpAddress::from_v6(bytes);
  }
  return IpAddress::from_v4(ntohl(ip4_addr_get_u32(ip_2_ip4(&address))));
}

/// The IPv4 address an lwIP address holds (the NAT's IPv4-only parts: services, API).
inline Ipv4 from_lwip_ipv4(const ip_addr_t& address) { return ntohl(ip4_addr_get_u32(ip_2_ip4(&address))); }

}  // namespace usernet
