// DNS64 in the server engine: AAAA questions whose answer has no AAAA records get AAAA
// records made from the name's A records (from upstream, the cache or local zones).
#include <doctest/doctest.h>

#include "dns/dns64.hpp"
#include "dns/server.hpp"
#include "tests/unit/dns/dns_test_support.hpp"

using namespace usernet::dns;
using namespace usernet::dns::test;

namespace {

ServerConfig dns64_config() {
  ServerConfig config;
  config.dns64_prefix = std::array<std::uint8_t, 16>{0, 0x64, 0xff, 0x9b};
  return config;
}

std::vector<std::uint8_t> answer_to(const std::vector<std::uint8_t>& query, std::vector<ResourceRecord> answers,
                                    std::vector<ResourceRecord> authorities = {}, Rcode rcode = Rcode::no_error) {
  Message response = response_to(parse_ok(query), std::move(answers), rcode);
  response.authorities = std::move(authorities);
  return encode_message(response);
}

ResourceRecord a_record(const std::string& owner, std::uint32_t ip, std::uint32_t ttl = 300) {
  return ResourceRecord{name(owner), RecordType::a, RecordClass::in, ttl, ipv4_rdata(ip)};
}

std::vector<std::uint8_t> nat64(std::uint32_t ip) {
  return {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<std::uint8_t>(ip >> 24),
          static_cast<std::uint8_t>(ip >> 16), static_cast<std::uint8_t>(ip >> 8), static_cast<std::uint8_t>(ip)};
}

}  // namespace

TEST_CASE("DNS64: an AAAA question with no AAAA upstream asks for A and answers 64:ff9b::a.b.c.d") {
  DnsServer server(dns64_config());
  auto query = query_bytes("V4only.Example", RecordType::aaaa, 0x7777);
  auto first = forward_of(server.handle(query, Transport::udp, 0));
  // No AAAA records, with the zone's SOA (negative TTL 60).
  ResourceRecord soa{name("example"), RecordType::soa, RecordClass::in, 900, soa_rdata("ns.example", "h.example", 60)};
  auto nodata = answer_to(query, {}, {soa});
  auto second = forward_of(server.finish(first.pending, std::span<const std::uint8_t>(nodata), 0));
  auto a_query = parse_ok(second.query);
  REQUIRE(a_query.questions.size() == 1);
  CHECK(a_query.questions[0].type == RecordType::a);
  CHECK(a_query.questions[0].name.equals_ignore_case(name("v4only.example")));
  CHECK(a_query.header.recursion_desired);

  auto a_answer = answer_to(second.query, {a_record("v4only.example", 0xc6336407), a_record("v4only.example", 0xc6336408)});
  auto reply = reply_of(server.finish(second.pending, std::span<const std::uint8_t>(a_answer), 0));
  CHECK(reply.header.id == 0x7777);
  CHECK(reply.questions.at(0).name.to_text() == "V4only.Example.");
  CHECK(reply.questions.at(0).type == RecordType::aaaa);
  CHECK(reply.rcode() == Rcode::no_error);
  REQUIRE(reply.answers.size() == 2);
  CHECK(reply.answers[0].type == RecordType::aaaa);
  CHECK(reply.answers[0].rdata == nat64(0xc6336407));
  CHECK(reply.answers[1].rdata == nat64(0xc6336408));
  CHECK(reply.answers[0].ttl == 60);  // capped by the AAAA answer's negative TTL
  CHECK(server.counters().dns64_synthesized == 1);

  // Both answers are cached now: the next AAAA question is synthesized at once.
  auto again = reply_of(server.handle(query_bytes("v4only.example", RecordType::aaaa, 0x8888), Transport::udp, 1000));
  CHECK(again.header.id == 0x8888);
  REQUIRE(again.answers.size() == 2);
  CHECK(again.answers[0].rdata == nat64(0xc6336407));
  CHECK(server.counters().upstream_queries == 2);
}

TEST_CASE("DNS64: real AAAA records, NXDOMAIN and failures pass through unchanged") {
  DnsServer server(dns64_config());
  auto query = query_bytes("dual.example", RecordType::aaaa);
  auto forward = forward_of(server.handle(query, Transport::udp, 0));
  const std::vector<std::uint8_t> real6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  auto with_aaaa = answer_to(query, {ResourceRecord{name("dual.example"), RecordType::aaaa, RecordClass::in, 300, real6}});
  auto reply = reply_of(server.finish(forward.pending, std::span<const std::uint8_t>(with_aaaa), 0));
  REQUIRE(reply.answers.size() == 1);
  CHECK(reply.answers[0].rdata == real6);

  auto nx_query = query_bytes("nowhere.example", RecordType::aaaa);
  auto nx_forward = forward_of(server.handle(nx_query, Transport::udp, 0));
  auto nx = answer_to(nx_query, {}, {}, Rcode::name_error);
  CHECK(reply_of(server.finish(nx_forward.pending, std::span<const std::uint8_t>(nx), 0)).rcode() == Rcode::name_error);

  CHECK(server.counters().dns64_synthesized == 0);
}

