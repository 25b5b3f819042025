// The neighbour discovery engine against packets built here, with a checksum and an option
// reader written apart from the code under test.
#include "netstack/ndp/neighbor_discovery.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

using namespace usernet;
using namespace usernet::ndp;

namespace {
using Bytes = std::vector<std::uint8_t>;

const MacAddress kGatewayMac{0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xdd};
const MacAddress kGuestMac{0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xee};
const Ipv6 kGuestLinkLocal = *parse_ipv6("fe80::5894:efff:fee4:cee");

std::uint16_t be16(const Bytes& b, std::size_t at) { return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]); }
std::uint32_t be32(const Bytes& b, std::size_t at) {
  return (std::uint32_t{be16(b, at)} << 16) | be16(b, at + 2);
}

/// RFC 1071 over the RFC 8200 §8.1 pseudo-header and the message.
std::uint16_t checksum(const Ipv6& src, const Ipv6& dst, const Bytes& message) {
  Bytes all(src.begin(), src.end());
  all.insert(all.end(), dst.begin(), dst.end());
  const auto n = static_cast<std::uint32_t>(message.size());
  for (int shift = 24; shift >= 0; shift -= 8) all.push_back(static_cast<std::uint8_t>(n >> shift));
  all.insert(all.end(), {0, 0, 0, 58});
  all.insert(all.end(), message.begin(), message.end());
  if (all.size() % 2 != 0) all.push_back(0);
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < all.size(); i += 2) sum += be16(all, i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

Bytes ipv6_packet(const Ipv6& src, const Ipv6& dst, Bytes message, std::uint8_t hop_limit = 255,
                  bool fill_checksum = true) {
  if (fill_checksum) {
    message[2] = message[3] = 0;
    const std::uint16_t c = checksum(src, dst, message);
    message[2] = static_cast<std::uint8_t>(c >> 8);
    message[3] = static_cast<std::uint8_t>(c);
  }
  Bytes p{0x60, 0, 0, 0, static_cast<std::uint8_t>(message.size() >> 8), static_cast<std::uint8_t>(message.size()),
          58, hop_limit};
  p.insert(p.end(), src.begin(), src.end());
  p.insert(p.end(), dst.begin(), dst.end());
  p.insert(p.end(), message.begin(), message.end());
  return p;
}

Bytes link_option(std::uint8_t type, const MacAddress& mac) {
  Bytes o{type, 1};
  o.insert(o.end(), mac.begin(), mac.end());
  return o;
}

Bytes router_solicitation(const Ipv6& src, bool with_link_option = true) {
  Bytes m{133, 0, 0, 0, 0, 0, 0, 0};
  if (with_link_option) {
    const Bytes o = link_option(1, kGuestMac);
    m.insert(m.end(), o.begin(), o.end());
  }
  return ipv6_packet(src, kAllRouters, m);
}

Bytes neighbor_solicitation(const Ipv6& src, const Ipv6& dst, const Ipv6& target, bool with_link_option = true) {
  Bytes m{135, 0, 0, 0, 0, 0, 0, 0};
  m.insert(m.end(), target.begin(), target.end());
  if (with_link_option) {
    const Bytes o = link_option(1, kGuestMac);
    m.insert(m.end(), o.begin(), o.end());
  }
  return ipv6_packet(src, dst, m);
}

/// A received ICMPv6 packet: header fields, the message, and its options by type.
struct Parsed {
  Ipv6 src{}, dst{};
  std::uint8_t hop_limit = 0;
  Bytes message;
  std::multimap<std::uint8_t, Bytes> options;  // type -> the whole option
};

Parsed parse(const Bytes& p, std::size_t options_at) {
  REQUIRE(p.size() >= 40);
  Parsed out;
  CHECK((p[0] >> 4) == 6);
  CHECK(p[6] == 58);
  out.hop_limit = p[7];
  std::copy_n(p.begin() + 8, 16, out.src.begin());
  std::copy_n(p.begin() + 24, 16, out.dst.begin());
  REQUIRE(be16(p, 4) == p.size() - 40);
  out.message.assign(p.begin() + 40, p.end());
  CHECK(checksum(out.src, out.dst, out.message) == 0);
  for (std::size_t at = options_at; at < out.message.size();) {
    REQUIRE(at + 2 <= out.message.size());
    const std::size_t length = out.message[at + 1] * std::size_t{8};
    REQUIRE(length > 0);
    REQUIRE(at + length <= out.message.size());
    out.options.emplace(out.message[at], Bytes(out.message.begin() + static_cast<std::ptrdiff_t>(at),
                                               out.message.begin() + static_cast<std::ptrdiff_t>(at + length)));
    at += length;
  }
  return out;
}

Config test_config() {
  Config c;
  c.gateway_mac = kGatewayMac;
  c.search_domains = {"containers.internal", "example.test"};
  c.mtu = 1500;
  return c;
}
}  // namespace

