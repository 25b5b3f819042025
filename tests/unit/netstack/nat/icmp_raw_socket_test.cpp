// What a raw ICMP socket delivers is parsed strictly: only well-formed, unfragmented
// echo replies with a correct checksum pass.
#include <doctest/doctest.h>

#include <vector>

#include "netstack/nat/icmp_raw_socket.hpp"

using namespace usernet;

namespace {
// IPv4 from 127.0.0.1, then an echo reply id 0x1234 seq 1 with payload "hi" (checksum set).
std::vector<std::uint8_t> reply_datagram() {
  std::vector<std::uint8_t> d = {0x45, 0, 0, 30, 0, 0, 0, 0, 64, 1, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
                                 0, 0, 0, 0, 0x12, 0x34, 0, 1, 'h', 'i'};
  std::uint32_t sum = 0;
  for (std::size_t i = 20; i < d.size(); i += 2) sum += (d[i] << 8) | d[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  d[22] = static_cast<std::uint8_t>(~sum >> 8);
  d[23] = static_cast<std::uint8_t>(~sum);
  return d;
}
}  // namespace

TEST_CASE("parse_raw_echo_reply accepts an echo reply and reports source and identifier") {
  const auto d = reply_datagram();
  const auto reply = parse_raw_echo_reply(d);
  REQUIRE(reply);
  CHECK(reply->source == IpAddress::from_v4(make_ipv4(127, 0, 0, 1)));
  CHECK(reply->identifier == 0x1234);
  CHECK(reply->message.size() == 10);
}

TEST_CASE("parse_raw_echo_reply refuses anything else") {
  auto bad_checksum = reply_datagram();
  bad_checksum[29] ^= 1;
  CHECK_FALSE(parse_raw_echo_reply(bad_checksum));
  auto request = reply_datagram();
  request[20] = 8;
  CHECK_FALSE(parse_raw_echo_reply(request));
  auto fragment = reply_datagram();
  fragment[6] = 0x20;  // more fragments
  CHECK_FALSE(parse_raw_echo_reply(fragment));
  auto long_total = reply_datagram();
  long_total[3] = 31;
  CHECK_FALSE(parse_raw_echo_reply(long_total));
  auto bad_header = reply_datagram();
  bad_header[0] = 0x44;
  CHECK_FALSE(parse_raw_echo_reply(bad_header));
  auto udp = reply_datagram();
  udp[9] = 17;
  CHECK_FALSE(parse_raw_echo_reply(udp));
  const auto d = reply_datagram();
  CHECK_FALSE(parse_raw_echo_reply(ByteSpan(d).first(27)));
}

TEST_CASE("parse_raw_echo_reply6 takes ICMPv6 echo replies only") {
  const Ipv6 source = *parse_ipv6("::1");
  const std::vector<std::uint8_t> reply{129, 0, 0x12, 0x34, 0xbe, 0xef, 0, 7, 'h', 'i'};
  const auto parsed = parse_raw_echo_reply6(reply, source);
  REQUIRE(parsed);
  CHECK(parsed->source == IpAddress::from_v6(source));
  CHECK(parsed->identifier == 0xbeef);
  CHECK(parsed->message.size() == reply.size());
  std::vector<std::uint8_t> request = reply;
  request[0] = 128;
  CHECK_FALSE(parse_raw_echo_reply6(request, source));
  std::vector<std::uint8_t> odd_code = reply;
  odd_code[1] = 1;
  CHECK_FALSE(parse_raw_echo_reply6(odd_code, source));
  CHECK_FALSE(parse_raw_echo_reply6(ByteSpan(reply).first(7), source));
}