TEST_CASE("DNS64: an AAAA error answer (REFUSED) is treated as empty; without A records it stands") {
  DnsServer server(dns64_config());
  auto query = query_bytes("elsewhere.example", RecordType::aaaa, 4);
  auto first = forward_of(server.handle(query, Transport::udp, 0));
  auto refused = answer_to(query, {}, {}, Rcode::refused);
  auto second = forward_of(server.finish(first.pending, std::span<const std::uint8_t>(refused), 0));
  auto a_answer = answer_to(second.query, {a_record("elsewhere.example", 0xc6336409)});
  auto reply = reply_of(server.finish(second.pending, std::span<const std::uint8_t>(a_answer), 0));
  REQUIRE(reply.answers.size() == 1);
  CHECK(reply.answers[0].rdata == nat64(0xc6336409));
  CHECK(reply_of(server.finish(second.pending, std::nullopt, 0)).rcode() == Rcode::server_failure);
  // A failure without the message (how c-ares reports REFUSED from every server) too:
  // here the A records come from the cache.
  auto after_failure = reply_of(server.finish(first.pending, std::nullopt, 0));
  REQUIRE(after_failure.answers.size() == 1);
  CHECK(after_failure.answers[0].rdata == nat64(0xc6336409));
}

TEST_CASE("DNS64: without A records, or when the A lookup fails, the empty AAAA answer stands") {
  DnsServer server(dns64_config());
  auto query = query_bytes("empty.example", RecordType::aaaa, 3);
  auto first = forward_of(server.handle(query, Transport::udp, 0));
  auto nodata = answer_to(query, {});
  auto second = forward_of(server.finish(first.pending, std::span<const std::uint8_t>(nodata), 0));
  auto no_a = answer_to(second.query, {});
  auto reply = reply_of(server.finish(second.pending, std::span<const std::uint8_t>(no_a), 0));
  CHECK(reply.rcode() == Rcode::no_error);
  CHECK(reply.answers.empty());
  CHECK(reply.header.id == 3);
  auto failed = reply_of(server.finish(second.pending, std::nullopt, 0));
  CHECK(failed.rcode() == Rcode::no_error);  // the AAAA answer, not SERVFAIL
  CHECK(failed.answers.empty());
}

TEST_CASE("DNS64: local names with A records only get synthesized AAAA; the guests' subnet is not") {
  ServerConfig config = dns64_config();
  DnsServer server(config);
  REQUIRE(server.zones().add(*parse_zone_option("apps.test,record=web:198.51.100.7")));
  auto web = reply_of(server.handle(query_bytes("web.apps.test", RecordType::aaaa), Transport::udp, 0));
  REQUIRE(web.answers.size() == 1);
  CHECK(web.answers[0].rdata == nat64(0xc6336407));
  // The host alias (192.168.127.254) is translated by NAT64; the gateway is on the link.
  auto host = reply_of(server.handle(query_bytes("host.containers.internal", RecordType::aaaa), Transport::udp, 0));
  REQUIRE(host.answers.size() == 1);
  CHECK(host.answers[0].rdata == nat64(0xc0a87ffe));
  auto gateway = reply_of(server.handle(query_bytes("gateway.containers.internal", RecordType::aaaa), Transport::udp, 0));
  CHECK(gateway.answers.empty());
  CHECK(server.counters().upstream_queries == 0);
}

TEST_CASE("DNS64: a validating client (DO and CD) gets no synthesized records") {
  DnsServer server(dns64_config());
  Message query = query_message("signed.example", RecordType::aaaa, 9);
  query.header.checking_disabled = true;
  query.edns = Edns{1232, 0, 0, true, {}};
  auto query_wire = encode_message(query);
  auto forward = forward_of(server.handle(query_wire, Transport::udp, 0));
  auto nodata = answer_to(query_wire, {});
  auto reply = reply_of(server.finish(forward.pending, std::span<const std::uint8_t>(nodata), 0));
  CHECK(reply.answers.empty());
}

TEST_CASE("DNS64 pieces: CNAME chains are kept, mapped AAAA records do not count") {
  const std::array<std::uint8_t, 16> prefix{0, 0x64, 0xff, 0x9b};
  ResourceRecord cname{name("www.example"), RecordType::cname, RecordClass::in, 30, name("edge.example").wire()};
  auto out = synthesize_aaaa(prefix, {cname, a_record("edge.example", 0x0a000001, 20)}, std::nullopt, {});
  REQUIRE(out);
  REQUIRE(out->size() == 2);
  CHECK((*out)[0] == cname);
  CHECK((*out)[1].name.to_text() == "edge.example.");
  CHECK((*out)[1].ttl == 20);
  CHECK_FALSE(synthesize_aaaa(prefix, {cname}, std::nullopt, {}));
  CHECK_FALSE(synthesize_aaaa(prefix, {a_record("x", 0x0a000001)}, std::nullopt, [](std::uint32_t) { return true; }));

  const Question aaaa{name("x"), RecordType::aaaa, RecordClass::in};
  const std::vector<std::uint8_t> mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1};
  CHECK(needs_synthesis(aaaa, Rcode::no_error, {ResourceRecord{name("x"), RecordType::aaaa, RecordClass::in, 1, mapped}},
                        false, false));
  CHECK_FALSE(needs_synthesis(aaaa, Rcode::name_error, {}, false, false));
  CHECK_FALSE(needs_synthesis(Question{name("x"), RecordType::a, RecordClass::in}, Rcode::no_error, {}, false, false));
}
