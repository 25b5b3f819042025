// The DHCPv6 engine against client messages built here byte by byte, and replies read
// with a TLV reader of the test's own.
#include "dhcp/v6/server.hpp"

#include <doctest/doctest.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

using namespace usernet;
using namespace usernet::dhcp6;

namespace {
using Bytes = std::vector<std::uint8_t>;

const MacAddress kServerMac{0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xdd};
const Bytes kClientDuid{0, 3, 0, 1, 0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xee};
const Bytes kOtherDuid{0, 3, 0, 1, 0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xef};
const Bytes kServerDuid{0, 3, 0, 1, 0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xdd};

void put16(Bytes& b, std::uint32_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void put32(Bytes& b, std::uint32_t v) {
  put16(b, v >> 16);
  put16(b, v & 0xffff);
}
Bytes tlv(std::uint16_t code, const Bytes& body) {
  Bytes b;
  put16(b, code);
  put16(b, static_cast<std::uint32_t>(body.size()));
  b.insert(b.end(), body.begin(), body.end());
  return b;
}
Bytes ia_na(std::uint32_t iaid, const Bytes& inner = {}) {
  Bytes body;
  put32(body, iaid);
  put32(body, 0);
  put32(body, 0);
  body.insert(body.end(), inner.begin(), inner.end());
  return tlv(3, body);
}
Bytes ia_address(const char* text) {
  const Ipv6 a = *parse_ipv6(text);
  Bytes body(a.begin(), a.end());
  put32(body, 0);
  put32(body, 0);
  return tlv(5, body);
}
Bytes message(std::uint8_t type, const std::vector<Bytes>& options, std::uint32_t xid = 0x123456) {
  Bytes b{type, static_cast<std::uint8_t>(xid >> 16), static_cast<std::uint8_t>(xid >> 8),
          static_cast<std::uint8_t>(xid)};
  for (const Bytes& o : options) b.insert(b.end(), o.begin(), o.end());
  return b;
}

std::uint16_t be16(const Bytes& b, std::size_t at) { return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]); }
std::uint32_t be32(const Bytes& b, std::size_t at) { return (std::uint32_t{be16(b, at)} << 16) | be16(b, at + 2); }

std::multimap<std::uint16_t, Bytes> read_options(const Bytes& b, std::size_t at) {
  std::multimap<std::uint16_t, Bytes> out;
  while (at < b.size()) {
    REQUIRE(at + 4 <= b.size());
    const std::size_t length = be16(b, at + 2);
    REQUIRE(at + 4 + length <= b.size());
    out.emplace(be16(b, at), Bytes(b.begin() + static_cast<std::ptrdiff_t>(at + 4),
                                   b.begin() + static_cast<std::ptrdiff_t>(at + 4 + length)));
    at += 4 + length;
  }
  return out;
}

struct Reply {
  std::uint8_t type = 0;
  std::uint32_t xid = 0;
  std::multimap<std::uint16_t, Bytes> options;
  const Bytes& one(std::uint16_t code) const {
    REQUIRE(options.count(code) == 1);
    return options.find(code)->second;
  }
};
Reply read_reply(const std::optional<Bytes>& payload) {
  REQUIRE(payload);
  REQUIRE(payload->size() >= 4);
  return Reply{(*payload)[0], be32(*payload, 0) & 0xffffff, read_options(*payload, 4)};
}

/// The address and lifetimes of an IA_NA's one IAADDR; the IA's status code when it has none.
struct IaResult {
  std::uint32_t iaid = 0, t1 = 0, t2 = 0;
  std::optional<Ipv6> address;
  std::uint32_t preferred = 0, valid = 0;
  std::optional<std::uint16_t> status;
};
IaResult read_ia(const Bytes& body) {
  REQUIRE(body.size() >= 12);
  IaResult r;
  r.iaid = be32(body, 0);
  r.t1 = be32(body, 4);
  r.t2 = be32(body, 8);
  for (const auto& [code, inner] : read_options(body, 12)) {
    if (code == 5) {
      REQUIRE(inner.size() >= 24);
      Ipv6 a;
      std::copy(inner.begin(), inner.begin() + 16, a.begin());
      r.address = a;
      r.preferred = be32(inner, 16);
      r.valid = be32(inner, 20);
    } else if (code == 13) {
      r.status = be16(inner, 0);
    }
  }
  return r;
}

