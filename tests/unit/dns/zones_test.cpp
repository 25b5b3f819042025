#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "dns/zones.hpp"
#include "tests/unit/dns/dns_test_support.hpp"

using namespace usernet::dns;
using usernet::dns::test::name;

namespace {
constexpr std::uint32_t kGateway = 0xc0a87f01;
constexpr std::uint32_t kHost = 0xc0a87ffe;
}  // namespace

TEST_CASE("default zones map gateway and host in both zones") {
  auto table = ZoneTable::with_defaults(kGateway, kHost);
  auto zones = table.list();
  REQUIRE(zones.size() == 2);
  CHECK(zones[0].name == "containers.internal.");
  CHECK(zones[1].name == "docker.internal.");
  CHECK(table.find(name("gateway.containers.internal"))->record_ip == kGateway);
  CHECK(table.find(name("HOST.Docker.Internal."))->record_ip == kHost);
  auto unknown = table.find(name("nothing.containers.internal"));
  REQUIRE(unknown.has_value());
  CHECK_FALSE(unknown->record_ip.has_value());
  CHECK(unknown->relative_name == "nothing");
  CHECK(table.find(name("containers.internal"))->labels_below == 0);
  CHECK_FALSE(table.find(name("example.com")).has_value());
  CHECK_FALSE(table.find(name("internal")).has_value());
}

TEST_CASE("records match exactly or by regexp search on the relative name, in order") {
  ZoneTable table;
  Zone zone{"dev.test", {{"api", "", 1}, {"", "^web-[0-9]+$", 2}, {"", "db", 3}}, 9};
  REQUIRE(table.add(zone));
  CHECK(table.find(name("api.dev.test"))->record_ip == 1);
  CHECK(table.find(name("web-12.dev.test"))->record_ip == 2);
  CHECK_FALSE(table.find(name("web-x.dev.test"))->record_ip.has_value());
  // Unanchored regexp: a search, like Go's MatchString.
  CHECK(table.find(name("mydb1.dev.test"))->record_ip == 3);
  // Multi-label relative names are seen whole.
  auto deep = table.find(name("a.web-1.dev.test"));
  CHECK(deep->relative_name == "a.web-1");
  CHECK_FALSE(deep->record_ip.has_value());
  CHECK(deep->default_ip == 9u);
}

TEST_CASE("add merges like gvproxy, replace replaces, remove removes") {
  ZoneTable table;
  REQUIRE(table.add(Zone{"z.test.", {{"a", "", 1}}, std::nullopt}));
  REQUIRE(table.add(Zone{"Z.TEST", {{"a", "", 2}, {"b", "", 3}}, 7}));
  auto zones = table.list();
  REQUIRE(zones.size() == 1);
  CHECK(zones[0].records.size() == 3);
  CHECK(zones[0].default_ip == 7u);
  CHECK(table.find(name("a.z.test"))->record_ip == 2);  // new records come first

  REQUIRE(table.replace(Zone{"z.test", {{"c", "", 4}}, std::nullopt}));
  CHECK_FALSE(table.find(name("a.z.test"))->record_ip.has_value());
  CHECK(table.find(name("c.z.test"))->record_ip == 4);
  CHECK(table.remove("z.test."));
  CHECK_FALSE(table.remove("z.test."));
  CHECK(table.list().empty());
}

TEST_CASE("invalid zones are refused with a reason and leave the table unchanged") {
  ZoneTable table;
  CHECK_FALSE(table.add(Zone{"", {}, std::nullopt}));
  CHECK_FALSE(table.add(Zone{".", {}, std::nullopt}));
  CHECK_FALSE(table.add(Zone{"a..b", {}, std::nullopt}));
  auto bad_regexp = table.add(Zone{"z.test", {{"", "(unclosed", 1}}, std::nullopt});
  REQUIRE_FALSE(bad_regexp);
  CHECK(bad_regexp.error().find("invalid regexp") != std::string::npos);
  CHECK_FALSE(table.add(Zone{"z.test", {{"", "", 1}}, std::nullopt}));
  CHECK_FALSE(table.add(Zone{"z.test", {{"a", "b", 1}}, std::nullopt}));
  CHECK(table.list().empty());
}

