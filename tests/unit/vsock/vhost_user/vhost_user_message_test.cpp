#include <doctest/doctest.h>

#include "vsock/vhost_user/vhost_user_memory.hpp"
#include "vsock/vhost_user/vhost_user_message.hpp"

using namespace usernet::vhost;

TEST_CASE("header validation accepts version 1 requests only") {
  const auto msg = encode_request(Request::get_features, {});
  auto h = decode_header(msg);
  REQUIRE(h);
  CHECK(h->request == 1);
  CHECK(h->size == 0);
  CHECK(validate_header(*h));
  CHECK_FALSE(decode_header(std::span(msg).first(11)));
  CHECK_FALSE(validate_header(Header{1, 2, 0}));         // version 2
  CHECK_FALSE(validate_header(Header{1, 1 | 4, 0}));     // reply flag
  CHECK_FALSE(validate_header(Header{5, 1, 1u << 20}));  // oversized payload
  const auto ack = encode_request(Request::set_owner, {}, true);
  CHECK((decode_header(ack)->flags & 8u) != 0);
}

TEST_CASE("payload codecs round-trip and reject wrong sizes") {
  CHECK(decode_u64(encode_u64_payload(0x1122334455667788ull)) == 0x1122334455667788ull);
  CHECK_FALSE(decode_u64(std::vector<std::uint8_t>(7)));

  const auto state = decode_vring_state(encode_vring_state_payload({1, 256}));
  REQUIRE(state);
  CHECK(state->index == 1);
  CHECK(state->num == 256);
  CHECK_FALSE(decode_vring_state(std::vector<std::uint8_t>(9)));

  VringAddress a{2, 0, 0x1000, 0x2000, 0x3000, 0x4000};
  const auto addr = decode_vring_address(encode_vring_address_payload(a));
  REQUIRE(addr);
  CHECK(addr->index == 2);
  CHECK(addr->descriptor_table == 0x1000);
  CHECK(addr->used_ring == 0x2000);
  CHECK(addr->available_ring == 0x3000);

  std::vector<MemoryRegionDescription> regions{{0, 0xa0000, 0x7f00000000, 0},
                                              {0x100000, 0x7f00000, 0x7f00100000, 0x100000}};
  const auto payload = encode_memory_table_payload(regions);
  CHECK(payload.size() == 8 + 8 * 32);  // QEMU's fixed-size form
  const auto table = decode_memory_table(payload);
  REQUIRE(table);
  REQUIRE(table->size() == 2);
  CHECK((*table)[1].mmap_offset == 0x100000);
  auto bad = payload;
  bad[0] = 0;
  CHECK_FALSE(decode_memory_table(bad));
  bad[0] = 9;
  CHECK_FALSE(decode_memory_table(bad));
  CHECK_FALSE(decode_memory_table(std::span(payload).first(8 + 32)));

  ConfigAccess c{0, 8, 0, std::vector<std::uint8_t>(8, 0)};
  const auto config = decode_config(encode_config_payload(c));
  REQUIRE(config);
  CHECK(config->size == 8);
  auto short_config = encode_config_payload(c);
  short_config.pop_back();
  CHECK_FALSE(decode_config(short_config));
}

TEST_CASE("replies carry the reply flag and the request code") {
  const auto r = encode_u64_reply(Request::get_features, 42);
  const auto h = decode_header(r);
  REQUIRE(h);
  CHECK(h->request == 1);
  CHECK(h->flags == (1u | 4u));
  CHECK(h->size == 8);
  CHECK(decode_u64(std::span(r).subspan(12)) == 42u);
  CHECK(request_name(9) == "SET_VRING_ADDR");
  CHECK(request_name(99) == "request 99");
}

TEST_CASE("guest memory translation never crosses a region edge") {
  std::vector<std::uint8_t> low(4096), high(8192);
  auto memory =
      GuestMemory::create({{{0, 4096, 0x10000, 0}, low, nullptr}, {{0x100000, 8192, 0x20000, 0}, high, nullptr}});
  REQUIRE(memory);
  CHECK(memory->translate_guest(0, 4096)->data() == low.data());
  CHECK(memory->translate_guest(0x100010, 16)->data() == high.data() + 16);
  CHECK_FALSE(memory->translate_guest(4095, 2));       // crosses the end of region 0
  CHECK_FALSE(memory->translate_guest(4096, 1));       // the gap
  CHECK_FALSE(memory->translate_guest(0x100000 + 8192, 1));
  CHECK_FALSE(memory->translate_guest(0x100000, ~std::uint64_t{0}));
  CHECK(memory->translate_guest(12345678, 0)->empty());
  CHECK(memory->translate_user(0x20000 + 100, 4)->data() == high.data() + 100);
  CHECK_FALSE(memory->translate_user(0x10000 + 4094, 4));

  CHECK_FALSE(GuestMemory::create(
      {{{0, 4096, 0, 0}, low, nullptr}, {{2048, 4096, 0x9000, 0}, std::span(high).first(4096), nullptr}}));
  CHECK_FALSE(GuestMemory::create({{{~std::uint64_t{0} - 10, 4096, 0, 0}, low, nullptr}}));
  CHECK_FALSE(GuestMemory::create({{{0, 0, 0, 0}, {}, nullptr}}));
  CHECK_FALSE(GuestMemory::create({{{0, 8192, 0, 0}, low, nullptr}}));  // span size mismatch
}