Config test_config() {
  Config c;
  c.server_mac = kServerMac;
  c.search_domains = {"containers.internal"};
  c.pool_size = 2;
  return c;
}
}  // namespace

TEST_CASE("DHCPv6 stateless: an information-request gets DNS servers, the domain list and a refresh time") {
  Server server(test_config());
  const Reply r = read_reply(server.handle(message(11, {tlv(1, kClientDuid), tlv(6, {0, 23, 0, 24})}, 0xabcdef), 0));
  CHECK(r.type == 7);
  CHECK(r.xid == 0xabcdef);
  CHECK(r.one(1) == kClientDuid);
  CHECK(r.one(2) == kServerDuid);  // DUID-LL of the gateway's MAC
  const Ipv6 dns = *parse_ipv6("fd00::1");
  CHECK(r.one(23) == Bytes(dns.begin(), dns.end()));
  CHECK(r.one(24) == Bytes{10, 'c', 'o', 'n', 't', 'a', 'i', 'n', 'e', 'r', 's', 8, 'i', 'n', 't', 'e', 'r', 'n', 'a',
                           'l', 0});
  CHECK(be32(r.one(32), 0) == 86400);
  CHECK(r.options.count(3) == 0);
  // Without a client identifier it is still answered (RFC 8415 §16.12 allows that).
  CHECK(read_reply(server.handle(message(11, {}), 0)).type == 7);
  CHECK(server.counters().replies == 2);
}

TEST_CASE("DHCPv6 stateful: solicit, advertise, request, reply binds an address from the pool") {
  Server server(test_config());
  const Reply advertise = read_reply(server.handle(message(1, {tlv(1, kClientDuid), ia_na(7)}), 0));
  CHECK(advertise.type == 2);
  CHECK(advertise.one(2) == kServerDuid);
  const IaResult offered = read_ia(advertise.one(3));
  CHECK(offered.iaid == 7);
  REQUIRE(offered.address);
  CHECK(format_ipv6(*offered.address) == "fd00::100");
  CHECK(server.leases(0).empty());  // an offer is not a lease

  const Reply reply = read_reply(server.handle(
      message(3, {tlv(1, kClientDuid), tlv(2, kServerDuid), ia_na(7, ia_address("fd00::100"))}), 1000));
  CHECK(reply.type == 7);
  const IaResult bound = read_ia(reply.one(3));
  REQUIRE(bound.address);
  CHECK(format_ipv6(*bound.address) == "fd00::100");
  CHECK(bound.preferred == 3600);
  CHECK(bound.valid == 7200);
  CHECK(bound.t1 == 1800);
  CHECK(bound.t2 == 2880);
  const auto leases = server.leases(1000);
  REQUIRE(leases.size() == 1);
  CHECK(leases[0].duid == kClientDuid);
  CHECK(leases[0].iaid == 7);
  CHECK(leases[0].expires_ms == 1000 + 7200 * 1000);

  // Another client gets the next address, not the bound one.
  const Reply other = read_reply(server.handle(message(1, {tlv(1, kOtherDuid), ia_na(1)}), 2000));
  CHECK(format_ipv6(*read_ia(other.one(3)).address) == "fd00::101");
}

TEST_CASE("DHCPv6: rapid commit binds at once; a full pool says NoAddrsAvail") {
  Server server(test_config());
  const Reply first = read_reply(server.handle(message(1, {tlv(1, kClientDuid), tlv(14, {}), ia_na(1)}), 0));
  CHECK(first.type == 7);
  CHECK(first.options.count(14) == 1);
  CHECK(server.leases(0).size() == 1);
  read_reply(server.handle(message(1, {tlv(1, kOtherDuid), tlv(14, {}), ia_na(1)}), 0));
  CHECK(server.leases(0).size() == 2);
  const Bytes third{0, 3, 0, 1, 1, 2, 3, 4, 5, 6};
  const Reply full = read_reply(server.handle(message(1, {tlv(1, third), ia_na(1)}), 0));
  const IaResult ia = read_ia(full.one(3));
  CHECK_FALSE(ia.address);
  REQUIRE(ia.status);
  CHECK(*ia.status == 2);
  CHECK(server.counters().no_addresses == 1);
}