TEST_CASE("a hostile regexp matches in linear time") {
  // (a+)+$ backtracks exponentially in std::regex: 29 letters took 32 s there.
  ZoneTable table;
  REQUIRE(table.add(Zone{"evil.test", {{"", "(a+)+$", 5}}, 6}));
  const std::string label63 = std::string(62, 'a') + "!";
  const auto started = std::chrono::steady_clock::now();
  auto miss = table.find(name(label63 + ".evil.test"));
  auto hit = table.find(name(std::string(63, 'a') + ".evil.test"));
  auto short_miss = table.find(name(std::string(28, 'a') + "b.evil.test"));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK(elapsed < std::chrono::milliseconds(200));
  REQUIRE(miss.has_value());
  CHECK_FALSE(miss->record_ip.has_value());  // unanchored at the start, but must reach the end
  CHECK(hit->record_ip == 5u);
  CHECK_FALSE(short_miss->record_ip.has_value());
}

TEST_CASE("patterns outside RE2 are refused with RE2's reason") {
  ZoneTable table;
  for (const char* pattern : {"(a)\\1", "a(?=b)", "(?<!x)y", "a{1001}", "((a{100}){100}){100}"}) {
    CAPTURE(pattern);
    auto refused = table.add(Zone{"z.test", {{"", pattern, 1}}, std::nullopt});
    REQUIRE_FALSE(refused);
    CHECK(refused.error().find("invalid regexp") != std::string::npos);
  }
  CHECK(table.list().empty());
  // Go/RE2 syntax that std::regex lacks is accepted.
  REQUIRE(table.add(Zone{"z.test", {{"", "^(?i)WEB\\d+$", 1}, {"", "^[[:alpha:]]+\\z", 2}}, std::nullopt}));
  CHECK(table.find(name("web7.z.test"))->record_ip == 1u);
  CHECK(table.find(name("abc.z.test"))->record_ip == 2u);
}

TEST_CASE("--dns-zone option syntax") {
  auto parsed = parse_zone_option(
      "dev.internal.,default=192.168.127.254,record=gateway:192.168.127.1,regexp=^web-[0-9]{1\\,3}$:192.168.127.5");
  REQUIRE_MESSAGE(parsed, parsed.error());
  CHECK(parsed->name == "dev.internal.");
  CHECK(parsed->default_ip == 0xc0a87ffeu);
  REQUIRE(parsed->records.size() == 2);
  CHECK(parsed->records[0] == ZoneRecord{"gateway", "", 0xc0a87f01});
  CHECK(parsed->records[1] == ZoneRecord{"", "^web-[0-9]{1,3}$", 0xc0a87f05});
  ZoneTable table;
  REQUIRE(table.add(*parsed));
  CHECK(table.find(name("web-123.dev.internal"))->record_ip == 0xc0a87f05u);
  CHECK_FALSE(table.find(name("web-1234.dev.internal"))->record_ip.has_value());

  CHECK(parse_zone_option("only.zone")->records.empty());
  for (const char* bad : {"", "default=1.2.3.4", "z,default=1.2.3", "z,record=a", "z,record=:1.2.3.4",
                          "z,record=a:1.2.3.4.5", "z,colour=blue", "z,regexp=a:"}) {
    auto result = parse_zone_option(bad);
    REQUIRE_MESSAGE(!result, bad);
    CHECK_FALSE(result.error().empty());
  }
}

TEST_CASE("IPv4 text helpers") {
  CHECK(parse_ipv4("192.168.127.1") == 0xc0a87f01u);
  CHECK_FALSE(parse_ipv4("192.168.127").has_value());
  CHECK_FALSE(parse_ipv4("::1").has_value());
  CHECK(format_ipv4(0xc0a87ffe) == "192.168.127.254");
}
