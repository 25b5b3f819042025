// Which options a reply carries and how they are fitted into the size the client accepts.
#include <doctest/doctest.h>

#include "dhcp/server.hpp"
#include "dhcp_test_support.hpp"

using namespace usernet;
using namespace usernet::dhcp;
using namespace usernet::dhcp::test;

namespace {

constexpr std::uint64_t kNow = 1000;

Message offer_for(Server& server, const RequestBuilder& request, std::vector<std::uint8_t>* raw = nullptr) {
  const auto reply = server.handle(request.bytes(), kNow);
  REQUIRE(reply);
  if (raw) *raw = reply->payload;
  return parse_reply(reply->payload);
}

/// Twelve distinct domains of about 30 bytes each on the wire (no shared suffix but the TLD).
std::vector<std::string> many_domains() {
  std::vector<std::string> domains;
  for (char c = 'a'; c < 'a' + 12; ++c) domains.push_back(std::string(20, c) + ".corp.example");
  return domains;
}

}  // namespace

TEST_CASE("broadcast address and classless routes are sent only when requested") {
  Config config;
  config.classless_routes = {{ipv4(10, 10, 0, 0), 16, ipv4(192, 168, 127, 1)}};
  Server server{config};

  const Message plain = offer_for(server, RequestBuilder(MessageType::discover, kMacA).parameter_list({1, 3, 6}));
  CHECK_FALSE(plain.options.find(OptionCode::broadcast_address));
  CHECK_FALSE(plain.options.find(OptionCode::classless_static_route));
  // Always there, requested or not (udhcpc does not ask for 26 but uses it).
  CHECK(plain.options.find_u16(OptionCode::interface_mtu) == 1500);
  CHECK(plain.options.find(OptionCode::lease_time));

  const Message asked = offer_for(server, RequestBuilder(MessageType::discover, kMacA).parameter_list({1, 28, 121, 3}));
  CHECK(asked.options.find_ipv4(OptionCode::broadcast_address) == ipv4(192, 168, 127, 255));
  // The configured route plus a default route via the gateway, since option 3 is ignored
  // by clients that use option 121.
  CHECK(option_bytes(asked, 121) ==
        std::vector<std::uint8_t>{16, 10, 10, 192, 168, 127, 1, 0, 192, 168, 127, 1});
}

TEST_CASE("a client without a parameter request list gets every configured option") {
  Config config;
  config.classless_routes = {{0, 0, ipv4(192, 168, 127, 1)}, {ipv4(172, 16, 0, 0), 12, ipv4(192, 168, 127, 1)}};
  config.domain_name = "containers.internal";
  config.search_domains = {"containers.internal"};
  Server server{config};
  const Message m = offer_for(server, RequestBuilder(MessageType::discover, kMacA));
  CHECK(m.options.find(OptionCode::broadcast_address));
  // A configured default route is not duplicated.
  CHECK(option_bytes(m, 121) == std::vector<std::uint8_t>{0, 192, 168, 127, 1, 12, 172, 16, 192, 168, 127, 1});
  CHECK(option_bytes(m, 15) == std::vector<std::uint8_t>{'c', 'o', 'n', 't', 'a', 'i', 'n', 'e', 'r', 's', '.',
                                                         'i', 'n', 't', 'e', 'r', 'n', 'a', 'l'});
  CHECK(decode_names(*option_bytes(m, 119)) == std::vector<std::string>{"containers.internal"});
}

TEST_CASE("udhcpc's and dhclient's default request lists get router, DNS, MTU and search") {
  Config config;
  config.domain_name = "containers.internal";
  config.search_domains = {"containers.internal", "example.com"};
  Server server{config};
  const std::vector<std::vector<std::uint8_t>> lists{
      {1, 3, 6, 12, 15, 28, 42},                               // busybox udhcpc
      {1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42},      // ISC dhclient (Debian)
  };
  for (const auto& list : lists) {
    const Message m = offer_for(server, RequestBuilder(MessageType::discover, kMacA).parameter_list(list));
    CHECK(m.options.find_ipv4(OptionCode::router) == ipv4(192, 168, 127, 1));
    CHECK(m.options.find_ipv4(OptionCode::domain_name_server) == ipv4(192, 168, 127, 1));
    CHECK(m.options.find_u16(OptionCode::interface_mtu) == 1500);
    CHECK(decode_names(*option_bytes(m, 119)) ==
          std::vector<std::string>{"containers.internal", "example.com"});
    CHECK(m.options.find(OptionCode::domain_name));
  }
}