TEST_CASE("DHCPv6: renew extends, rebind after a restart is honoured, release frees, decline holds back") {
  Server server(test_config());
  read_reply(server.handle(message(1, {tlv(1, kClientDuid), tlv(14, {}), ia_na(1)}), 0));
  const Reply renewed = read_reply(server.handle(
      message(5, {tlv(1, kClientDuid), tlv(2, kServerDuid), ia_na(1, ia_address("fd00::100"))}), 3'000'000));
  CHECK(format_ipv6(*read_ia(renewed.one(3)).address) == "fd00::100");
  CHECK(server.leases(3'000'000)[0].expires_ms == 3'000'000 + 7'200'000);

  Server restarted(test_config());  // knows nothing of the lease
  const Reply rebound = read_reply(restarted.handle(message(6, {tlv(1, kClientDuid), ia_na(1, ia_address("fd00::100"))}), 0));
  CHECK(format_ipv6(*read_ia(rebound.one(3)).address) == "fd00::100");
  const Reply foreign = read_reply(restarted.handle(
      message(5, {tlv(1, kOtherDuid), tlv(2, kServerDuid), ia_na(1, ia_address("fd00::100"))}), 0));
  CHECK(read_ia(foreign.one(3)).status == std::optional<std::uint16_t>(3));  // NoBinding: someone else's

  const Reply released = read_reply(restarted.handle(
      message(8, {tlv(1, kClientDuid), tlv(2, kServerDuid), ia_na(1, ia_address("fd00::100"))}), 10));
  CHECK(be16(released.one(13), 0) == 0);
  CHECK(restarted.leases(10).empty());

  read_reply(restarted.handle(message(1, {tlv(1, kOtherDuid), tlv(14, {}), ia_na(1)}), 20));
  read_reply(restarted.handle(
      message(9, {tlv(1, kOtherDuid), tlv(2, kServerDuid), ia_na(1, ia_address("fd00::100"))}), 30));
  // The declined address is out of the pool: the next client gets fd00::101.
  const Reply next = read_reply(restarted.handle(message(1, {tlv(1, kClientDuid), ia_na(9)}), 40));
  CHECK(format_ipv6(*read_ia(next.one(3)).address) == "fd00::101");
}

TEST_CASE("DHCPv6: confirm says whether the addresses are on this link") {
  Server server(test_config());
  const Reply yes = read_reply(server.handle(message(4, {tlv(1, kClientDuid), ia_na(1, ia_address("fd00::123"))}), 0));
  CHECK(be16(yes.one(13), 0) == 0);
  const Reply no = read_reply(server.handle(message(4, {tlv(1, kClientDuid), ia_na(1, ia_address("fd01::1"))}), 0));
  CHECK(be16(no.one(13), 0) == 4);
  CHECK_FALSE(server.handle(message(4, {tlv(1, kClientDuid)}), 0));
  CHECK(server.counters().drops_of(Drop::nothing_to_confirm) == 1);
}

