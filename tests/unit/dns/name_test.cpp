#include <doctest/doctest.h>

#include "dns/name.hpp"
#include "tests/unit/dns/dns_test_support.hpp"

using namespace usernet::dns;
using usernet::dns::test::name;

TEST_CASE("names parse from text and print back with escapes") {
  CHECK(name("www.Example.com").to_text() == "www.Example.com.");
  CHECK(name("www.example.com.").wire() ==
        std::vector<std::uint8_t>{3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0});
  CHECK(name(".").is_root());
  CHECK(name("").is_root());
  CHECK(name("a\\.b.c").label_count() == 2);
  CHECK(name("a\\.b.c").to_text() == "a\\.b.c.");
  CHECK(name("\\000x.y").to_text() == "\\000x.y.");
  CHECK_FALSE(DomainName::from_text("a..b").has_value());
  CHECK_FALSE(DomainName::from_text(".a").has_value());
  CHECK_FALSE(DomainName::from_text("a\\25").has_value());
  CHECK_FALSE(DomainName::from_text("a\\256").has_value());
  CHECK_FALSE(DomainName::from_text(std::string(64, 'a')).has_value());
  CHECK(DomainName::from_text(std::string(63, 'a')).has_value());
  // 255 wire octets is the most a name may have.
  std::string long_name = std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
                          std::string(61, 'd');  // 3*64 + 62 + 1 = 255
  CHECK(DomainName::from_text(long_name).has_value());
  CHECK_FALSE(DomainName::from_text(long_name + "d").has_value());
}

TEST_CASE("names compare case-insensitively and know their zone") {
  CHECK(name("HOST.Containers.Internal").equals_ignore_case(name("host.containers.internal")));
  CHECK_FALSE(name("host.containers.internal") == name("HOST.containers.internal"));
  CHECK(name("a.b.containers.internal").labels_below(name("containers.internal")) == 2);
  CHECK(name("containers.internal").labels_below(name("Containers.Internal")) == 0);
  CHECK_FALSE(name("xcontainers.internal").labels_below(name("containers.internal")).has_value());
  CHECK_FALSE(name("internal").labels_below(name("containers.internal")).has_value());
  CHECK(name("a.b.c").labels_below(name(".")) == 3);
  CHECK(name("A.B.zone").leading_labels_text(2) == "A.B");
  CHECK(name("zone").prepend("gateway")->to_text() == "gateway.zone.");
  CHECK_FALSE(name("zone").prepend("").has_value());
}

TEST_CASE("read_name follows backward pointers and rejects loops and overruns") {
  // offset 0: 3 'f' 'o' 'o' 0 ; offset 5: 3 'b' 'a' 'r' ptr->0 ; offset 11: ptr->5
  std::vector<std::uint8_t> msg{3, 'f', 'o', 'o', 0, 3, 'b', 'a', 'r', 0xc0, 0x00, 0xc0, 0x05};
  std::size_t offset = 5;
  auto bar = read_name(msg, offset);
  REQUIRE(bar.has_value());
  CHECK(bar->to_text() == "bar.foo.");
  CHECK(offset == 11);
  offset = 11;
  CHECK(read_name(msg, offset)->to_text() == "bar.foo.");
  CHECK(offset == 13);

  SUBCASE("pointer to itself") {
    std::vector<std::uint8_t> loop{0xc0, 0x00};
    std::size_t at = 0;
    CHECK_FALSE(read_name(loop, at).has_value());
    CHECK(at == 0);
  }
  SUBCASE("two pointers pointing at each other") {
    std::vector<std::uint8_t> loop{1, 'a', 0xc0, 0x04, 1, 'b', 0xc0, 0x00};
    std::size_t at = 4;
    CHECK_FALSE(read_name(loop, at).has_value());
  }
  SUBCASE("forward pointer") {
    std::vector<std::uint8_t> forward{0xc0, 0x02, 0};
    std::size_t at = 0;
    CHECK_FALSE(read_name(forward, at).has_value());
  }
  SUBCASE("label past the end, missing root, half a pointer") {
    for (std::vector<std::uint8_t> bad : {std::vector<std::uint8_t>{5, 'a', 'b'}, std::vector<std::uint8_t>{1, 'a'},
                                          std::vector<std::uint8_t>{1, 'a', 0xc0}, std::vector<std::uint8_t>{}}) {
      std::size_t at = 0;
      CHECK_FALSE(read_name(bad, at).has_value());
    }
  }
  SUBCASE("reserved label types 01 and 10") {
    std::vector<std::uint8_t> ext{0x41, 0};
    std::size_t at = 0;
    CHECK_FALSE(read_name(ext, at).has_value());
    std::vector<std::uint8_t> ten{0x81, 0};
    at = 0;
    CHECK_FALSE(read_name(ten, at).has_value());
  }
  SUBCASE("expansion longer than 255 octets through pointers") {
    // Each step adds a 63-octet label and points back at the previous one.
    std::vector<std::uint8_t> chain{0};
    std::size_t previous = 0;
    for (int i = 0; i < 5; ++i) {
      std::size_t here = chain.size();
      chain.push_back(63);
      chain.insert(chain.end(), 63, 'x');
      chain.push_back(static_cast<std::uint8_t>(0xc0 | (previous >> 8)));
      chain.push_back(static_cast<std::uint8_t>(previous & 0xff));
      previous = here;
    }
    std::size_t at = previous;
    CHECK_FALSE(read_name(chain, at).has_value());
  }
}

TEST_CASE("the compressor points repeated suffixes at their first copy, keeping case") {
  std::vector<std::uint8_t> out(12, 0);  // pretend header
  NameCompressor compressor;
  compressor.write(out, name("www.example.com"));
  std::size_t second = out.size();
  compressor.write(out, name("mail.example.com"));
  // "mail" label, then a pointer to offset 16 ("example.com" inside the first name).
  CHECK(out.size() == second + 5 + 2);
  CHECK(out[second + 5] == 0xc0);
  CHECK(out[second + 6] == 12 + 4);
  std::size_t third = out.size();
  compressor.write(out, name("www.example.com"));
  CHECK(out.size() == third + 2);
  // A differently cased suffix is not shared: only "com" is, so "EXAMPLE" stays upper case.
  std::size_t fourth = out.size();
  compressor.write(out, name("ns.EXAMPLE.com"));
  CHECK(out.size() == fourth + 3 + 8 + 2);
  std::size_t at = third;
  CHECK(read_name(out, at)->to_text() == "www.example.com.");
  at = second;
  CHECK(read_name(out, at)->to_text() == "mail.example.com.");
  at = fourth;
  CHECK(read_name(out, at)->to_text() == "ns.EXAMPLE.com.");
}
