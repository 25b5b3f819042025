// IPv4 addresses and subnets as host-byte-order integers, with text conversion.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace usernet {

/// An IPv4 address in host byte order (192.168.127.1 == 0xc0a87f01).
using Ipv4 = std::uint32_t;

/// Parses a dotted quad ("192.168.127.1"); nullopt on anything else.
std::optional<Ipv4> parse_ipv4(std::string_view text);
std::string format_ipv4(Ipv4 address);

/// Builds an address from its four octets.
constexpr Ipv4 make_ipv4(unsigned a, unsigned b, unsigned c, unsigned d) {
  return (a << 24) | (b << 16) | (c << 8) | d;
}

/// A network prefix such as 192.168.127.0/24.
struct Ipv4Subnet {
  Ipv4 network = 0;
  unsigned prefix_length = 0;

  Ipv4 netmask() const { return prefix_length == 0 ? 0 : ~Ipv4{0} << (32 - prefix_length); }
  Ipv4 broadcast() const { return network | ~netmask(); }
  bool contains(Ipv4 address) const { return (address & netmask()) == network; }
  /// The n-th address of the subnet (1 = first host).
  Ipv4 host(std::uint32_t n) const { return network + n; }
  std::string to_string() const;
};

/// Parses "a.b.c.d/n" (host bits must be zero); nullopt on anything else.
std::optional<Ipv4Subnet> parse_ipv4_subnet(std::string_view text);

/// 169.254.0.0/16
constexpr bool is_link_local(Ipv4 address) { return (address >> 16) == 0xa9fe; }
constexpr bool is_loopback(Ipv4 address) { return (address >> 24) == 127; }
constexpr bool is_multicast(Ipv4 address) { return (address >> 28) == 0xe; }

}  // namespace usernet
