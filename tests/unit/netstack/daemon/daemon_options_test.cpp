#include <doctest/doctest.h>

#include <vector>

#include "netstack/daemon/daemon_options.hpp"

using namespace usernet;
using Action = ParsedDaemonOptions::Action;

namespace {
ParsedDaemonOptions parse(std::vector<const char*> args) {
  args.insert(args.begin(), "usernetd");
  return parse_daemon_options(static_cast<int>(args.size()), args.data());
}
}  // namespace

TEST_CASE("defaults are gvproxy's addresses") {
  auto r = parse({"--tap", "tap0"});
  REQUIRE(r.action == Action::run);
  const auto& n = r.options.network;
  CHECK(format_ipv4(n.gateway_ip) == "192.168.127.1");
  CHECK(format_ipv4(n.host_alias) == "192.168.127.254");
  CHECK(format_ipv4(n.first_guest_ip) == "192.168.127.2");
  CHECK(n.subnet.to_string() == "192.168.127.0/24");
  CHECK(n.mtu == 1500);
  CHECK_FALSE(n.allow_link_local);
}

TEST_CASE("IPv6 is on by default, off with --no-ipv6 or an MTU below 1280") {
  auto on = parse({"--tap", "t"});
  REQUIRE(on.action == Action::run);
  CHECK(on.options.ipv6.enabled);
  CHECK(on.options.dns.ipv6);
  CHECK(parse({"--tap", "t", "--ipv6"}).options.ipv6.enabled);
  auto off = parse({"--tap", "t", "--no-ipv6"});
  REQUIRE(off.action == Action::run);
  CHECK_FALSE(off.options.ipv6.enabled);
  CHECK_FALSE(off.options.dns.ipv6);
  CHECK(off.options.ipv6.off_reason.empty());  // asked for: nothing to explain
  auto small = parse({"--tap", "t", "--mtu", "1000"});
  REQUIRE(small.action == Action::run);
  CHECK_FALSE(small.options.ipv6.enabled);
  CHECK(small.options.ipv6.off_reason.find("1280") != std::string::npos);
}

TEST_CASE("a new subnet moves the derived addresses with it") {
  auto r = parse({"--tap", "t", "--subnet", "10.0.2.0/24"});
  REQUIRE(r.action == Action::run);
  CHECK(format_ipv4(r.options.network.gateway_ip) == "10.0.2.1");
  CHECK(format_ipv4(r.options.network.host_alias) == "10.0.2.254");
  CHECK(format_ipv4(r.options.network.first_guest_ip) == "10.0.2.2");
}

TEST_CASE("--notification takes unix:///PATH only") {
  auto ok = parse({"--tap", "t", "--notification", "unix:///run/podman/n.sock"});
  REQUIRE(ok.action == ParsedDaemonOptions::Action::run);
  CHECK(ok.options.notification == "/run/podman/n.sock");
  for (const char* bad : {"/run/n.sock", "unix://", "tcp://127.0.0.1:1"}) {
    auto r = parse({"--tap", "t", "--notification", bad});
    CHECK(r.action == ParsedDaemonOptions::Action::fail);
    CHECK(r.message.find("--notification") != std::string::npos);
  }
}

TEST_CASE("bad values fail with a line naming the flag") {
  struct Case {
    std::vector<const char*> args;
    const char* needle;
  };
  const Case cases[] = {
      {{"--tap", "t", "--mtu", "100"}, "--mtu"},
      {{"--tap", "t", "--mtu", "70000"}, "--mtu"},
      {{"--tap", "t", "--mtu", "abc"}, "mtu"},
      {{"--tap", "t", "--subnet", "10.0.2.1/24"}, "--subnet"},
      {{"--tap", "t", "--subnet", "10.0.2.0/30"}, "--subnet"},
      {{"--tap", "t", "--gateway-ip", "1.2.3"}, "--gateway-ip"},
      {{"--tap", "t", "--gateway-ip", "10.9.9.9"}, "gateway-ip"},
      {{"--tap", "t", "--host-ip", "192.168.127.1"}, "host-ip"},
      {{"--tap", "t", "--log-level", "loud"}, "--log-level"},
      {{"--tap", "averyveryverylongname"}, "--tap"},
      {{"--netns", "x"}, "--netns"},
      {{"--tap", "t", "--frobnicate"}, "frobnicate"},
      {{"--tap", "t", "--ipv6", "--mtu", "1000"}, "--ipv6"},
      {{"--tap", "t", "--ipv6", "--no-ipv6"}, "contradict"},
      {{}, "nothing to serve"},
  };
  for (const auto& c : cases) {
    auto r = parse(c.args);
    CAPTURE(c.needle);
    CHECK(r.action == Action::fail);
    CHECK(r.message.find(c.needle) != std::string::npos);
  }
}

TEST_CASE("help and version print and exit") {
  CHECK(parse({"--help"}).action == Action::print_and_exit);
  auto v = parse({"--version"});
  CHECK(v.action == Action::print_and_exit);
  CHECK(v.message.find("usernetd") == 0);
}

TEST_CASE("netns names resolve to /run/netns") {
  auto r = parse({"--tap", "t", "--netns", "guest1"});
  REQUIRE(r.action == Action::run);
  CHECK(r.options.netns == "/run/netns/guest1");
  r = parse({"--tap", "t", "--netns", "/proc/1/ns/net"});
  CHECK(r.options.netns == "/proc/1/ns/net");
}
