// The one conversion between our IPv4 addresses (host byte order, netstack/base/ipv4.hpp)
// and lwIP's ip_addr_t (network byte order inside).
#pragma once

#include <arpa/inet.h>

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

inline Ipv4 from_lwip_address(const ip_addr_t& address) { return ntohl(ip4_addr_get_u32(ip_2_ip4(&address))); }

}  // namespace usernet
