// Allocation policy of dhcp::LeaseTable, without messages in between.
#include <doctest/doctest.h>

#include "dhcp/lease_table.hpp"
#include "dhcp_test_support.hpp"

using namespace usernet;
using namespace usernet::dhcp;
using namespace usernet::dhcp::test;

namespace {
constexpr std::uint64_t kNow = 100'000;
constexpr std::uint64_t kHour = 3'600'000;
std::uint32_t host(std::uint8_t last) { return ipv4(192, 168, 127, last); }
}  // namespace

TEST_CASE("capacity counts the subnet's hosts minus gateway and exclusions") {
  Config config;
  CHECK(LeaseTable(config).capacity() == 254 - 2);  // .1 gateway/server id, .254 excluded
  config.excluded.push_back(host(100));
  config.server_id = host(253);
  CHECK(LeaseTable(config).capacity() == 254 - 4);
}

TEST_CASE("choose: static, then held, then requested, then lowest unused, then longest lost") {
  Config config;
  LeaseTable table(config);
  CHECK(table.choose(kDefaultGuestMac, host(9), kNow) == host(2));
  CHECK(table.choose(kMacA, std::nullopt, kNow) == host(3));
  CHECK(table.choose(kMacA, host(9), kNow) == host(9));
  table.bind(kMacA, host(9), "a", kNow, kHour);
  CHECK(table.choose(kMacA, host(20), kNow) == host(9));           // what it holds wins
  CHECK(table.choose(kMacB, host(9), kNow) == host(3));            // taken: lowest unused instead
  CHECK(table.choose(kMacB, host(9), kNow + 2 * kHour) == host(3));  // expired but remembered for A
  CHECK(table.can_bind(kMacB, host(9), kNow + 2 * kHour));         // ...yet B may have it if it asks
  CHECK_FALSE(table.can_bind(kMacB, host(9), kNow));
}

TEST_CASE("an offer holds the address only until its hold time ends") {
  LeaseTable table(Config{});
  table.reserve(kMacA, host(3), kNow, 1000);
  CHECK_FALSE(table.can_bind(kMacB, host(3), kNow + 999));
  CHECK(table.can_bind(kMacB, host(3), kNow + 1000));
  CHECK(table.active(kNow).empty());
}

TEST_CASE("reserving what a client already leases keeps the lease bound") {
  LeaseTable table(Config{});
  table.bind(kMacA, host(3), "a", kNow, kHour);
  table.reserve(kMacA, host(3), kNow + 10, 1000);
  const auto leases = table.active(kNow + 10);
  REQUIRE(leases.size() == 1);
  CHECK(leases[0].expires_ms == kNow + kHour);
  CHECK(leases[0].hostname == "a");
}

TEST_CASE("binding elsewhere moves the client: one address per MAC") {
  LeaseTable table(Config{});
  table.bind(kMacA, host(3), "a", kNow, kHour);
  table.bind(kMacA, host(30), "", kNow, kHour);
  const auto leases = table.active(kNow);
  REQUIRE(leases.size() == 1);
  CHECK(leases[0].ip == host(30));
  CHECK(leases[0].hostname.empty());  // a new record starts without the old one's name
  CHECK(table.choose(kMacB, std::nullopt, kNow) == host(3));
}

TEST_CASE("withdrawing an offer frees the address but not a bound lease") {
  LeaseTable table(Config{});
  table.reserve(kMacA, host(3), kNow, 60'000);
  table.withdraw_offer(kMacA, kNow);
  CHECK(table.can_bind(kMacB, host(3), kNow));
  table.bind(kMacB, host(4), "", kNow, kHour);
  table.withdraw_offer(kMacB, kNow);
  CHECK(table.active(kNow).size() == 1);
  table.withdraw_offer(kMacC, kNow);  // unknown MAC: nothing happens
}

TEST_CASE("a declined static address makes its owner fall back to the pool until the hold ends") {
  LeaseTable table(Config{});
  table.bind(kDefaultGuestMac, host(2), "", kNow, kHour);
  CHECK(table.decline(kDefaultGuestMac, host(2), kNow, 1000));
  CHECK(table.choose(kDefaultGuestMac, std::nullopt, kNow) == host(3));
  CHECK(table.can_bind(kDefaultGuestMac, host(3), kNow));
  CHECK(table.choose(kDefaultGuestMac, std::nullopt, kNow + 1000) == host(2));
  CHECK_FALSE(table.can_bind(kDefaultGuestMac, host(3), kNow + 1000));
}

TEST_CASE("holder_of: static bindings always, dynamic leases only while bound and unexpired") {
  LeaseTable table(Config{});
  CHECK(table.holder_of(host(2), kNow) == kDefaultGuestMac);  // static, even before any request
  CHECK_FALSE(table.holder_of(host(9), kNow));
  table.reserve(kMacA, host(9), kNow, 60'000);
  CHECK_FALSE(table.holder_of(host(9), kNow));  // an offer: the client does not use it yet
  table.bind(kMacA, host(9), "a", kNow, kHour);
  CHECK(table.holder_of(host(9), kNow) == kMacA);
  CHECK_FALSE(table.holder_of(host(9), kNow + kHour));  // expired
  table.bind(kMacA, host(9), "a", kNow, kHour);
  CHECK(table.release(kMacA, host(9), kNow + 1));
  CHECK_FALSE(table.holder_of(host(9), kNow + 2));
}

TEST_CASE("a pool range: dynamic leases from its first address, static ones anywhere") {
  Config config;
  config.network = ipv4(10, 0, 2, 0);
  config.gateway = ipv4(10, 0, 2, 2);
  config.server_id = ipv4(10, 0, 2, 3);
  config.excluded = {};
  config.static_leases = {{{0x02, 0, 0, 0, 0, 0x64}, ipv4(10, 0, 2, 100)}};
  config.pool_first = ipv4(10, 0, 2, 15);
  config.pool_last = ipv4(10, 0, 2, 30);
  REQUIRE(validate(config));
  LeaseTable table(config);
  CHECK(table.capacity() == 16);
  const MacAddress dynamic{0x02, 0, 0, 0, 0, 0x01};
  const MacAddress fixed{0x02, 0, 0, 0, 0, 0x64};
  CHECK(table.choose(dynamic, std::nullopt, kNow) == ipv4(10, 0, 2, 15));
  CHECK(table.choose(fixed, std::nullopt, kNow) == ipv4(10, 0, 2, 100));
  // A client asking for an address outside the pool gets one from it instead.
  CHECK(table.choose(kMacA, ipv4(10, 0, 2, 5), kNow) == ipv4(10, 0, 2, 15));
  CHECK_FALSE(table.can_bind(kMacA, ipv4(10, 0, 2, 5), kNow));
  CHECK(table.can_bind(fixed, ipv4(10, 0, 2, 100), kNow));
  config.pool_first = ipv4(10, 0, 2, 40);
  CHECK_FALSE(validate(config));  // first after last
}
