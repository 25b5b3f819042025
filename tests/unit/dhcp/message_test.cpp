#include <doctest/doctest.h>

#include "dhcp/message.hpp"
#include "dhcp_test_support.hpp"

using namespace usernet;
using namespace usernet::dhcp;
using namespace usernet::dhcp::test;

namespace {

DropReason reason_of(const std::vector<std::uint8_t>& payload) {
  auto parsed = parse_request(payload);
  REQUIRE(std::holds_alternative<DropReason>(parsed));
  return std::get<DropReason>(parsed);
}

Message message_of(const std::vector<std::uint8_t>& payload) {
  auto parsed = parse_request(payload);
  if (const auto* reason = std::get_if<DropReason>(&parsed)) FAIL("dropped: " << drop_reason_name(*reason));
  return std::get<Message>(parsed);
}

}  // namespace

TEST_CASE("a well-formed DISCOVER parses with its header fields and options") {
  const auto payload = RequestBuilder(MessageType::discover, kMacA)
                           .xid(0xdeadbeef)
                           .flags(kBroadcastFlag)
                           .requested_ip(ipv4(192, 168, 127, 9))
                           .host_name("vm1")
                           .bytes();
  const Message m = message_of(payload);
  CHECK(m.type == MessageType::discover);
  CHECK(m.header.xid == 0xdeadbeef);
  CHECK(m.header.flags == kBroadcastFlag);
  CHECK(m.header.client_mac() == kMacA);
  CHECK(m.options.find_ipv4(OptionCode::requested_ip) == ipv4(192, 168, 127, 9));
  const auto name = m.options.find(OptionCode::host_name);
  REQUIRE(name);
  CHECK(std::string(name->begin(), name->end()) == "vm1");
}

TEST_CASE("truncated payloads are dropped as truncated, at every length below the cookie") {
  const auto full = RequestBuilder(MessageType::discover, kMacA).bytes();
  for (std::size_t length = 0; length < 240; ++length) {
    const std::vector<std::uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(length));
    CHECK(reason_of(cut) == DropReason::truncated);
  }
}

TEST_CASE("header checks: op, hardware type, cookie") {
  CHECK(reason_of(RequestBuilder(MessageType::discover, kMacA).op(2).bytes()) == DropReason::not_boot_request);
  auto bad_htype = RequestBuilder(MessageType::discover, kMacA).bytes();
  bad_htype[field::htype] = 6;
  CHECK(reason_of(bad_htype) == DropReason::unsupported_hardware);
  auto bad_hlen = RequestBuilder(MessageType::discover, kMacA).bytes();
  bad_hlen[field::hlen] = 16;
  CHECK(reason_of(bad_hlen) == DropReason::unsupported_hardware);
  CHECK(reason_of(RequestBuilder(MessageType::discover, kMacA).cookie(0x63825364).bytes()) ==
        DropReason::bad_magic_cookie);
}

TEST_CASE("an option whose length runs past the end is malformed") {
  auto payload = RequestBuilder(MessageType::discover, kMacA).no_end().raw_options({12, 10, 'a', 'b'}).bytes();
  CHECK(reason_of(payload) == DropReason::malformed_options);
  // A code byte with no length byte after it.
  CHECK(reason_of(RequestBuilder(MessageType::discover, kMacA).no_end().raw_options({12}).bytes()) ==
        DropReason::malformed_options);
}

TEST_CASE("zero-length options, pads and a missing End option are accepted") {
  const auto payload = RequestBuilder(MessageType::discover, kMacA)
                           .raw_options({0, 0, 12, 0, 0})
                           .no_end()
                           .bytes();
  const Message m = message_of(payload);
  const auto name = m.options.find(OptionCode::host_name);
  REQUIRE(name);
  CHECK(name->empty());
}

TEST_CASE("options after the End option are ignored") {
  auto payload = RequestBuilder(MessageType::discover, kMacA).bytes();
  payload.push_back(12);
  payload.push_back(200);  // would run past the end if it were read
  CHECK(message_of(payload).options.find(OptionCode::host_name) == std::nullopt);
}

