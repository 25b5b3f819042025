// UpstreamResolver and DnsService against a DNS server this test runs on 127.0.0.1.
// Every resolver here gets explicit 127.0.0.1 servers: the machine's resolver is never used.
#include <doctest/doctest.h>

#include <memory>

#include "dns/service.hpp"
#include "dns/upstream_resolver.hpp"
#include "tests/unit/dns/dns_test_support.hpp"
#include "tests/unit/dns/loopback_dns_server.hpp"

using namespace usernet::dns;
using namespace usernet::dns::test;

namespace {

// A private loop that must end with every handle closed.
struct Loop {
  uv_loop_t loop;
  Loop() { uv_loop_init(&loop); }
  ~Loop() {
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }
};

struct Outcome {
  bool done = false;
  std::optional<std::vector<std::uint8_t>> answer;
};

UpstreamResolver::Callback record_into(Outcome& outcome) {
  return [&outcome](std::optional<std::vector<std::uint8_t>> answer) {
    outcome.done = true;
    outcome.answer = std::move(answer);
  };
}

const UpstreamOptions kQuick{300, 1};

}  // namespace

TEST_CASE("server lists: IP, IP:PORT and [IPv6]:PORT become c-ares CSV; junk is refused") {
  const auto csv = upstream_servers_csv({"127.0.0.1", "127.0.0.1:5353", "[::1]:53", "::1"});
  REQUIRE(csv);
  CHECK(*csv == "127.0.0.1:53,127.0.0.1:5353,[::1]:53,[::1]:53");
  for (const char* bad : {"localhost", "127.0.0.1:0", "127.0.0.1:70000", "127.0.0.1:", "[::1", "1.2.3", "[::1]x"}) {
    const auto refused = upstream_servers_csv({bad});
    REQUIRE_MESSAGE(!refused, bad);
    CHECK_FALSE(refused.error().empty());
  }
  Loop l;
  CHECK_THROWS_AS(UpstreamResolver(&l.loop, {"not-an-ip"}), std::invalid_argument);
}

TEST_CASE("a query goes to the upstream over UDP and the raw answer comes back") {
  Loop l;
  auto server = std::make_unique<LoopbackDnsServer>(&l.loop);
  auto resolver = std::make_unique<UpstreamResolver>(&l.loop, std::vector<std::string>{server->address()}, kQuick);
  Outcome outcome;
  resolver->resolve(query_bytes("a.test", RecordType::a, 0xabcd), record_into(outcome));
  CHECK_FALSE(outcome.done);  // never called back from inside resolve()
  REQUIRE(run_until(&l.loop, [&] { return outcome.done; }));
  REQUIRE(outcome.answer.has_value());
  auto answer = parse_ok(*outcome.answer);
  CHECK(answer.answers.at(0).rdata == ipv4_rdata(0x0a000001));
  CHECK(server->udp_queries == 1);
  CHECK(server->tcp_queries == 0);
  CHECK(resolver->pending() == 0);
}

TEST_CASE("a truncated UDP answer makes c-ares retry over TCP and the full answer arrives") {
  Loop l;
  auto server = std::make_unique<LoopbackDnsServer>(&l.loop);
  auto resolver = std::make_unique<UpstreamResolver>(&l.loop, std::vector<std::string>{server->address()}, kQuick);
  Outcome outcome;
  resolver->resolve(query_bytes("big.test", RecordType::txt), record_into(outcome));
  REQUIRE(run_until(&l.loop, [&] { return outcome.done; }));
  REQUIRE(outcome.answer.has_value());
  CHECK(outcome.answer->size() > 512);
  auto answer = parse_ok(*outcome.answer);
  CHECK_FALSE(answer.header.truncated);
  CHECK(answer.answers.at(0).rdata == txt_rdata(4, 200));
  CHECK(server->udp_queries == 1);
  CHECK(server->tcp_queries == 1);
}

TEST_CASE("a server that refuses fails the query; a second server is used as fallback") {
  Loop l;
  std::string refused = "127.0.0.1:" + std::to_string(unused_udp_port(&l.loop));
  {
    UpstreamResolver alone(&l.loop, {refused}, kQuick);
    Outcome outcome;
    alone.resolve(query_bytes("a.test", RecordType::a), record_into(outcome));
    REQUIRE(run_until(&l.loop, [&] { return outcome.done; }));
    CHECK_FALSE(outcome.answer.has_value());
  }
  auto server = std::make_unique<LoopbackDnsServer>(&l.loop);
  UpstreamResolver fallback(&l.loop, {refused, server->address()}, kQuick);
  Outcome outcome;
  fallback.resolve(query_bytes("a.test", RecordType::a), record_into(outcome));
  REQUIRE(run_until(&l.loop, [&] { return outcome.done; }));
  REQUIRE(outcome.answer.has_value());
  CHECK(parse_ok(*outcome.answer).answers.size() == 1);
  CHECK(server->udp_queries == 1);
}

