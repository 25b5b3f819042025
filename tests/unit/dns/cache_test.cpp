#include <doctest/doctest.h>

#include "dns/cache.hpp"
#include "tests/unit/dns/dns_test_support.hpp"

using namespace usernet::dns;
using namespace usernet::dns::test;

namespace {

Message a_response(const std::string& qname, std::uint32_t ttl) {
  auto query = query_message(qname, RecordType::a);
  return response_to(query, {ResourceRecord{name(qname), RecordType::a, RecordClass::in, ttl, ipv4_rdata(0x0a000001)}});
}

CacheKey key_for(const std::string& qname, RecordType type = RecordType::a, bool dnssec_ok = false) {
  return make_cache_key(Question{name(qname), type, RecordClass::in}, dnssec_ok, false);
}

Message negative_response(const std::string& qname, Rcode rcode, std::uint32_t soa_ttl, std::uint32_t minimum) {
  auto response = response_to(query_message(qname, RecordType::a), {}, rcode);
  response.authorities.push_back(ResourceRecord{name("example.com"), RecordType::soa, RecordClass::in, soa_ttl,
                                                soa_rdata("ns.example.com", "h.example.com", minimum)});
  return response;
}

}  // namespace

TEST_CASE("positive answers are served with decremented TTLs until they expire") {
  AnswerCache cache;
  CHECK(cache.store(key_for("www.example.com"), a_response("www.example.com", 60), 1000));
  auto hit = cache.lookup(key_for("WWW.EXAMPLE.COM"), 1000 + 10'500);
  REQUIRE(hit.has_value());
  CHECK(hit->answers.at(0).ttl == 50);
  CHECK(hit->answers.at(0).rdata == ipv4_rdata(0x0a000001));
  CHECK(cache.lookup(key_for("www.example.com"), 1000 + 59'999)->answers.at(0).ttl == 1);
  CHECK_FALSE(cache.lookup(key_for("www.example.com"), 1000 + 60'000).has_value());
  CHECK(cache.entries() == 0);  // expired entries go on lookup
  CHECK(cache.bytes() == 0);
}

TEST_CASE("the key separates type, class and the DO bit") {
  AnswerCache cache;
  cache.store(key_for("a.example"), a_response("a.example", 60), 0);
  CHECK_FALSE(cache.lookup(key_for("a.example", RecordType::aaaa), 0).has_value());
  CHECK_FALSE(cache.lookup(key_for("a.example", RecordType::a, true), 0).has_value());
  CHECK_FALSE(cache.lookup(make_cache_key(Question{name("a.example"), RecordType::a, RecordClass::ch}, false, false), 0)
                  .has_value());
  CHECK(cache.lookup(key_for("a.example"), 0).has_value());
}

TEST_CASE("entry lifetime is the smallest TTL, capped at max_ttl") {
  AnswerCache cache(CacheLimits{16, 1 << 20, 100, 50});
  auto response = a_response("x.example", 1'000'000);
  response.answers.push_back(ResourceRecord{name("x.example"), RecordType::a, RecordClass::in, 30, ipv4_rdata(2)});
  cache.store(key_for("x.example"), response, 0);
  auto hit = cache.lookup(key_for("x.example"), 0);
  CHECK(hit->answers[0].ttl == 100);
  CHECK(hit->answers[1].ttl == 30);
  CHECK_FALSE(cache.lookup(key_for("x.example"), 30'000).has_value());
}

TEST_CASE("negative answers are cached for min(SOA TTL, MINIMUM), capped, only with an SOA") {
  AnswerCache cache(CacheLimits{16, 1 << 20, 86400, 600});
  CHECK(cache.store(key_for("nx.example.com"), negative_response("nx.example.com", Rcode::name_error, 3600, 120), 0));
  auto hit = cache.lookup(key_for("nx.example.com"), 20'000);
  REQUIRE(hit.has_value());
  CHECK(hit->rcode == Rcode::name_error);
  CHECK(hit->authorities.at(0).ttl == 100);  // SOA TTL set to the negative TTL, then aged
  CHECK_FALSE(cache.lookup(key_for("nx.example.com"), 120'000).has_value());

  // NODATA counts as negative too; the cap applies.
  CHECK(cache.store(key_for("nodata.example.com"), negative_response("nodata.example.com", Rcode::no_error, 9000, 9000), 0));
  CHECK(cache.lookup(key_for("nodata.example.com"), 599'000).has_value());
  CHECK_FALSE(cache.lookup(key_for("nodata.example.com"), 600'000).has_value());

  // No SOA: not cached (RFC 2308 section 5).
  CHECK_FALSE(cache.store(key_for("nosoa.example"), response_to(query_message("nosoa.example", RecordType::a), {},
                                                                 Rcode::name_error), 0));
}

TEST_CASE("failures, truncated and zero-TTL answers are not cached") {
  AnswerCache cache;
  auto servfail = response_to(query_message("s.example", RecordType::a), {}, Rcode::server_failure);
  CHECK_FALSE(cache.store(key_for("s.example"), servfail, 0));
  auto truncated = a_response("t.example", 60);
  truncated.header.truncated = true;
  CHECK_FALSE(cache.store(key_for("t.example"), truncated, 0));
  CHECK_FALSE(cache.store(key_for("z.example"), a_response("z.example", 0), 0));
  CHECK(cache.entries() == 0);
}

TEST_CASE("the cache stays within its entry and byte bounds, evicting least recently used") {
  AnswerCache by_count(CacheLimits{3, 1 << 20, 86400, 3600});
  for (const char* n : {"a.example", "b.example", "c.example"}) by_count.store(key_for(n), a_response(n, 60), 0);
  CHECK(by_count.lookup(key_for("a.example"), 0).has_value());  // a is now the most recent
  by_count.store(key_for("d.example"), a_response("d.example", 60), 0);
  CHECK(by_count.entries() == 3);
  CHECK_FALSE(by_count.lookup(key_for("b.example"), 0).has_value());
  CHECK(by_count.lookup(key_for("a.example"), 0).has_value());
  CHECK(by_count.lookup(key_for("d.example"), 0).has_value());

  AnswerCache by_bytes(CacheLimits{1000, 2000, 86400, 3600});
  auto big = [](const std::string& n) {
    auto response = a_response(n, 60);
    response.answers[0] = ResourceRecord{name(n), RecordType::txt, RecordClass::in, 60, txt_rdata(3, 200)};
    return response;
  };
  for (int i = 0; i < 10; ++i) {
    std::string n = "big" + std::to_string(i) + ".example";
    by_bytes.store(key_for(n), big(n), 0);
    CHECK(by_bytes.bytes() <= 2000);
  }
  CHECK(by_bytes.entries() >= 1);
  CHECK(by_bytes.entries() < 10);
  CHECK(by_bytes.lookup(key_for("big9.example"), 0).has_value());
  CHECK_FALSE(by_bytes.lookup(key_for("big0.example"), 0).has_value());
  // An entry larger than the whole budget is refused rather than flushing everything.
  auto huge = a_response("huge.example", 60);
  huge.answers[0].rdata = txt_rdata(10, 250);
  CHECK_FALSE(by_bytes.store(key_for("huge.example"), huge, 0));
  CHECK(by_bytes.lookup(key_for("big9.example"), 0).has_value());
}

TEST_CASE("storing the same key again replaces the entry without leaking bytes") {
  AnswerCache cache;
  cache.store(key_for("r.example"), a_response("r.example", 60), 0);
  auto bytes = cache.bytes();
  cache.store(key_for("r.example"), a_response("r.example", 30), 5000);
  CHECK(cache.entries() == 1);
  CHECK(cache.bytes() == bytes);
  CHECK(cache.lookup(key_for("r.example"), 5000)->answers.at(0).ttl == 30);
}
