#include <doctest/doctest.h>

#include "netstack/services/gateway_dhcp.hpp"

using namespace usernet;

TEST_CASE("static lease and route option parsing") {
  auto lease = parse_static_lease("02:00:00:00:00:07=192.168.127.7");
  REQUIRE(lease);
  CHECK(lease->ip == make_ipv4(192, 168, 127, 7));
  CHECK(lease->mac[5] == 7);
  CHECK_FALSE(parse_static_lease("02:00:00:00:00:07"));
  CHECK_FALSE(parse_static_lease("02:00:00:00:00=192.168.127.7"));
  CHECK_FALSE(parse_static_lease("02:00:00:00:00:07=192.168.127"));

  auto route = parse_classless_route("10.10.0.0/16=192.168.127.1");
  REQUIRE(route);
  CHECK(route->destination == make_ipv4(10, 10, 0, 0));
  CHECK(route->prefix_length == 16);
  CHECK(route->router == make_ipv4(192, 168, 127, 1));
  CHECK_FALSE(parse_classless_route("10.10.0.1/16=192.168.127.1"));  // host bits set
  CHECK_FALSE(parse_classless_route("10.10.0.0/16"));
}

TEST_CASE("search domains come from the last search/domain line of resolv.conf") {
  CHECK(search_domains_from_resolv_conf("nameserver 127.0.0.53\nsearch corp.example lab.example\n") ==
        std::vector<std::string>{"corp.example", "lab.example"});
  CHECK(search_domains_from_resolv_conf("search a.example\ndomain b.example # comment\n") ==
        std::vector<std::string>{"b.example"});
  CHECK(search_domains_from_resolv_conf("nameserver 10.0.0.1\n").empty());
}

TEST_CASE("DHCP config follows the network: router, DNS, MTU, reserved addresses") {
  NetworkConfig network;
  network.mtu = 9000;
  DhcpOptions options;
  options.search_domains = {"example.test"};
  options.static_leases.push_back({{0x02, 0, 0, 0, 0, 9}, make_ipv4(192, 168, 127, 9)});
  const auto config = make_dhcp_config(network, options);
  CHECK(config.gateway == network.gateway_ip);
  CHECK(config.dns_servers == std::vector<std::uint32_t>{network.gateway_ip});
  CHECK(config.mtu == 9000);
  CHECK(config.domain_name == "example.test");
  CHECK(config.static_leases.size() == 2);
  CHECK(config.excluded == std::vector<std::uint32_t>{network.host_alias});
  CHECK(dhcp::validate(config));
}
