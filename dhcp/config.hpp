// Configuration of the DHCP server engine and its validation. Defaults are gvproxy's:
// 192.168.127.0/24, gateway/server/DNS .1, host alias .254 never leased, a static lease
// 5a:94:ef:e4:0c:ee -> .2, lease time 3600 s, MTU 1500.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dhcp/options.hpp"
#include "netstack/base/ethernet.hpp"
#include "netstack/base/result.hpp"

namespace usernet::dhcp {

/// Builds a host-order IPv4 address from its dotted parts.
constexpr std::uint32_t ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return (std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d;
}

/// "192.168.127.2" form of a host-order address.
std::string format_ipv4(std::uint32_t address);

/// A fixed MAC -> IP binding.
struct StaticLease {
  MacAddress mac{};
  std::uint32_t ip = 0;
};

struct Config {
  std::uint32_t network = ipv4(192, 168, 127, 0);
  std::uint8_t prefix_length = 24;
  std::uint32_t gateway = ipv4(192, 168, 127, 1);
  /// Option 54 and the address clients unicast to; normally the gateway.
  std::uint32_t server_id = ipv4(192, 168, 127, 1);
  std::vector<std::uint32_t> dns_servers{ipv4(192, 168, 127, 1)};
  /// Option 15; empty: not sent.
  std::string domain_name;
  /// Option 119; empty: not sent.
  std::vector<std::string> search_domains;
  /// Option 26; also caps the reply size.
  std::uint16_t mtu = 1500;
  std::uint32_t lease_time_s = 3600;
  std::vector<StaticLease> static_leases{{{0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xee}, ipv4(192, 168, 127, 2)}};
  /// The dynamic pool, first and last address (0, 0: every host address of the subnet);
  /// static leases may lie outside it. slirp4netns's layout leases from .15 to .30.
  std::uint32_t pool_first = 0;
  std::uint32_t pool_last = 0;
  /// Addresses never handed out besides network, broadcast, gateway and server id.
  std::vector<std::uint32_t> excluded{ipv4(192, 168, 127, 254)};
  /// Option 121; empty: not sent. A default route via the gateway is added when missing,
  /// because clients that use option 121 ignore option 3 (RFC 3442).
  std::vector<ClasslessRoute> classless_routes;
  /// How long a DECLINEd address stays out of the pool.
  std::uint64_t decline_hold_ms = std::uint64_t{10} * 60 * 1000;
  /// How long an OFFERed address stays reserved for the client it was offered to.
  std::uint64_t offer_hold_ms = std::uint64_t{60} * 1000;

  /// Subnet mask in host order.
  std::uint32_t netmask() const;
  /// Directed broadcast address of the subnet.
  std::uint32_t broadcast() const;
  /// True when `address` is inside the subnet (network and broadcast included).
  bool contains(std::uint32_t address) const;
};

/// Longest option 119 value the configuration may ask for (4 option instances).
inline constexpr std::size_t kMaxSearchListBytes = 1020;
/// Longest option 121 value the configuration may ask for.
inline constexpr std::size_t kMaxClasslessRoutesBytes = 1020;

/// Checks a configuration; when unusable, the error is one sentence naming the first problem.
Status validate(const Config& config);

/// Checks that `lease` could be added to `config` as a static lease: an assignable address
/// in the subnet, not already bound statically to another MAC; otherwise the error says why.
Status validate_static_lease(const Config& config, const StaticLease& lease);

}  // namespace usernet::dhcp