TEST_CASE("replies fit in 576 bytes by default; the search list is shortened by whole domains") {
  Config config;
  config.search_domains = many_domains();
  for (std::uint8_t i = 0; i < 8; ++i) config.dns_servers.push_back(ipv4(10, 0, 0, i));
  config.classless_routes = {{ipv4(10, 1, 0, 0), 16, ipv4(192, 168, 127, 1)}};
  Server server{config};
  std::vector<std::uint8_t> raw;
  for (const std::optional<std::uint16_t> max_size : {std::optional<std::uint16_t>{}, std::optional<std::uint16_t>{576},
                                                      std::optional<std::uint16_t>{300}}) {
    auto request = RequestBuilder(MessageType::discover, kMacA).parameter_list({1, 3, 6, 28, 121, 119});
    if (max_size) request.max_message_size(*max_size);
    const Message m = offer_for(server, request, &raw);
    CHECK(raw.size() + kIpUdpHeaderSize <= 576);
    // Nothing essential was dropped.
    CHECK(m.options.find(OptionCode::lease_time));
    CHECK(m.options.find(OptionCode::server_id));
    CHECK(m.options.find(OptionCode::router));
    CHECK(option_bytes(m, 6)->size() == 9 * 4);
    CHECK(m.options.find(OptionCode::classless_static_route));
    // The search list is a proper, non-empty prefix of the configured one.
    const auto names = decode_names(*option_bytes(m, 119));
    REQUIRE(names);
    CHECK(names->size() >= 1);
    CHECK(names->size() < config.search_domains.size());
    CHECK(std::equal(names->begin(), names->end(), config.search_domains.begin()));
  }
}

TEST_CASE("a larger maximum message size gets the whole search list, split per RFC 3396") {
  Config config;
  config.search_domains = many_domains();
  Server server{config};
  std::vector<std::uint8_t> raw;
  const Message m = offer_for(server, RequestBuilder(MessageType::discover, kMacA).max_message_size(1500), &raw);
  CHECK(raw.size() + kIpUdpHeaderSize <= 1500);
  const auto search = option_bytes(m, 119);
  REQUIRE(search);
  CHECK(search->size() > 255);
  CHECK(count_instances(raw, 119) == (search->size() + 254) / 255);
  CHECK(decode_names(*search) == config.search_domains);
}

TEST_CASE("the link MTU caps the reply size even when the client accepts more") {
  Config config;
  config.search_domains = many_domains();
  config.mtu = 576;
  Server server{config};
  std::vector<std::uint8_t> raw;
  const Message m = offer_for(server, RequestBuilder(MessageType::discover, kMacA).max_message_size(9000), &raw);
  CHECK(raw.size() + kIpUdpHeaderSize <= 576);
  CHECK(decode_names(*option_bytes(m, 119))->size() < config.search_domains.size());
}

TEST_CASE("a search list longer than any budget is left out rather than overflowing") {
  Config config;
  // One 250-byte name cannot fit in 576 bytes next to the other options and 60 DNS servers.
  config.search_domains = {std::string(60, 'a') + "." + std::string(60, 'b') + "." + std::string(60, 'c') + "." +
                           std::string(60, 'd')};
  for (std::uint8_t i = 0; i < 59; ++i) config.dns_servers.push_back(ipv4(10, 0, 1, i));
  Server server{config};
  std::vector<std::uint8_t> raw;
  const Message m = offer_for(server, RequestBuilder(MessageType::discover, kMacA), &raw);
  CHECK(raw.size() + kIpUdpHeaderSize <= 576);
  CHECK_FALSE(m.options.find(OptionCode::domain_search));
  CHECK(option_bytes(m, 6)->size() == 60 * 4);
}
