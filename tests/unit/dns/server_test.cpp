#include <doctest/doctest.h>

#include "dns/server.hpp"
#include "tests/unit/dns/dns_test_support.hpp"

using namespace usernet::dns;
using namespace usernet::dns::test;

namespace {

// What an upstream would answer to `query_bytes`: same question, its own id.
std::vector<std::uint8_t> upstream_answer(const std::vector<std::uint8_t>& query_bytes, std::vector<ResourceRecord> answers,
                                          Rcode rcode = Rcode::no_error) {
  auto query = parse_ok(query_bytes);
  auto response = response_to(query, std::move(answers), rcode);
  response.header.id = 0x9999;
  return encode_message(response);
}

ResourceRecord big_txt(const std::string& owner) {
  return ResourceRecord{name(owner), RecordType::txt, RecordClass::in, 300, txt_rdata(4, 200)};
}

}  // namespace

TEST_CASE("local names are answered at once, authoritatively, with the client's id and question") {
  DnsServer server;
  auto reply = reply_of(server.handle(query_bytes("Gateway.Containers.Internal", RecordType::a, 0x4242), Transport::udp, 0));
  CHECK(reply.header.id == 0x4242);
  CHECK(reply.header.response);
  CHECK(reply.header.authoritative);
  CHECK(reply.header.recursion_available);
  CHECK(reply.header.recursion_desired);
  CHECK(reply.questions.at(0).name.to_text() == "Gateway.Containers.Internal.");
  CHECK(reply.answers.at(0).rdata == ipv4_rdata(0xc0a87f01));
  CHECK_FALSE(reply.edns.has_value());
  CHECK(server.counters().local_answers == 1);
  CHECK(server.counters().upstream_queries == 0);

  auto aaaa = reply_of(server.handle(query_bytes("host.docker.internal", RecordType::aaaa), Transport::tcp, 0));
  CHECK(aaaa.rcode() == Rcode::no_error);
  CHECK(aaaa.answers.empty());
  auto nx = reply_of(server.handle(query_bytes("nobody.docker.internal", RecordType::a), Transport::udp, 0));
  CHECK(nx.rcode() == Rcode::name_error);
  CHECK(nx.authorities.at(0).type == RecordType::soa);
}

TEST_CASE("an OPT in the query gets an OPT in the answer, with DO echoed") {
  DnsServer server;
  auto with = reply_of(server.handle(query_bytes("host.containers.internal", RecordType::a, 1, 1232, true), Transport::udp, 0));
  REQUIRE(with.edns.has_value());
  CHECK(with.edns->udp_size == 4096);
  CHECK(with.edns->dnssec_ok);
  CHECK(with.edns->version == 0);
}