TEST_CASE("message type must be present, one byte, and a known value sent by clients") {
  CHECK(reason_of(RequestBuilder(std::nullopt, kMacA).host_name("x").bytes()) == DropReason::missing_message_type);
  CHECK(reason_of(RequestBuilder(std::nullopt, kMacA).option(53, {1, 1}).bytes()) == DropReason::bad_message_type);
  CHECK(reason_of(RequestBuilder(std::nullopt, kMacA).option(53, {}).bytes()) == DropReason::bad_message_type);

  auto unknown = RequestBuilder(MessageType::discover, kMacA).bytes();
  unknown[field::options + 2] = 9;
  CHECK(reason_of(unknown) == DropReason::bad_message_type);
  unknown[field::options + 2] = 0;
  CHECK(reason_of(unknown) == DropReason::bad_message_type);

  for (const auto type : {MessageType::offer, MessageType::ack, MessageType::nak}) {
    CHECK(reason_of(RequestBuilder(type, kMacA).bytes()) == DropReason::server_message);
  }
}

TEST_CASE("zero, broadcast and multicast client hardware addresses are refused") {
  CHECK(reason_of(RequestBuilder(MessageType::discover, MacAddress{}).bytes()) == DropReason::bad_client_address);
  CHECK(reason_of(RequestBuilder(MessageType::discover, kBroadcastMac).bytes()) == DropReason::bad_client_address);
  CHECK(reason_of(RequestBuilder(MessageType::discover, MacAddress{0x01, 0, 0x5e, 0, 0, 1}).bytes()) ==
        DropReason::bad_client_address);
}

TEST_CASE("fixed-size options of the wrong size are malformed") {
  CHECK(reason_of(RequestBuilder(MessageType::request, kMacA).option(50, {192, 168, 127}).bytes()) ==
        DropReason::malformed_options);
  CHECK(reason_of(RequestBuilder(MessageType::request, kMacA).option(54, {1, 2, 3, 4, 5}).bytes()) ==
        DropReason::malformed_options);
  CHECK(reason_of(RequestBuilder(MessageType::request, kMacA).option(57, {2}).bytes()) ==
        DropReason::malformed_options);
}

TEST_CASE("an option split into several instances is concatenated (RFC 3396)") {
  const auto payload = RequestBuilder(MessageType::discover, kMacA)
                           .option(12, {'a', 'b'})
                           .option(55, {1})
                           .option(12, {'c'})
                           .bytes();
  const Message m = message_of(payload);
  const auto name = m.options.find(OptionCode::host_name);
  REQUIRE(name);
  CHECK(std::string(name->begin(), name->end()) == "abc");
}

TEST_CASE("option overload: options in the file field are read, bad overload values refused") {
  const auto payload = RequestBuilder(MessageType::discover, kMacA)
                           .option(52, {1})
                           .file_field({12, 3, 'v', 'm', '7', 255})
                           .bytes();
  const Message m = message_of(payload);
  const auto name = m.options.find(OptionCode::host_name);
  REQUIRE(name);
  CHECK(std::string(name->begin(), name->end()) == "vm7");

  CHECK(reason_of(RequestBuilder(MessageType::discover, kMacA).option(52, {4}).bytes()) ==
        DropReason::malformed_options);
  CHECK(reason_of(RequestBuilder(MessageType::discover, kMacA).option(52, {1}).file_field({12, 200}).bytes()) ==
        DropReason::malformed_options);
}

TEST_CASE("write_header and parse_message agree on every field") {
  Header h;
  h.op = 2;
  h.htype = 1;
  h.hlen = 6;
  h.hops = 3;
  h.xid = 0x01020304;
  h.secs = 7;
  h.flags = kBroadcastFlag;
  h.ciaddr = 0x0a000001;
  h.yiaddr = 0x0a000002;
  h.siaddr = 0x0a000003;
  h.giaddr = 0x0a000004;
  h.chaddr = {1, 2, 3, 4, 5, 6, 7};
  std::vector<std::uint8_t> bytes(field::options);
  write_header(h, bytes);
  bytes.insert(bytes.end(), {53, 1, 5, 255});
  auto parsed = parse_message(bytes);
  REQUIRE(std::holds_alternative<Message>(parsed));
  const Header& back = std::get<Message>(parsed).header;
  CHECK(back.hops == 3);
  CHECK(back.xid == h.xid);
  CHECK(back.secs == 7);
  CHECK(back.flags == h.flags);
  CHECK(back.ciaddr == h.ciaddr);
  CHECK(back.yiaddr == h.yiaddr);
  CHECK(back.siaddr == h.siaddr);
  CHECK(back.giaddr == h.giaddr);
  CHECK(back.chaddr == h.chaddr);
}

TEST_CASE("every drop reason has a distinct name") {
  std::vector<std::string_view> names;
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    const auto name = drop_reason_name(static_cast<DropReason>(i));
    CHECK(name != "unknown");
    for (const auto& other : names) CHECK(other != name);
    names.push_back(name);
  }
}
