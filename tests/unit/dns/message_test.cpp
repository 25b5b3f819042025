#include <doctest/doctest.h>

#include <algorithm>

#include "dns/message.hpp"
#include "tests/unit/dns/dns_test_support.hpp"

using namespace usernet::dns;
using namespace usernet::dns::test;

TEST_CASE("a hand-written query parses field by field") {
  // id 0xbeef, RD, one question example.com A IN, and an OPT (udp 1232, DO).
  std::vector<std::uint8_t> bytes{0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1,
                                  7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1,
                                  0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0};
  auto message = parse_ok(bytes);
  CHECK(message.header.id == 0xbeef);
  CHECK(message.header.recursion_desired);
  CHECK_FALSE(message.header.response);
  REQUIRE(message.questions.size() == 1);
  CHECK(message.questions[0].name.to_text() == "example.com.");
  CHECK(message.questions[0].type == RecordType::a);
  REQUIRE(message.edns.has_value());
  CHECK(message.edns->udp_size == 1232);
  CHECK(message.edns->dnssec_ok);
  CHECK(message.additionals.empty());
  // Re-encoding gives the same octets back.
  CHECK(encode_message(message) == bytes);
}

TEST_CASE("round trip of every section, with compression of owner and RDATA names") {
  Message m = query_message("www.example.com", RecordType::a, 7, 1232);
  m.header.response = true;
  m.header.authoritative = true;
  m.header.authentic_data = true;
  m.answers.push_back({name("www.example.com"), RecordType::cname, RecordClass::in, 300, name("web.example.com").wire()});
  m.answers.push_back({name("web.example.com"), RecordType::a, RecordClass::in, 60, ipv4_rdata(0x0a000001)});
  m.authorities.push_back({name("example.com"), RecordType::soa, RecordClass::in, 900,
                           soa_rdata("ns1.example.com", "hostmaster.example.com", 300)});
  std::vector<std::uint8_t> mx{0, 10};
  auto exchange = name("mail.example.com").wire();
  mx.insert(mx.end(), exchange.begin(), exchange.end());
  m.additionals.push_back({name("example.com"), RecordType::mx, RecordClass::in, 60, mx});
  std::vector<std::uint8_t> srv{0, 1, 0, 2, 0x01, 0xbb};
  auto target = name("svc.example.com").wire();
  srv.insert(srv.end(), target.begin(), target.end());
  m.additionals.push_back({name("_x._tcp.example.com"), RecordType::srv, RecordClass::in, 60, srv});
  m.additionals.push_back({name("example.com"), RecordType{65280}, RecordClass::in, 5, {1, 2, 3}});
  m.set_rcode(Rcode::name_error);

  auto bytes = encode_message(m);
  auto back = parse_ok(bytes);
  CHECK(back.header.id == 7);
  CHECK(back.header.authoritative);
  CHECK(back.header.authentic_data);
  CHECK(back.rcode() == Rcode::name_error);
  CHECK(back.questions == m.questions);
  CHECK(back.answers == m.answers);
  CHECK(back.authorities == m.authorities);
  CHECK(back.additionals == m.additionals);
  CHECK(back.edns == m.edns);

  // Compression made it smaller than the names written in full would be.
  std::size_t full_names = 0;
  for (const auto* section : {&m.answers, &m.authorities, &m.additionals}) {
    for (const auto& r : *section) full_names += r.name.wire().size() + 10 + r.rdata.size();
  }
  CHECK(bytes.size() < 12 + m.questions[0].name.wire().size() + 4 + full_names + 11);
  // SRV targets are not compressed (RFC 3597): the target's full text is in the bytes.
  auto svc = name("svc.example.com").wire();
  CHECK(std::search(bytes.begin(), bytes.end(), svc.begin(), svc.end()) != bytes.end());
}

TEST_CASE("compressed names inside RDATA are expanded on parse") {
  // Question www.x A; answer: owner ptr->12, CNAME whose RDATA is "w" + ptr->16 ("x").
  std::vector<std::uint8_t> bytes{0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
                                  3, 'w', 'w', 'w', 1, 'x', 0, 0, 1, 0, 1,
                                  0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4, 1, 'w', 0xc0, 16};
  auto m = parse_ok(bytes);
  REQUIRE(m.answers.size() == 1);
  CHECK(m.answers[0].name.to_text() == "www.x.");
  CHECK(m.answers[0].rdata == name("w.x").wire());
}

TEST_CASE("malformed messages give precise errors, never a crash") {
  auto good = query_bytes("example.com", RecordType::a);
  CHECK(parse_message(std::vector<std::uint8_t>(good.begin(), good.begin() + 11)).error == ParseError::short_header);
  for (std::size_t cut = 12; cut < good.size(); ++cut) {
    auto result = parse_message(std::vector<std::uint8_t>(good.begin(), good.begin() + static_cast<long>(cut)));
    CHECK_FALSE(result.message.has_value());
    CHECK(result.header.has_value());  // header still there for FORMERR
  }
  SUBCASE("answer count larger than the records present") {
    auto bad = good;
    bad[7] = 3;
    auto result = parse_message(bad);
    CHECK_FALSE(result.message.has_value());
    CHECK(result.error == ParseError::truncated);
  }
  SUBCASE("RDATA length disagreeing with an embedded name") {
    Message m = query_message("a.b", RecordType::cname);
    m.answers.push_back({name("a.b"), RecordType::cname, RecordClass::in, 1, name("c.d").wire()});
    auto bytes = encode_message(m);
    bytes.push_back(0);  // one more octet of RDATA than the name uses
    bytes[bytes.size() - 1 - name("c.d").wire().size() - 1] += 1;
    CHECK(parse_message(bytes).error == ParseError::bad_rdata);
  }
  SUBCASE("two OPT records") {
    Message m = query_message("a.b", RecordType::a, 1, 1232);
    auto bytes = encode_message(m);
    std::vector<std::uint8_t> opt{0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0};
    bytes.insert(bytes.end(), opt.begin(), opt.end());
    bytes[11] = 2;
    CHECK(parse_message(bytes).error == ParseError::bad_opt);
  }
  SUBCASE("OPT in the answer section") {
    std::vector<std::uint8_t> bytes{0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0};
    CHECK(parse_message(bytes).error == ParseError::bad_opt);
  }
}

TEST_CASE("extended RCODEs use the OPT record") {
  Message m = query_message("a.b", RecordType::a, 1, 1232);
  m.set_rcode(Rcode::bad_version);
  CHECK(m.header.rcode == 0);
  CHECK(m.edns->extended_rcode == 1);
  CHECK(parse_ok(encode_message(m)).rcode() == Rcode::bad_version);
}
