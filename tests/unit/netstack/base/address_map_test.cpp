#include <doctest/doctest.h>

#include "netstack/base/address_map.hpp"
#include "netstack/lwip/arp_responder.hpp"
#include "netstack/base/ip_address.hpp"
#include "netstack/base/ipv4.hpp"
#include "netstack/base/ipv6.hpp"

using namespace usernet;

TEST_CASE("IPv4 text parsing is strict") {
  CHECK(parse_ipv4("192.168.127.1") == make_ipv4(192, 168, 127, 1));
  CHECK(parse_ipv4("0.0.0.0") == 0u);
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", "01.2.3.4", "a.b.c.d", "1..2.3"})
    CHECK_FALSE(parse_ipv4(bad));
  CHECK(format_ipv4(make_ipv4(10, 0, 2, 15)) == "10.0.2.15");
  auto s = parse_ipv4_subnet("192.168.127.0/24");
  REQUIRE(s);
  CHECK(s->broadcast() == make_ipv4(192, 168, 127, 255));
  CHECK(s->contains(make_ipv4(192, 168, 127, 9)));
  CHECK_FALSE(s->contains(make_ipv4(192, 168, 128, 9)));
  CHECK_FALSE(parse_ipv4_subnet("192.168.127.0/33"));
  CHECK_FALSE(parse_ipv4_subnet("192.168.127.0"));
}

TEST_CASE("address map: host alias, link-local policy, loopback guard") {
  AddressMap map;
  map.add_translation(make_ipv4(192, 168, 127, 254), make_ipv4(127, 0, 0, 1));
  CHECK(map.to_host(make_ipv4(192, 168, 127, 254)) == make_ipv4(127, 0, 0, 1));
  CHECK(map.is_virtual(make_ipv4(192, 168, 127, 254)));
  CHECK(map.to_host(make_ipv4(203, 0, 113, 5)) == make_ipv4(203, 0, 113, 5));
  CHECK_FALSE(map.to_host(make_ipv4(169, 254, 169, 254)));
  CHECK_FALSE(map.to_host(make_ipv4(127, 0, 0, 1)));  // only through the alias
  CHECK_FALSE(map.to_host(make_ipv4(224, 0, 0, 1)));
  map.set_allow_link_local(true);
  CHECK(map.to_host(make_ipv4(169, 254, 169, 254)) == make_ipv4(169, 254, 169, 254));
}

TEST_CASE("address map, IPv6: host alias to ::1, link-local, loopback, mapped and on-link refused") {
  auto v6 = [](const char* text) { return IpAddress::from_v6(*parse_ipv6(text)); };
  AddressMap map;
  map.add_translation(*parse_ipv6("fd00::254"), *parse_ipv6("::1"));
  map.set_guest_prefix(*parse_ipv6_prefix("fd00::/64"));
  CHECK(map.to_host(v6("fd00::254")) == v6("::1"));
  CHECK(map.to_host(v6("2001:db8::5")) == v6("2001:db8::5"));
  CHECK(map.to_host(v6("fd01::5")) == v6("fd01::5"));  // another ULA is routed, not ours
  for (const char* refused : {"fd00::7", "::1", "::", "ff02::1", "ff0e::1", "fe80::1", "::127.0.0.1"})
    CHECK_MESSAGE(!map.to_host(v6(refused)), std::string(refused));
  map.set_allow_link_local(true);
  CHECK(map.to_host(v6("fe80::1")) == v6("fe80::1"));
  map.set_deny_all(true);
  CHECK_FALSE(map.to_host(v6("2001:db8::5")));
  // IPv4 keeps its own rules through the same entry point.
  AddressMap v4;
  v4.add_translation(make_ipv4(192, 168, 127, 254), make_ipv4(127, 0, 0, 1));
  CHECK(v4.to_host(IpAddress::from_v4(make_ipv4(192, 168, 127, 254))) == IpAddress::from_v4(make_ipv4(127, 0, 0, 1)));
  CHECK_FALSE(v4.to_host(IpAddress::from_v4(make_ipv4(127, 0, 0, 1))));
}

TEST_CASE("address map, NAT64: 64:ff9b::/96 leaves as IPv4 under the IPv4 rules") {
  auto v6 = [](const char* text) { return IpAddress::from_v6(*parse_ipv6(text)); };
  auto v4 = [](Ipv4 a) { return IpAddress::from_v4(a); };
  AddressMap map;
  map.add_translation(make_ipv4(192, 168, 127, 254), make_ipv4(127, 0, 0, 1));
  // Off: an IPv6 destination like any other (the host's network may have its own NAT64).
  CHECK(map.to_host(v6("64:ff9b::198.51.100.7")) == v6("64:ff9b::198.51.100.7"));
  map.set_nat64(*parse_ipv6_prefix("64:ff9b::/96"), *parse_ipv4_subnet("192.168.127.0/24"));
  CHECK(map.to_host(v6("64:ff9b::198.51.100.7")) == v4(make_ipv4(198, 51, 100, 7)));
  CHECK(map.to_host(v6("64:ff9b::192.168.127.254")) == v4(make_ipv4(127, 0, 0, 1)));  // the host alias
  for (const char* refused : {"64:ff9b::192.168.127.1", "64:ff9b::192.168.127.9", "64:ff9b::127.0.0.1",
                              "64:ff9b::224.0.0.1", "64:ff9b::169.254.169.254", "64:ff9b::0.0.0.0"})
    CHECK_MESSAGE(!map.to_host(v6(refused)), std::string(refused));
  CHECK(map.to_host(v6("64:ff9b:1::198.51.100.7")) == v6("64:ff9b:1::198.51.100.7"));  // outside the /96
}

