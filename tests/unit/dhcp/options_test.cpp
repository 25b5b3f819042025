#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "dhcp/options.hpp"
#include "dhcp_test_support.hpp"

using namespace usernet;
using namespace usernet::dhcp;
using namespace usernet::dhcp::test;

namespace {
std::vector<std::uint8_t> text_bytes(std::string_view text) { return {text.begin(), text.end()}; }
}  // namespace

TEST_CASE("append_option writes code, length, value; long values split into 255-byte instances") {
  std::vector<std::uint8_t> out;
  append_option(out, OptionCode::interface_mtu, std::vector<std::uint8_t>{0x05, 0xdc});
  CHECK(out == std::vector<std::uint8_t>{26, 2, 0x05, 0xdc});
  CHECK(encoded_option_size(2) == out.size());

  out.clear();
  append_option(out, OptionCode::host_name, std::vector<std::uint8_t>{});
  CHECK(out == std::vector<std::uint8_t>{12, 0});
  CHECK(encoded_option_size(0) == 2);

  std::vector<std::uint8_t> long_value(600);
  for (std::size_t i = 0; i < long_value.size(); ++i) long_value[i] = static_cast<std::uint8_t>(i);
  out.clear();
  append_option(out, OptionCode::domain_search, long_value);
  CHECK(out.size() == encoded_option_size(600));
  CHECK(out.size() == 600 + 3 * 2);
  CHECK(out[0] == 119);
  CHECK(out[1] == 255);
  CHECK(out[257] == 119);
  CHECK(out[258] == 255);
  CHECK(out[514] == 119);
  CHECK(out[515] == 90);
  // Reassembling the instances gives the value back (RFC 3396 concatenation).
  OptionSet set;
  set.append(out[0], std::span(out).subspan(2, 255));
  set.append(out[257], std::span(out).subspan(259, 255));
  set.append(out[514], std::span(out).subspan(516, 90));
  const auto joined = set.find(OptionCode::domain_search);
  REQUIRE(joined);
  CHECK(std::vector<std::uint8_t>(joined->begin(), joined->end()) == long_value);

  out.clear();
  append_option(out, OptionCode::domain_search, std::vector<std::uint8_t>(255, 1));
  CHECK(out.size() == 257);  // exactly one full instance, no empty second one
}

TEST_CASE("domain search list: the RFC 3397 example compresses the shared suffix") {
  const std::vector<std::string> domains{"eng.apple.com.", "marketing.apple.com."};
  const auto encoded = encode_domain_search(domains);
  REQUIRE(encoded);
  std::vector<std::uint8_t> expected{3, 'e', 'n', 'g', 5, 'a', 'p', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0};
  expected.push_back(9);
  const auto marketing = text_bytes("marketing");
  expected.insert(expected.end(), marketing.begin(), marketing.end());
  expected.insert(expected.end(), {0xc0, 0x04});
  CHECK(*encoded == expected);
  CHECK(decode_names(*encoded) == std::vector<std::string>{"eng.apple.com", "marketing.apple.com"});
}

TEST_CASE("domain search list: whole-name repeats and deeper suffixes become pointers") {
  const std::vector<std::string> domains{"a.example.com", "b.a.example.com", "example.com", "other.org",
                                         "a.example.com"};
  const auto encoded = encode_domain_search(domains);
  REQUIRE(encoded);
  const auto decoded = decode_names(*encoded);
  REQUIRE(decoded);
  CHECK(*decoded == std::vector<std::string>{"a.example.com", "b.a.example.com", "example.com", "other.org",
                                             "a.example.com"});
  // a.example.com (15) + b->ptr (4) + ptr (2) + other.org (11) + ptr (2).
  CHECK(encoded->size() == 15 + 4 + 2 + 11 + 2);
}

TEST_CASE("domain search list: invalid names are refused") {
  for (const std::string& bad : std::vector<std::string>{"", ".", "a..b", ".a", "a b.com", std::string(64, 'x') + ".com",
                                "ümlaut.de", std::string(254, 'a')}) {
    INFO(bad);
    CHECK_FALSE(is_valid_domain_name(bad));
    CHECK(encode_domain_search(std::vector<std::string>{"ok.com", bad}) == std::nullopt);
  }
  CHECK(is_valid_domain_name("containers.internal."));
  CHECK(is_valid_domain_name("_srv.x-y.example"));
  CHECK(is_valid_domain_name(std::string(63, 'x') + ".com"));
  CHECK(encode_domain_search(std::vector<std::string>{}) == std::vector<std::uint8_t>{});
}

TEST_CASE("classless static routes use the RFC 3442 significant-octet encoding") {
  const std::vector<ClasslessRoute> routes{
      {ipv4(0, 0, 0, 0), 0, ipv4(192, 168, 127, 1)},
      {ipv4(10, 0, 0, 0), 8, ipv4(192, 168, 127, 1)},
      {ipv4(10, 17, 0, 0), 16, ipv4(192, 168, 127, 9)},
      {ipv4(10, 27, 129, 0), 24, ipv4(192, 168, 127, 1)},
      {ipv4(10, 229, 0, 128), 25, ipv4(192, 168, 127, 1)},
      {ipv4(10, 198, 122, 47), 32, ipv4(192, 168, 127, 1)},
  };
  const std::vector<std::uint8_t> expected{
      0,  192, 168, 127, 1,                       //
      8,  10,  192, 168, 127, 1,                  //
      16, 10,  17,  192, 168, 127, 9,             //
      24, 10,  27,  129, 192, 168, 127, 1,        //
      25, 10,  229, 0,   128, 192, 168, 127, 1,   //
      32, 10,  198, 122, 47,  192, 168, 127, 1,   //
  };
  CHECK(encode_classless_routes(routes) == expected);
}

TEST_CASE("ipv4 lists and integers are big-endian") {
  const std::vector<std::uint32_t> addresses{ipv4(192, 168, 127, 1), ipv4(10, 0, 0, 2)};
  CHECK(encode_ipv4_list(addresses) == std::vector<std::uint8_t>{192, 168, 127, 1, 10, 0, 0, 2});
  CHECK(encode_u16(1500) == std::vector<std::uint8_t>{0x05, 0xdc});
  CHECK(encode_u32(3600) == std::vector<std::uint8_t>{0, 0, 0x0e, 0x10});
}

TEST_CASE("host names are reduced to one DNS label or rejected") {
  CHECK(host_name_label(text_bytes("fedora")) == "fedora");
  CHECK(host_name_label(text_bytes("vm-1.example.com")) == "vm-1");
  CHECK(host_name_label(text_bytes(std::string("debian\0\0", 8))) == "debian");
  CHECK(host_name_label(text_bytes("")) == "");
  CHECK(host_name_label(text_bytes("-bad")) == "");
  CHECK(host_name_label(text_bytes("bad-")) == "");
  CHECK(host_name_label(text_bytes("has space")) == "");
  CHECK(host_name_label(text_bytes("under_score")) == "");
  CHECK(host_name_label(text_bytes(".leadingdot")) == "");
  CHECK(host_name_label(text_bytes(std::string("nul\0inside", 10))) == "");
  CHECK(host_name_label(text_bytes(std::string(63, 'a'))) == std::string(63, 'a'));
  CHECK(host_name_label(text_bytes(std::string(64, 'a'))) == "");
}
