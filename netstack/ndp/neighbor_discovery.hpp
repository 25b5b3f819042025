// The gateway's side of IPv6 neighbour discovery (RFC 4861) as a pure engine: a guest's
// router and neighbour solicitations go in, the router advertisement (prefix for SLAAC,
// MTU, RDNSS and DNSSL of RFC 8106, the O flag for stateless DHCPv6) or the neighbour
// advertisement comes out, with the Ethernet destination to send it to. It answers only
// for the gateway's own addresses, so a guest's duplicate address detection of its own
// address is never answered. No sockets, no clock: the caller passes the time.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "netstack/base/ethernet.hpp"
#include "netstack/base/ipv6.hpp"
#include "netstack/base/result.hpp"
#include "netstack/ndp/icmpv6.hpp"

namespace usernet::ndp {

struct Config {
  MacAddress gateway_mac{};
  /// Source of every advertisement and the guests' default router.
  Ipv6 link_local = *parse_ipv6("fe80::1");
  /// Advertised with the on-link and autonomous flags: guests form addresses in it.
  Ipv6Prefix prefix{*parse_ipv6("fd00::"), 64};
  /// Global addresses the gateway answers neighbour solicitations for: the gateway's own
  /// (also the DNS server) first, then aliases such as the host alias.
  std::vector<Ipv6> addresses{*parse_ipv6("fd00::1"), *parse_ipv6("fd00::254")};
  std::uint32_t mtu = 1500;
  /// RDNSS servers and DNSSL domains; empty lists are not sent.
  std::vector<Ipv6> dns_servers{*parse_ipv6("fd00::1")};
  std::vector<std::string> search_domains;
  /// Seconds (RFC 4861 §6.2.1 defaults: lifetime 3 × the 600 s maximum interval).
  std::uint16_t router_lifetime_s = 1800;
  std::uint32_t prefix_valid_lifetime_s = 86400;
  std::uint32_t prefix_preferred_lifetime_s = 14400;
  /// RDNSS/DNSSL lifetime; RFC 8106 §5.1 suggests at least 3 × the maximum interval.
  std::uint32_t dns_lifetime_s = 1800;
  /// The M flag: addresses from stateful DHCPv6 as well as SLAAC.
  bool managed = false;
  /// The O flag: DNS and domains also from stateless DHCPv6.
  bool other_config = true;
  /// At most one multicast advertisement per this interval (RFC 4861 MIN_DELAY_BETWEEN_RAS).
  std::uint64_t min_multicast_interval_ms = 3000;

  /// An error sentence when the values cannot make valid advertisements.
  Status validate() const;
};

/// A packet to send: an IPv6 packet (no Ethernet header) and the MAC it goes to.
struct Output {
  std::vector<std::uint8_t> packet;
  MacAddress destination_mac{};
};

/// Why an input got no answer.
enum class Drop : std::uint8_t {
  malformed,          // truncated, not ICMPv6, payload length beyond the packet
  bad_checksum,       //
  bad_hop_limit,      // not 255: a router forwarded it, or it was forged off-link
  bad_code,           // code not 0
  bad_option,         // an option of length 0 or running past the message
  invalid,            // a rule of RFC 4861 §6.1.1/§7.1.1 broken (e.g. multicast target)
  not_ours,           // a solicitation for an address the gateway does not hold
  rate_limited,       // a multicast advertisement too soon after the last
  unhandled_type,     // other ICMPv6 (echo, advertisements from guests): not for this engine
};
inline constexpr std::size_t kDropCount = 9;

struct Counters {
  std::uint64_t router_solicitations = 0;
  std::uint64_t neighbor_solicitations = 0;
  std::uint64_t router_advertisements = 0;  // sent, solicited and periodic
  std::uint64_t neighbor_advertisements = 0;
  std::uint64_t neighbor_solicitations_sent = 0;  // the gateway resolving a guest address
  std::array<std::uint64_t, kDropCount> drops{};

  std::uint64_t drops_of(Drop reason) const { return drops[static_cast<std::size_t>(reason)]; }
};

class NeighborDiscovery {
 public:
  /// Throws std::invalid_argument with validate()'s message when `config` is unusable.
  explicit NeighborDiscovery(Config config);

  /// Handles one IPv6 packet from a guest whose frame came from `source_mac`. nullopt when
  /// there is nothing to send (counted in counters()).
  std::optional<Output> handle(ByteSpan packet, const MacAddress& source_mac, std::uint64_t now_ms);

  /// The unsolicited advertisement to all nodes, for the caller's periodic timer.
  Output periodic_advertisement(std::uint64_t now_ms);

  /// A solicitation of `target`'s MAC (from the link-local address, to its solicited-node
  /// group, with the gateway's MAC as source link-layer option so the answer needs no
  /// resolution of its own).
  Output neighbor_solicitation(const Ipv6& target);

  /// True when `address` is one the gateway answers for (its link-local or a configured one).
  bool is_gateway_address(const Ipv6& address) const;

  const Counters& counters() const { return counters_; }
  const Config& config() const { return config_; }

 private:
  std::optional<Output> on_router_solicitation(const Icmpv6Packet& in, const MacAddress& source_mac,
                                               std::uint64_t now_ms);
  std::optional<Output> on_neighbor_solicitation(const Icmpv6Packet& in, const MacAddress& source_mac);
  std::optional<Output> drop(Drop reason);

  Config config_;
  std::vector<std::uint8_t> advertisement_;  // the RA's ICMPv6 message, built once
  std::optional<std::uint64_t> last_multicast_ms_;
  Counters counters_;
};

}  // namespace usernet::ndp
