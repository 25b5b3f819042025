#include <doctest/doctest.h>

#include <stdexcept>

#include "dhcp/config.hpp"
#include "dhcp/server.hpp"
#include "dhcp_test_support.hpp"

using namespace usernet;
using namespace usernet::dhcp;
using namespace usernet::dhcp::test;

namespace {

/// The error validate() gives after `change` is applied to the default config.
template <typename Change>
std::string error_after(Change change) {
  Config config;
  change(config);
  const auto valid = validate(config);
  REQUIRE_FALSE(valid);
  return valid.error();
}

}  // namespace

TEST_CASE("the default config is gvproxy's and valid") {
  const Config config;
  CHECK(validate(config));
  CHECK(config.network == ipv4(192, 168, 127, 0));
  CHECK(config.netmask() == ipv4(255, 255, 255, 0));
  CHECK(config.broadcast() == ipv4(192, 168, 127, 255));
  CHECK(config.lease_time_s == 3600);
  REQUIRE(config.static_leases.size() == 1);
  CHECK(config.static_leases[0].mac == kDefaultGuestMac);
  CHECK(config.static_leases[0].ip == ipv4(192, 168, 127, 2));
  CHECK(format_ipv4(ipv4(192, 168, 127, 254)) == "192.168.127.254");
}

TEST_CASE("config errors name the problem") {
  CHECK(error_after([](Config& c) { c.prefix_length = 31; }).find("/31") != std::string::npos);
  CHECK(error_after([](Config& c) { c.network = ipv4(192, 168, 127, 1); }).find("host bits") != std::string::npos);
  CHECK(error_after([](Config& c) { c.gateway = ipv4(10, 0, 0, 1); }).find("gateway 10.0.0.1") != std::string::npos);
  CHECK(error_after([](Config& c) { c.server_id = ipv4(192, 168, 127, 255); }).find("server id") !=
        std::string::npos);
  CHECK(error_after([](Config& c) { c.excluded.push_back(ipv4(10, 0, 0, 1)); }).find("excluded") !=
        std::string::npos);
  CHECK(error_after([](Config& c) { c.dns_servers.clear(); }).find("DNS") != std::string::npos);
  CHECK(error_after([](Config& c) { c.domain_name = "bad name"; }).find("bad name") != std::string::npos);
  CHECK(error_after([](Config& c) { c.search_domains = {"ok.com", "a..b"}; }).find("a..b") != std::string::npos);
  CHECK(error_after([](Config& c) {
          for (int i = 0; i < 20; ++i) c.search_domains.push_back(std::string(60, static_cast<char>('a' + i)) + ".com");
        }).find("search list") != std::string::npos);
  CHECK(error_after([](Config& c) { c.mtu = 500; }).find("MTU 500") != std::string::npos);
  CHECK(error_after([](Config& c) { c.lease_time_s = 10; }).find("lease time") != std::string::npos);
  CHECK(error_after([](Config& c) { c.classless_routes = {{ipv4(10, 1, 0, 0), 8, ipv4(192, 168, 127, 1)}}; })
            .find("beyond its prefix") != std::string::npos);
  CHECK(error_after([](Config& c) { c.classless_routes = {{0, 33, 0}}; }).find("longer than 32") != std::string::npos);
}

TEST_CASE("static lease errors: special addresses, duplicates, bad MACs") {
  CHECK(error_after([](Config& c) { c.static_leases.push_back({kMacA, ipv4(192, 168, 127, 1)}); })
            .find("is the gateway") != std::string::npos);
  CHECK(error_after([](Config& c) { c.static_leases.push_back({kMacA, ipv4(192, 168, 127, 254)}); })
            .find("is excluded") != std::string::npos);
  CHECK(error_after([](Config& c) { c.static_leases.push_back({kMacA, ipv4(192, 168, 127, 0)}); })
            .find("network address") != std::string::npos);
  CHECK(error_after([](Config& c) { c.static_leases.push_back({kMacA, ipv4(192, 168, 127, 255)}); })
            .find("broadcast") != std::string::npos);
  CHECK(error_after([](Config& c) { c.static_leases.push_back({kMacA, ipv4(192, 168, 128, 5)}); })
            .find("outside the subnet") != std::string::npos);
  CHECK(error_after([](Config& c) { c.static_leases.push_back({kMacA, ipv4(192, 168, 127, 2)}); })
            .find("already bound to 5a:94:ef:e4:0c:ee") != std::string::npos);
  CHECK(error_after([](Config& c) { c.static_leases.push_back({kDefaultGuestMac, ipv4(192, 168, 127, 3)}); })
            .find("two static leases") != std::string::npos);
  CHECK(error_after([](Config& c) { c.static_leases.push_back({kBroadcastMac, ipv4(192, 168, 127, 3)}); })
            .find("not a unicast") != std::string::npos);
}

TEST_CASE("the server refuses an invalid config with the validation message") {
  Config config;
  config.mtu = 100;
  CHECK_THROWS_WITH_AS(Server{config}, doctest::Contains("MTU 100"), std::invalid_argument);
}
