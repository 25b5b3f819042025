#include "netstack/base/ipv6.hpp"

#include <doctest/doctest.h>

using namespace usernet;

TEST_CASE("IPv6 text: RFC 5952 form out, the usual forms in, nonsense refused") {
  const auto gateway = parse_ipv6("fd00:0:0::1");
  REQUIRE(gateway);
  CHECK(format_ipv6(*gateway) == "fd00::1");
  CHECK((*gateway)[0] == 0xfd);
  CHECK((*gateway)[15] == 0x01);
  CHECK(format_ipv6(*parse_ipv6("::ffff:192.168.127.254")) == "::ffff:192.168.127.254");
  CHECK_FALSE(parse_ipv6("fd00::1::2"));
  CHECK_FALSE(parse_ipv6("192.168.127.1"));
  CHECK_FALSE(parse_ipv6(""));
  CHECK_FALSE(parse_ipv6(std::string(100, 'f')));
}

TEST_CASE("IPv6 address classes: link-local, multicast, solicited-node group and its MAC") {
  CHECK(is_link_local(*parse_ipv6("fe80::1")));
  CHECK(is_link_local(*parse_ipv6("febf::1")));
  CHECK_FALSE(is_link_local(*parse_ipv6("fec0::1")));
  CHECK(is_multicast(kAllNodes));
  CHECK_FALSE(is_multicast(*parse_ipv6("fd00::1")));
  CHECK(is_unspecified(*parse_ipv6("::")));
  CHECK(solicited_node_multicast(*parse_ipv6("fd00::12:3456:789a")) == *parse_ipv6("ff02::1:ff56:789a"));
  CHECK(multicast_mac(*parse_ipv6("ff02::1:ff56:789a")) == MacAddress{0x33, 0x33, 0xff, 0x56, 0x78, 0x9a});
}

TEST_CASE("IPv6 prefixes: parsing refuses host bits, containment follows the length") {
  const auto prefix = parse_ipv6_prefix("fd00::/64");
  REQUIRE(prefix);
  CHECK(prefix->to_string() == "fd00::/64");
  CHECK(prefix->contains(*parse_ipv6("fd00::254")));
  CHECK(prefix->contains(*parse_ipv6("fd00::ffff:ffff:ffff:ffff")));
  CHECK_FALSE(prefix->contains(*parse_ipv6("fd00:0:0:1::1")));
  const auto odd = parse_ipv6_prefix("64:ff9b::/96");
  REQUIRE(odd);
  CHECK(odd->contains(*parse_ipv6("64:ff9b::c0a8:7ffe")));
  CHECK_FALSE(odd->contains(*parse_ipv6("64:ff9c::1")));
  CHECK(parse_ipv6_prefix("fd00::/60")->contains(*parse_ipv6("fd00:0:0:f::1")));
  CHECK_FALSE(parse_ipv6_prefix("fd00::/60")->contains(*parse_ipv6("fd00:0:0:10::1")));
  CHECK_FALSE(parse_ipv6_prefix("fd00::1/64"));
  CHECK_FALSE(parse_ipv6_prefix("fd00::/129"));
  CHECK_FALSE(parse_ipv6_prefix("fd00::/"));
  CHECK_FALSE(parse_ipv6_prefix("fd00::/6x"));
  CHECK_FALSE(parse_ipv6_prefix("fd00::"));
}