TEST_CASE("IpAddress parses either family and knows loopback") {
  CHECK(parse_ip_address("192.168.127.2") == IpAddress::from_v4(make_ipv4(192, 168, 127, 2)));
  CHECK(parse_ip_address("fd00::2") == IpAddress::from_v6(*parse_ipv6("fd00::2")));
  CHECK(parse_ip_address("::ffff:10.0.0.1")->is_v4());
  CHECK_FALSE(parse_ip_address("[::1]"));
  CHECK_FALSE(parse_ip_address("localhost"));
  CHECK(parse_ip_address("::1")->is_loopback());
  CHECK(parse_ip_address("127.9.9.9")->is_loopback());
  CHECK_FALSE(parse_ip_address("fd00::1")->is_loopback());
  CHECK_FALSE(parse_ip_address("10.0.0.1")->is_loopback());
}

TEST_CASE("IpAddress holds IPv4 as ::ffff:a.b.c.d and formats either family") {
  const IpAddress a = IpAddress::from_v4(make_ipv4(192, 168, 127, 2));
  CHECK(a.is_v4());
  CHECK(a.v4() == make_ipv4(192, 168, 127, 2));
  CHECK(a == IpAddress::from_v6(*parse_ipv6("::ffff:192.168.127.2")));
  CHECK(a.to_string() == "192.168.127.2");
  CHECK(a.with_port(80) == "192.168.127.2:80");
  const IpAddress b = IpAddress::from_v6(*parse_ipv6("fd00::2"));
  CHECK_FALSE(b.is_v4());
  CHECK(b.with_port(443) == "[fd00::2]:443");
  CHECK(IpAddressHash{}(a) != IpAddressHash{}(b));
  const SocketAddress sa = make_socket_address(b, 443);
  CHECK(sa.family() == AF_INET6);
  CHECK(sa.length == sizeof(sockaddr_in6));
  CHECK(make_socket_address(a, 80).family() == AF_INET);
}

namespace {
std::vector<std::uint8_t> arp_request(Ipv4 target, std::uint16_t op = 1) {
  std::vector<std::uint8_t> f(42, 0);
  for (int i = 0; i < 6; ++i) f[i] = 0xff;
  const std::uint8_t sender[6] = {0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xee};
  std::copy(sender, sender + 6, f.begin() + 6);
  f[12] = 0x08, f[13] = 0x06;
  const std::uint8_t head[8] = {0, 1, 8, 0, 6, 4, 0, static_cast<std::uint8_t>(op)};
  std::copy(head, head + 8, f.begin() + 14);
  std::copy(sender, sender + 6, f.begin() + 22);
  f[28] = 192, f[29] = 168, f[30] = 127, f[31] = 2;
  for (int i = 0; i < 4; ++i) f[38 + i] = static_cast<std::uint8_t>(target >> (24 - 8 * i));
  return f;
}
}  // namespace

TEST_CASE("ARP requests for virtual addresses get a reply from the gateway MAC") {
  const MacAddress gw{0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xdd};
  const Ipv4 alias = make_ipv4(192, 168, 127, 254);
  auto owns = [&](Ipv4 ip) { return ip == alias; };
  auto reply = arp_reply_for(arp_request(alias), gw, owns);
  REQUIRE(reply);
  CHECK(reply->size() == 60);
  CHECK(frame_destination(*reply) == MacAddress{0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xee});
  CHECK(frame_source(*reply) == gw);
  CHECK((*reply)[21] == 2);                                     // reply
  CHECK(std::equal(gw.begin(), gw.end(), reply->begin() + 22));  // sender MAC = gateway
  CHECK((*reply)[28] == 192);
  CHECK((*reply)[31] == 254);  // sender IP = the alias
  CHECK((*reply)[41] == 2);    // target IP = the asking guest

  CHECK_FALSE(arp_reply_for(arp_request(make_ipv4(192, 168, 127, 9)), gw, owns));
  CHECK_FALSE(arp_reply_for(arp_request(alias, 2), gw, owns));  // a reply is not a request
  auto truncated = arp_request(alias);
  truncated.resize(41);
  CHECK_FALSE(arp_reply_for(truncated, gw, owns));
}
