#include <doctest/doctest.h>

#include "netstack/services/forward_spec.hpp"

using namespace usernet;

namespace {
const Ipv4 kGuest = make_ipv4(192, 168, 127, 2);
}

TEST_CASE("--forward text forms") {
  auto tcp = parse_forward("127.0.0.1:8080=192.168.127.3:80", kGuest);
  REQUIRE(tcp);
  CHECK(tcp->protocol == ForwardProtocol::tcp);
  CHECK(tcp->local() == "127.0.0.1:8080");
  CHECK(tcp->remote() == "192.168.127.3:80");

  auto udp = parse_forward("udp::5353=:53", kGuest);
  REQUIRE(udp);
  CHECK(udp->protocol == ForwardProtocol::udp);
  CHECK(udp->local() == "127.0.0.1:5353");
  CHECK(udp->remote() == "192.168.127.2:53");

  auto unix_socket = parse_forward("unix:/run/podman.sock=:2375", kGuest);
  REQUIRE(unix_socket);
  CHECK(unix_socket->protocol == ForwardProtocol::unix_socket);
  CHECK(unix_socket->local() == "/run/podman.sock");
  CHECK(unix_socket->protocol_name() == "unix");
}

TEST_CASE("--forward with IPv6 on either side") {
  auto v6_to_v4 = parse_forward("[::1]:8080=:80", kGuest);
  REQUIRE(v6_to_v4);
  CHECK(v6_to_v4->local() == "[::1]:8080");
  CHECK(v6_to_v4->remote() == "192.168.127.2:80");
  CHECK_FALSE(v6_to_v4->local_ip.is_v4());
  CHECK(v6_to_v4->local_ip.is_loopback());

  auto v4_to_v6 = parse_forward("udp:127.0.0.1:5353=[fd00::5]:53", kGuest);
  REQUIRE(v4_to_v6);
  CHECK(v4_to_v6->protocol == ForwardProtocol::udp);
  CHECK(v4_to_v6->local() == "127.0.0.1:5353");
  CHECK(v4_to_v6->remote() == "[fd00::5]:53");
  CHECK(v4_to_v6->remote_ip == IpAddress::from_v6(*parse_ipv6("fd00::5")));
}

TEST_CASE("malformed forwards name the problem") {
  const auto no_equals = parse_forward("8080", kGuest);
  REQUIRE_FALSE(no_equals);
  CHECK(no_equals.error().find("LOCAL=REMOTE") != std::string::npos);
  const auto port_zero = parse_forward("127.0.0.1:0=:80", kGuest);
  REQUIRE_FALSE(port_zero);
  CHECK(port_zero.error().find("local") != std::string::npos);
  const auto port_too_big = parse_forward("127.0.0.1:8080=:99999", kGuest);
  REQUIRE_FALSE(port_too_big);
  CHECK(port_too_big.error().find("remote") != std::string::npos);
  CHECK_FALSE(parse_forward("unix:relative.sock=:80", kGuest));
  const auto sctp = make_forward("sctp", "127.0.0.1:1", ":2", kGuest);
  REQUIRE_FALSE(sctp);
  CHECK(sctp.error().find("protocol") != std::string::npos);
  const auto any = IpAddress::from_v4(0);
  CHECK_FALSE(parse_host_port("1.2.3.4:80x", any));
  CHECK_FALSE(parse_host_port("1.2.3:80", any));
  CHECK_FALSE(parse_host_port("::1:80", any));  // IPv6 needs brackets
  CHECK_FALSE(parse_host_port("[::1:80", any));
  CHECK_FALSE(parse_host_port("[1.2.3.4]:80", any));
  CHECK_FALSE(parse_forward("[::1]:8080=[fd00::zz]:80", kGuest));
}