TEST_CASE("NDP: a router solicitation gets an advertisement with prefix, MTU, RDNSS, DNSSL and the O flag") {
  NeighborDiscovery nd(test_config());
  const auto out = nd.handle(router_solicitation(kGuestLinkLocal), kGuestMac, 1000);
  REQUIRE(out);
  CHECK(out->destination_mac == kGuestMac);  // unicast, to the solicitor's link-layer address
  const Parsed ra = parse(out->packet, 16);
  CHECK(ra.src == *parse_ipv6("fe80::1"));
  CHECK(ra.dst == kGuestLinkLocal);
  CHECK(ra.hop_limit == 255);
  CHECK(ra.message[0] == 134);
  CHECK(ra.message[1] == 0);
  CHECK(ra.message[4] == 64);                 // current hop limit for the guest
  CHECK(ra.message[5] == 0x40);               // O, not M
  CHECK(be16(ra.message, 6) == 1800);         // router lifetime: a default router
  REQUIRE(ra.options.count(1) == 1);          // source link-layer address
  CHECK(Bytes(ra.options.find(1)->second.begin() + 2, ra.options.find(1)->second.end()) ==
        Bytes(kGatewayMac.begin(), kGatewayMac.end()));
  REQUIRE(ra.options.count(5) == 1);
  CHECK(be32(ra.options.find(5)->second, 4) == 1500);
  REQUIRE(ra.options.count(3) == 1);
  const Bytes& prefix = ra.options.find(3)->second;
  CHECK(prefix.size() == 32);
  CHECK(prefix[2] == 64);
  CHECK(prefix[3] == 0xc0);  // on-link and autonomous: SLAAC
  CHECK(be32(prefix, 4) == 86400);
  CHECK(be32(prefix, 8) == 14400);
  CHECK(Bytes(prefix.begin() + 16, prefix.end()) == Bytes{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  REQUIRE(ra.options.count(25) == 1);
  const Bytes& rdnss = ra.options.find(25)->second;
  CHECK(rdnss.size() == 24);
  CHECK(be32(rdnss, 4) == 1800);
  const Ipv6 dns = *parse_ipv6("fd00::1");
  CHECK(Bytes(rdnss.begin() + 8, rdnss.end()) == Bytes(dns.begin(), dns.end()));
  REQUIRE(ra.options.count(31) == 1);
  const Bytes& dnssl = ra.options.find(31)->second;
  CHECK(dnssl.size() % 8 == 0);
  const std::string names(dnssl.begin() + 8, dnssl.end());
  CHECK(names.substr(0, 35) == std::string("\x0a" "containers" "\x08" "internal" "\x00" "\x07" "example" "\x04" "test" "\x00", 35));
  CHECK(names.find_first_not_of('\0', 35) == std::string::npos);  // zero padding only
  CHECK(nd.counters().router_solicitations == 1);
  CHECK(nd.counters().router_advertisements == 1);
}

TEST_CASE("NDP: a solicitation from the unspecified address is answered to all nodes, at most every 3 s") {
  NeighborDiscovery nd(test_config());
  const auto first = nd.handle(router_solicitation(kUnspecifiedIpv6, false), kGuestMac, 10'000);
  REQUIRE(first);
  CHECK(first->destination_mac == MacAddress{0x33, 0x33, 0, 0, 0, 1});
  CHECK(parse(first->packet, 16).dst == kAllNodes);
  CHECK_FALSE(nd.handle(router_solicitation(kUnspecifiedIpv6, false), kGuestMac, 11'000));
  CHECK(nd.counters().drops_of(Drop::rate_limited) == 1);
  CHECK(nd.handle(router_solicitation(kUnspecifiedIpv6, false), kGuestMac, 13'000));
  // RFC 4861 §6.1.1: no source link-layer option from the unspecified address.
  CHECK_FALSE(nd.handle(router_solicitation(kUnspecifiedIpv6, true), kGuestMac, 20'000));
  CHECK(nd.counters().drops_of(Drop::invalid) == 1);
}

TEST_CASE("NDP: the periodic advertisement goes to all nodes from the link-local router address") {
  NeighborDiscovery nd(test_config());
  const Output out = nd.periodic_advertisement(0);
  const Parsed ra = parse(out.packet, 16);
  CHECK(ra.src == *parse_ipv6("fe80::1"));
  CHECK(ra.dst == kAllNodes);
  CHECK(ra.message[0] == 134);
  CHECK(out.destination_mac == multicast_mac(kAllNodes));
}

TEST_CASE("NDP: a neighbour solicitation for a gateway address gets a solicited neighbour advertisement") {
  NeighborDiscovery nd(test_config());
  for (const char* text : {"fe80::1", "fd00::1", "fd00::254"}) {
    const Ipv6 target = *parse_ipv6(text);
    const auto out = nd.handle(neighbor_solicitation(kGuestLinkLocal, solicited_node_multicast(target), target),
                               kGuestMac, 0);
    REQUIRE(out);
    CHECK(out->destination_mac == kGuestMac);
    const Parsed na = parse(out->packet, 24);
    CHECK(na.message[0] == 136);
    CHECK(na.message[4] == 0xe0);  // router, solicited, override
    CHECK(Bytes(na.message.begin() + 8, na.message.begin() + 24) == Bytes(target.begin(), target.end()));
    CHECK(na.src == target);
    CHECK(na.dst == kGuestLinkLocal);
    REQUIRE(na.options.count(2) == 1);
    CHECK(Bytes(na.options.find(2)->second.begin() + 2, na.options.find(2)->second.end()) ==
          Bytes(kGatewayMac.begin(), kGatewayMac.end()));
  }
  CHECK(nd.counters().neighbor_advertisements == 3);
}

TEST_CASE("NDP: the gateway solicits a guest address from its link-local address with its MAC") {
  NeighborDiscovery nd(test_config());
  const Ipv6 target = *parse_ipv6("fd00::5894:efff:fee4:cee");
  const Output out = nd.neighbor_solicitation(target);
  CHECK(out.destination_mac == MacAddress{0x33, 0x33, 0xff, 0xe4, 0x0c, 0xee});
  const Parsed ns = parse(out.packet, 24);
  CHECK(ns.hop_limit == 255);
  CHECK(ns.message[0] == 135);
  CHECK(ns.message[1] == 0);
  CHECK(ns.src == *parse_ipv6("fe80::1"));
  CHECK(ns.dst == *parse_ipv6("ff02::1:ffe4:cee"));
  CHECK(Bytes(ns.message.begin() + 8, ns.message.begin() + 24) == Bytes(target.begin(), target.end()));
  REQUIRE(ns.options.count(1) == 1);
  CHECK(Bytes(ns.options.find(1)->second.begin() + 2, ns.options.find(1)->second.end()) ==
        Bytes(kGatewayMac.begin(), kGatewayMac.end()));
  CHECK(nd.counters().neighbor_solicitations_sent == 1);
  // Its own solicitation coming back (flooded) is not answered: the target is not ours.
  CHECK_FALSE(nd.handle(out.packet, kGatewayMac, 0));
}

TEST_CASE("NDP: duplicate address detection is answered only for the gateway's own addresses") {
  NeighborDiscovery nd(test_config());
  const Ipv6 guest_address = *parse_ipv6("fd00::5894:efff:fee4:cee");
  // A guest checking its own new address must hear nothing, or it would give the address up.
  CHECK_FALSE(nd.handle(neighbor_solicitation(kUnspecifiedIpv6, solicited_node_multicast(guest_address),
                                              guest_address, false),
                        kGuestMac, 0));
  CHECK(nd.counters().drops_of(Drop::not_ours) == 1);
  // A guest about to take the gateway's address learns it is in use.
  const Ipv6 gateway = *parse_ipv6("fd00::1");
  const auto out = nd.handle(
      neighbor_solicitation(kUnspecifiedIpv6, solicited_node_multicast(gateway), gateway, false), kGuestMac, 0);
  REQUIRE(out);
  const Parsed na = parse(out->packet, 24);
  CHECK(na.dst == kAllNodes);
  CHECK(na.message[4] == 0xa0);  // router, override; not solicited
  CHECK(out->destination_mac == multicast_mac(kAllNodes));
  // DAD must go to the solicited-node group and carry no link-layer option.
  CHECK_FALSE(nd.handle(neighbor_solicitation(kUnspecifiedIpv6, kAllNodes, gateway, false), kGuestMac, 0));
  CHECK_FALSE(nd.handle(neighbor_solicitation(kUnspecifiedIpv6, solicited_node_multicast(gateway), gateway, true),
                        kGuestMac, 0));
  CHECK(nd.counters().drops_of(Drop::invalid) == 2);
}

TEST_CASE("NDP: lying, forged or truncated packets are counted drops, never answers") {
  NeighborDiscovery nd(test_config());
  const Ipv6 gateway = *parse_ipv6("fd00::1");
  Bytes ns = neighbor_solicitation(kGuestLinkLocal, gateway, gateway);

  Bytes forwarded = ns;
  forwarded[7] = 64;  // hop limit: came through a router (the checksum does not cover it)
  CHECK_FALSE(nd.handle(forwarded, kGuestMac, 0));
  CHECK(nd.counters().drops_of(Drop::bad_hop_limit) == 1);

  Bytes corrupt = ns;
  corrupt[50] ^= 0x01;
  CHECK_FALSE(nd.handle(corrupt, kGuestMac, 0));
  CHECK(nd.counters().drops_of(Drop::bad_checksum) == 1);

  CHECK_FALSE(nd.handle(ByteSpan(ns).first(39), kGuestMac, 0));
  Bytes longer_than_packet = ns;
  longer_than_packet[5] = static_cast<std::uint8_t>(longer_than_packet[5] + 8);
  CHECK_FALSE(nd.handle(longer_than_packet, kGuestMac, 0));
  CHECK(nd.counters().drops_of(Drop::malformed) == 2);

  Bytes zero_option{135, 0, 0, 0, 0, 0, 0, 0};
  zero_option.insert(zero_option.end(), gateway.begin(), gateway.end());
  zero_option.insert(zero_option.end(), {1, 0, 0, 0, 0, 0, 0, 0});
  CHECK_FALSE(nd.handle(ipv6_packet(kGuestLinkLocal, gateway, zero_option), kGuestMac, 0));
  Bytes overlong_option{133, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0};
  CHECK_FALSE(nd.handle(ipv6_packet(kGuestLinkLocal, kAllRouters, overlong_option), kGuestMac, 0));
  CHECK(nd.counters().drops_of(Drop::bad_option) == 2);

  Bytes coded = {133, 1, 0, 0, 0, 0, 0, 0};
  CHECK_FALSE(nd.handle(ipv6_packet(kGuestLinkLocal, kAllRouters, coded), kGuestMac, 0));
  CHECK(nd.counters().drops_of(Drop::bad_code) == 1);

  Bytes multicast_target{135, 0, 0, 0, 0, 0, 0, 0};
  multicast_target.insert(multicast_target.end(), kAllNodes.begin(), kAllNodes.end());
  CHECK_FALSE(nd.handle(ipv6_packet(kGuestLinkLocal, gateway, multicast_target), kGuestMac, 0));
  CHECK(nd.counters().drops_of(Drop::invalid) == 1);

  Bytes echo{128, 0, 0, 0, 0, 1, 0, 1};
  CHECK_FALSE(nd.handle(ipv6_packet(kGuestLinkLocal, gateway, echo), kGuestMac, 0));
  CHECK(nd.counters().drops_of(Drop::unhandled_type) == 1);
  CHECK(nd.counters().neighbor_advertisements == 0);
  CHECK(nd.counters().router_advertisements == 0);
}

TEST_CASE("NDP: configurations that cannot make valid advertisements are refused") {
  Config c = test_config();
  CHECK(c.validate());
  c.prefix = *parse_ipv6_prefix("fd00::/48");
  CHECK_THROWS_AS(NeighborDiscovery{c}, std::invalid_argument);
  c = test_config();
  c.mtu = 1000;
  CHECK_FALSE(c.validate());
  c = test_config();
  c.link_local = *parse_ipv6("fd00::1");
  CHECK_FALSE(c.validate());
  c = test_config();
  c.search_domains = {"bad..name"};
  CHECK_FALSE(c.validate());
  c.search_domains = {std::string(64, 'a') + ".test"};
  CHECK_FALSE(c.validate());
  c = test_config();
  c.prefix_preferred_lifetime_s = c.prefix_valid_lifetime_s + 1;
  CHECK_FALSE(c.validate());
}