TEST_CASE("other names are forwarded raw; finish restores id and question and fills the cache") {
  DnsServer server;
  auto query = query_bytes("WWW.Example.COM", RecordType::a, 0x1111);
  auto forward = forward_of(server.handle(query, Transport::udp, 1000));
  CHECK(forward.query == query);
  CHECK(server.counters().upstream_queries == 1);

  auto lowered = query_bytes("www.example.com", RecordType::a, 0x1111);  // 0x20 case from upstream
  auto answer = upstream_answer(lowered, {ResourceRecord{name("www.example.com"), RecordType::a, RecordClass::in, 120,
                                                         ipv4_rdata(0x5db8d822)}});
  auto reply = reply_of(server.finish(forward.pending, std::span<const std::uint8_t>(answer), 1000));
  CHECK(reply.header.id == 0x1111);
  CHECK(reply.questions.at(0).name.to_text() == "WWW.Example.COM.");
  CHECK(reply.answers.at(0).rdata == ipv4_rdata(0x5db8d822));
  CHECK(reply.rcode() == Rcode::no_error);

  // Next time from the cache, another id, TTL aged by the 30 s that passed.
  auto cached = reply_of(server.handle(query_bytes("www.example.com", RecordType::a, 0x2222), Transport::udp, 31'000));
  CHECK(cached.header.id == 0x2222);
  CHECK_FALSE(cached.header.authoritative);
  CHECK(cached.answers.at(0).ttl == 90);
  CHECK(server.counters().cache_hits == 1);
  CHECK(server.counters().upstream_queries == 1);
  // Expired: forwarded again.
  CHECK(std::holds_alternative<Forward>(server.handle(query, Transport::udp, 121'000)));
}

TEST_CASE("upstream NXDOMAIN passes through; every upstream failure becomes SERVFAIL") {
  DnsServer server;
  auto query = query_bytes("missing.example", RecordType::a, 5);
  auto forward = forward_of(server.handle(query, Transport::udp, 0));

  auto nx = upstream_answer(query, {}, Rcode::name_error);
  CHECK(reply_of(server.finish(forward.pending, std::span<const std::uint8_t>(nx), 0)).rcode() == Rcode::name_error);
  CHECK(server.counters().upstream_failures == 0);

  auto expect_servfail = [&](std::optional<std::span<const std::uint8_t>> bytes) {
    auto reply = reply_of(server.finish(forward.pending, bytes, 0));
    CHECK(reply.rcode() == Rcode::server_failure);
    CHECK(reply.header.id == 5);
    CHECK(reply.questions.at(0).name.to_text() == "missing.example.");
    CHECK(reply.answers.empty());
  };
  expect_servfail(std::nullopt);
  auto refused = upstream_answer(query, {}, Rcode::refused);
  expect_servfail(refused);
  auto other_question = upstream_answer(query_bytes("other.example", RecordType::a), {});
  expect_servfail(other_question);
  std::vector<std::uint8_t> garbage{1, 2, 3};
  expect_servfail(garbage);
  auto not_a_response = query;
  expect_servfail(not_a_response);
  CHECK(server.counters().upstream_failures == 5);
}

TEST_CASE("answers too big for UDP are cut to header and question with TC; TCP gets everything") {
  DnsServer server;
  auto query = query_bytes("big.example", RecordType::txt, 9);
  auto answer = upstream_answer(query, {big_txt("big.example")});
  REQUIRE(answer.size() > 512);

  auto udp = forward_of(server.handle(query, Transport::udp, 0));
  auto cut = reply_of(server.finish(udp.pending, std::span<const std::uint8_t>(answer), 0));
  CHECK(cut.header.truncated);
  CHECK(cut.answers.empty());
  CHECK(cut.questions.size() == 1);
  CHECK(server.counters().truncated == 1);

  // The client retries over TCP: the full answer (here from the cache).
  auto full = reply_of(server.handle(query, Transport::tcp, 0));
  CHECK_FALSE(full.header.truncated);
  CHECK(full.answers.size() == 1);

  // With EDNS the client's size counts (capped at max_udp_size) and the OPT survives the cut.
  auto big_enough = reply_of(server.handle(query_bytes("big.example", RecordType::txt, 10, 1232), Transport::udp, 0));
  CHECK_FALSE(big_enough.header.truncated);
  ServerConfig small;
  small.max_udp_size = 600;
  DnsServer capped(small);
  auto q = query_bytes("big.example", RecordType::txt, 11, 4096);
  auto f = forward_of(capped.handle(q, Transport::udp, 0));
  auto a = upstream_answer(q, {big_txt("big.example"), big_txt("big.example")});
  auto capped_reply = reply_of(capped.finish(f.pending, std::span<const std::uint8_t>(a), 0));
  CHECK(capped_reply.header.truncated);
  CHECK(capped_reply.edns.has_value());
}

TEST_CASE("malformed queries: FORMERR when the header is readable, else a counted drop") {
  DnsServer server;
  CHECK(std::holds_alternative<Drop>(server.handle(std::vector<std::uint8_t>{1, 2, 3}, Transport::udp, 0)));
  CHECK(server.counters().drops == 1);

  auto response = encode_message(response_to(query_message("a.example", RecordType::a), {}));
  CHECK(std::holds_alternative<Drop>(server.handle(response, Transport::udp, 0)));
  CHECK(server.counters().drops == 2);

  auto query = query_bytes("a.example", RecordType::a, 0x7777);
  auto cut = std::vector<std::uint8_t>(query.begin(), query.end() - 2);
  auto formerr = reply_of(server.handle(cut, Transport::udp, 0));
  CHECK(formerr.header.id == 0x7777);
  CHECK(formerr.rcode() == Rcode::format_error);
  CHECK(formerr.questions.empty());

  auto two_questions = query_message("a.example", RecordType::a);
  two_questions.questions.push_back(two_questions.questions[0]);
  CHECK(reply_of(server.handle(encode_message(two_questions), Transport::udp, 0)).rcode() == Rcode::format_error);
  CHECK(reply_of(server.handle(query_bytes("a.example", RecordType::opt), Transport::udp, 0)).rcode() ==
        Rcode::format_error);
  CHECK(server.counters().malformed == 3);
}

TEST_CASE("unsupported requests get NOTIMP, REFUSED or BADVERS") {
  DnsServer server;
  auto notify = query_message("a.example", RecordType::soa);
  notify.header.opcode = Opcode::notify;
  auto notimp = reply_of(server.handle(encode_message(notify), Transport::udp, 0));
  CHECK(notimp.rcode() == Rcode::not_implemented);
  CHECK(notimp.header.opcode == Opcode::notify);

  CHECK(reply_of(server.handle(query_bytes("example.com", RecordType::axfr), Transport::tcp, 0)).rcode() == Rcode::refused);

  auto v1 = query_message("example.com", RecordType::a, 3, 1232);
  v1.edns->version = 1;
  auto badvers = reply_of(server.handle(encode_message(v1), Transport::udp, 0));
  CHECK(badvers.rcode() == Rcode::bad_version);
  CHECK(badvers.edns->version == 0);
  CHECK(server.counters().upstream_queries == 0);
}

TEST_CASE("lease hooks make guests resolvable forwards and backwards") {
  DnsServer server;
  server.set_lease_hooks(LeaseHooks{
      [](std::uint32_t ip) -> std::optional<std::string> {
        return ip == 0xc0a87f05 ? std::optional<std::string>("builder") : std::nullopt;
      },
      [](std::string_view n) -> std::optional<std::uint32_t> {
        return n == "builder" ? std::optional<std::uint32_t>(0xc0a87f05) : std::nullopt;
      }});
  CHECK(reply_of(server.handle(query_bytes("builder.containers.internal", RecordType::a), Transport::udp, 0))
            .answers.at(0).rdata == ipv4_rdata(0xc0a87f05));
  auto ptr = reply_of(server.handle(query_bytes("5.127.168.192.in-addr.arpa", RecordType::ptr), Transport::udp, 0));
  CHECK(DomainName::from_wire(ptr.answers.at(0).rdata)->to_text() == "builder.containers.internal.");
}

TEST_CASE("zones changed at run time take effect on the next query") {
  DnsServer server;
  CHECK(std::holds_alternative<Forward>(server.handle(query_bytes("api.corp.test", RecordType::a), Transport::udp, 0)));
  REQUIRE(server.zones().add(*parse_zone_option("corp.test,record=api:10.1.2.3")));
  CHECK(reply_of(server.handle(query_bytes("api.corp.test", RecordType::a), Transport::udp, 0)).answers.at(0).rdata ==
        ipv4_rdata(0x0a010203));
}
