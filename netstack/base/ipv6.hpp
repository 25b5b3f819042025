// IPv6 addresses as 16 network-order bytes, with text conversion and the few address
// classes the neighbour discovery and NAT layers test for.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "netstack/base/ethernet.hpp"

namespace usernet {

/// An IPv6 address in network byte order (as on the wire).
using Ipv6 = std::array<std::uint8_t, 16>;

/// Parses RFC 4291 text ("fd00::1", "::ffff:1.2.3.4"); nullopt on anything else.
std::optional<Ipv6> parse_ipv6(std::string_view text);
/// RFC 5952 text ("fd00::1").
std::string format_ipv6(const Ipv6& address);

inline constexpr Ipv6 kUnspecifiedIpv6{};
/// ff02::1, every node on the link.
inline constexpr Ipv6 kAllNodes{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
/// ff02::2, every router on the link.
inline constexpr Ipv6 kAllRouters{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};

constexpr bool is_unspecified(const Ipv6& a) { return a == kUnspecifiedIpv6; }
constexpr bool is_multicast(const Ipv6& a) { return a[0] == 0xff; }
/// fe80::/10
constexpr bool is_link_local(const Ipv6& a) { return a[0] == 0xfe && (a[1] & 0xc0) == 0x80; }

/// ff02::1:ffXX:XXXX, where a node listens for neighbour solicitations of `a` (RFC 4291 §2.7.1).
constexpr Ipv6 solicited_node_multicast(const Ipv6& a) {
  return {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, a[13], a[14], a[15]};
}

/// The Ethernet destination of an IPv6 multicast address: 33:33 and its low 32 bits (RFC 2464 §7).
constexpr MacAddress multicast_mac(const Ipv6& a) { return {0x33, 0x33, a[12], a[13], a[14], a[15]}; }

/// A prefix such as fd00::/64; bits past the length are zero.
struct Ipv6Prefix {
  Ipv6 network{};
  unsigned length = 0;

  bool contains(const Ipv6& address) const;
  std::string to_string() const;
};

/// Parses "fd00::/64" (host bits must be zero); nullopt on anything else.
std::optional<Ipv6Prefix> parse_ipv6_prefix(std::string_view text);

}  // namespace usernet