TEST_CASE("a query c-ares rejects at once still fails through the loop, not inside resolve()") {
  Loop l;
  auto server = std::make_unique<LoopbackDnsServer>(&l.loop);
  UpstreamResolver resolver(&l.loop, {server->address()}, kQuick);
  Outcome outcome;
  resolver.resolve(std::vector<std::uint8_t>{1, 2, 3}, record_into(outcome));
  CHECK_FALSE(outcome.done);
  REQUIRE(run_until(&l.loop, [&] { return outcome.done; }, 1000));
  CHECK_FALSE(outcome.answer.has_value());
  CHECK(server->udp_queries == 0);
}

TEST_CASE("a silent server times out into a failure") {
  Loop l;
  auto silent = std::make_unique<LoopbackDnsServer>(&l.loop, false);
  UpstreamResolver resolver(&l.loop, {silent->address()}, UpstreamOptions{100, 1});
  Outcome outcome;
  auto started = uv_now(&l.loop);
  resolver.resolve(query_bytes("a.test", RecordType::a), record_into(outcome));
  REQUIRE(run_until(&l.loop, [&] { return outcome.done; }, 5000));
  CHECK_FALSE(outcome.answer.has_value());
  CHECK(uv_now(&l.loop) - started >= 90);
}

TEST_CASE("destroying the resolver drops pending callbacks, also from inside a callback") {
  Loop l;
  auto server = std::make_unique<LoopbackDnsServer>(&l.loop);
  SUBCASE("with a query in flight") {
    auto resolver = std::make_unique<UpstreamResolver>(&l.loop, std::vector<std::string>{server->address()}, kQuick);
    bool called = false;
    resolver->resolve(query_bytes("a.test", RecordType::a), [&](auto) { called = true; });
    resolver.reset();
    run_until(&l.loop, [] { return false; }, 100);
    CHECK_FALSE(called);
  }
  SUBCASE("from the first of two callbacks") {
    auto resolver = std::make_unique<UpstreamResolver>(&l.loop, std::vector<std::string>{server->address()}, kQuick);
    int calls = 0;
    auto destroy = [&](auto) {
      ++calls;
      resolver.reset();
    };
    resolver->resolve(query_bytes("a.test", RecordType::a, 1), destroy);
    resolver->resolve(query_bytes("a.test", RecordType::a, 2), destroy);
    REQUIRE(run_until(&l.loop, [&] { return calls > 0; }));
    run_until(&l.loop, [] { return false; }, 100);
    CHECK(calls == 1);
  }
}

TEST_CASE("DnsService: forwarded, then cached, local names never reach the upstream") {
  Loop l;
  auto server = std::make_unique<LoopbackDnsServer>(&l.loop);
  auto service = std::make_unique<DnsService>(&l.loop, ServerConfig{}, std::vector<std::string>{server->address()}, kQuick);
  std::vector<std::vector<std::uint8_t>> answers;
  auto collect = [&](std::vector<std::uint8_t> answer) { answers.push_back(std::move(answer)); };

  service->query(query_bytes("A.Test", RecordType::a, 0x0101), Transport::udp, collect);
  REQUIRE(run_until(&l.loop, [&] { return answers.size() == 1; }));
  auto first = parse_ok(answers[0]);
  CHECK(first.header.id == 0x0101);
  CHECK(first.questions.at(0).name.to_text() == "A.Test.");
  CHECK(first.answers.at(0).rdata == ipv4_rdata(0x0a000001));

  service->query(query_bytes("a.test", RecordType::a, 0x0202), Transport::udp, collect);
  REQUIRE(answers.size() == 2);  // from the cache, synchronously
  CHECK(parse_ok(answers[1]).header.id == 0x0202);
  service->query(query_bytes("host.containers.internal", RecordType::aaaa), Transport::udp, collect);
  REQUIRE(answers.size() == 3);
  CHECK(server->udp_queries == 1);

  // Big answer over UDP without EDNS: TC to the client, although the upstream used TCP.
  service->query(query_bytes("big.test", RecordType::txt, 0x0303), Transport::udp, collect);
  REQUIRE(run_until(&l.loop, [&] { return answers.size() == 4; }));
  CHECK(parse_ok(answers[3]).header.truncated);
  service->query(query_bytes("big.test", RecordType::txt, 0x0404), Transport::tcp, collect);
  REQUIRE(answers.size() == 5);
  CHECK(parse_ok(answers[4]).answers.size() == 1);

  // Upstream gone: SERVFAIL.
  server.reset();
  service->query(query_bytes("nxdomain.test", RecordType::a, 0x0505), Transport::udp, collect);
  REQUIRE(run_until(&l.loop, [&] { return answers.size() == 6; }));
  CHECK(parse_ok(answers[5]).rcode() == Rcode::server_failure);
  const auto& counters = service->server().counters();
  CHECK(counters.upstream_queries == 3);
  CHECK(counters.upstream_failures == 1);
  CHECK(counters.cache_hits == 2);
  CHECK(counters.local_answers == 1);
}