TEST_CASE("DHCPv6: messages that break RFC 8415 §16 or lie about lengths are counted drops") {
  Server server(test_config());
  const Bytes foreign_server{0, 3, 0, 1, 9, 9, 9, 9, 9, 9};
  CHECK_FALSE(server.handle(Bytes{1, 2, 3}, 0));
  CHECK_FALSE(server.handle(Bytes{11, 0, 0, 1, 0, 1, 0, 9, 1}, 0));                       // option overruns
  CHECK_FALSE(server.handle(message(1, {tlv(1, kClientDuid), tlv(3, {0, 0, 0, 1})}), 0));  // IA_NA too short
  CHECK(server.counters().drops_of(Drop::malformed) == 3);
  CHECK_FALSE(server.handle(message(7, {tlv(1, kClientDuid)}), 0));
  CHECK_FALSE(server.handle(message(12, {}), 0));
  CHECK(server.counters().drops_of(Drop::server_message) == 2);
  CHECK_FALSE(server.handle(message(200, {}), 0));
  CHECK(server.counters().drops_of(Drop::unknown_type) == 1);
  CHECK_FALSE(server.handle(message(1, {ia_na(1)}), 0));
  CHECK(server.counters().drops_of(Drop::missing_client_id) == 1);
  CHECK_FALSE(server.handle(message(1, {tlv(1, kClientDuid), tlv(2, kServerDuid), ia_na(1)}), 0));
  CHECK_FALSE(server.handle(message(3, {tlv(1, kClientDuid), tlv(2, foreign_server), ia_na(1)}), 0));
  CHECK_FALSE(server.handle(message(11, {tlv(2, foreign_server)}), 0));
  CHECK(server.counters().drops_of(Drop::bad_server_id) == 3);
  CHECK_FALSE(server.handle(message(3, {tlv(1, kClientDuid), ia_na(1)}), 0));
  CHECK(server.counters().drops_of(Drop::missing_server_id) == 1);
  CHECK_FALSE(server.handle(message(11, {tlv(1, kClientDuid), ia_na(1)}), 0));
  CHECK(server.counters().drops_of(Drop::unexpected_ia) == 1);
  CHECK(server.leases(0).empty());
  CHECK(server.counters().replies + server.counters().advertises == 0);
}

TEST_CASE("DHCPv6: without a pool a solicit is told NoAddrsAvail once, stateless still works") {
  Config c = test_config();
  c.pool_size = 0;
  Server server(c);
  const Reply r = read_reply(server.handle(message(1, {tlv(1, kClientDuid), ia_na(1)}), 0));
  CHECK(r.type == 2);
  CHECK(be16(r.one(13), 0) == 2);
  CHECK(r.options.count(3) == 0);
  CHECK(read_reply(server.handle(message(11, {tlv(1, kClientDuid)}), 0)).type == 7);
}

TEST_CASE("DHCPv6: configurations that cannot serve are refused") {
  Config c = test_config();
  CHECK(c.validate());
  c.pool_first = *parse_ipv6("fd01::100");
  CHECK_THROWS_AS(Server{c}, std::invalid_argument);
  c = test_config();
  c.preferred_lifetime_s = c.valid_lifetime_s + 1;
  CHECK_FALSE(c.validate());
  c = test_config();
  c.search_domains = {"a..b"};
  CHECK_FALSE(c.validate());
}

TEST_CASE("DHCPv6: offers to clients that never came back expire, so new clients still get addresses") {
  Server server(test_config());  // a pool of two
  for (std::uint8_t i = 0; i < 50; ++i) {
    const Bytes duid{0, 3, 0, 1, 2, 0, 0, 0, 0, i};
    // Each client is offered an address and vanishes; the offer is held 60 s.
    const Reply r = read_reply(server.handle(message(1, {tlv(1, duid), ia_na(1)}), std::uint64_t{i} * 61'000));
    CHECK(read_ia(r.one(3)).address.has_value());
  }
  CHECK(server.counters().no_addresses == 0);
}

TEST_CASE("DHCPv6: a client's DUID reads as its MAC when it carries one, else as hex") {
  CHECK(describe_client(kClientDuid) == "5a:94:ef:e4:0c:ee");  // DUID-LL, Ethernet
  CHECK(describe_client({0, 1, 0, 1, 0x2c, 0x3d, 0x4e, 0x5f, 0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xee}) ==
        "5a:94:ef:e4:0c:ee");                                    // DUID-LLT, Ethernet
  CHECK(describe_client({0, 2, 0, 0, 0x12, 0x34}) == "duid:000200001234");  // DUID-EN
  CHECK(describe_client({0, 3, 0, 6, 1, 2, 3, 4, 5, 6}) == "duid:00030006010203040506");  // not Ethernet
  CHECK(describe_client({}) == "duid:");
}
