#include <doctest/doctest.h>

#include <numeric>

#include "tests/unit/vsock/vhost_user/virtqueue_test_ring.hpp"

using namespace usernet;
using usernet::test::TestGuestRam;
using usernet::test::TestRing;
using vhost::ChainError;

TEST_CASE("a valid chain pops with readable and writable parts in guest memory") {
  TestGuestRam ram;
  TestRing ring(ram, 8);
  auto queue = ring.device();
  const auto out = ram.allocate(10);
  const auto in = ram.allocate(20);
  std::iota(ram.at(out, 10).begin(), ram.at(out, 10).end(), 1);
  const auto head = ring.add_chain({{out, 10, false}, {in, 20, true}});

  auto chain = queue.pop();
  REQUIRE(chain);
  CHECK(chain->head == head);
  CHECK(chain->readable_bytes == 10);
  CHECK(chain->writable_bytes == 20);
  REQUIRE(chain->readable.size() == 1);
  CHECK(chain->readable[0][0] == 1);
  CHECK(chain->readable[0][9] == 10);
  CHECK(chain->readable[0].data() == ram.at(out, 10).data());
  CHECK_FALSE(queue.pop());

  queue.push(chain->head, 7);
  const auto used = ring.take_used();
  REQUIRE(used.size() == 1);
  CHECK(used[0].id == head);
  CHECK(used[0].length == 7);
}

TEST_CASE("malformed chains are returned unused, counted, and do not block later chains") {
  TestGuestRam ram;
  TestRing ring(ram, 8);
  auto queue = ring.device();
  const auto buf = ram.allocate(64);

  SUBCASE("loop") {
    ring.write_descriptor(0, buf, 8, 1, 1);
    ring.write_descriptor(1, buf, 8, 1, 0);
    ring.make_available(0);
    CHECK_FALSE(queue.pop());
    CHECK(queue.last_error() == ChainError::loop);
  }
  SUBCASE("next index out of range") {
    ring.write_descriptor(0, buf, 8, 1, 200);
    ring.make_available(0);
    CHECK_FALSE(queue.pop());
    CHECK(queue.last_error() == ChainError::index_out_of_range);
  }
  SUBCASE("buffer outside guest memory") {
    ring.write_descriptor(0, 0x10, 8, 0, 0);
    ring.make_available(0);
    CHECK_FALSE(queue.pop());
    CHECK(queue.last_error() == ChainError::bad_address);
  }
  SUBCASE("buffer crossing the end of the region") {
    ring.write_descriptor(0, ram.base + ram.bytes.size() - 4, 8, 0, 0);
    ring.make_available(0);
    CHECK_FALSE(queue.pop());
    CHECK(queue.last_error() == ChainError::bad_address);
  }
  SUBCASE("address + length wrapping 2^64") {
    ring.write_descriptor(0, ~std::uint64_t{0} - 2, 0xffffffffu, 0, 0);
    ring.make_available(0);
    CHECK_FALSE(queue.pop());
    CHECK(queue.last_error() == ChainError::bad_address);
  }
  SUBCASE("indirect table (not negotiated)") {
    ring.write_descriptor(0, buf, 32, 4, 0);
    ring.make_available(0);
    CHECK_FALSE(queue.pop());
    CHECK(queue.last_error() == ChainError::indirect);
  }
  SUBCASE("readable after writable") {
    ring.write_descriptor(0, buf, 8, 2 | 1, 1);
    ring.write_descriptor(1, buf + 8, 8, 0, 0);
    ring.make_available(0);
    CHECK_FALSE(queue.pop());
    CHECK(queue.last_error() == ChainError::readable_after_writable);
  }
  SUBCASE("total length above the limit") {
    TestGuestRam big(32 << 20);
    TestRing big_ring(big, 4);
    auto big_queue = big_ring.device();
    const auto area = big.allocate(20 << 20);
    big_ring.write_descriptor(0, area, 10 << 20, 1, 1);
    big_ring.write_descriptor(1, area + (10 << 20), 10 << 20, 0, 0);
    big_ring.make_available(0);
    CHECK_FALSE(big_queue.pop());
    CHECK(big_queue.last_error() == ChainError::too_long);
    CHECK(big_queue.refused_chains() == 1);
    return;
  }
  CHECK(queue.refused_chains() == 1);
  CHECK_FALSE(queue.broken());
  const auto used = ring.take_used();
  REQUIRE(used.size() == 1);
  CHECK(used[0].id == 0);
  CHECK(used[0].length == 0);
  // The ring keeps working.
  ring.write_descriptor(3, buf, 16, 0, 0);
  ring.make_available(3);
  auto chain = queue.pop();
  REQUIRE(chain);
  CHECK(chain->head == 3);
}

TEST_CASE("a head index beyond the ring or an available index jump breaks the queue") {
  TestGuestRam ram;
  TestRing ring(ram, 8);
  auto queue = ring.device();
  SUBCASE("head out of range") {
    ring.make_available(9);
    CHECK_FALSE(queue.pop());
    CHECK(queue.broken());
  }
  SUBCASE("available index jump") {
    ring.set_available_index(100);
    CHECK_FALSE(queue.pop());
    CHECK(queue.broken());
  }
  CHECK(ring.take_used().empty());
  CHECK_FALSE(queue.pop());  // stays broken, never reads further
}

TEST_CASE("queue geometry is validated") {
  TestGuestRam ram;
  TestRing ring(ram, 8);
  CHECK_FALSE(vhost::SplitVirtqueue::create(ram.memory, 6, ring.rings(), true, 0));
  CHECK_FALSE(vhost::SplitVirtqueue::create(ram.memory, 0, ring.rings(), true, 0));
  CHECK_FALSE(vhost::SplitVirtqueue::create(ram.memory, 16, ring.rings(), true, 0));
  auto rings = ring.rings();
  rings.used = rings.used.subspan(1);
  const auto misaligned = vhost::SplitVirtqueue::create(ram.memory, 4, rings, true, 0);
  REQUIRE_FALSE(misaligned);
  CHECK(misaligned.error() == "ring areas misaligned");
}

TEST_CASE("EVENT_IDX: notify only when used passes used_event; avail_event tracks consumption") {
  TestGuestRam ram;
  TestRing ring(ram, 8);
  auto queue = ring.device(true);
  const auto buf = ram.allocate(64);
  for (int i = 0; i < 4; ++i) ring.add_chain({{buf, 8, true}});
  for (int i = 0; i < 4; ++i) {
    auto chain = queue.pop();
    REQUIRE(chain);
    ring.set_used_event(2);  // driver wants an interrupt after the 3rd used entry
    queue.push(chain->head, 8);
    const bool notify = queue.should_notify();
    if (i == 0) {
      CHECK(notify);  // first signal of a fresh queue
    } else {
      CHECK(notify == (i == 2));
    }
  }
  CHECK_FALSE(queue.should_notify());  // nothing new
  CHECK_FALSE(queue.enable_kicks());
  CHECK(ring.available_event() == 4);
  ring.add_chain({{buf, 8, true}});
  CHECK(queue.enable_kicks());  // a buffer raced in
}

TEST_CASE("without EVENT_IDX the NO_INTERRUPT flag suppresses notifications") {
  TestGuestRam ram;
  TestRing ring(ram, 4);
  auto queue = ring.device(false);
  const auto buf = ram.allocate(8);
  ring.add_chain({{buf, 8, true}});
  auto chain = queue.pop();
  REQUIRE(chain);
  queue.push(chain->head, 1);
  CHECK(queue.should_notify());
  auto rings = ring.rings();
  vhost::store_le<std::uint16_t>(rings.available, 0, 1);  // VIRTQ_AVAIL_F_NO_INTERRUPT
  ring.add_chain({{buf, 8, true}});
  chain = queue.pop();
  REQUIRE(chain);
  queue.push(chain->head, 1);
  CHECK_FALSE(queue.should_notify());
}

TEST_CASE("undo_pop hands the same chain out again") {
  TestGuestRam ram;
  TestRing ring(ram, 4);
  auto queue = ring.device();
  const auto buf = ram.allocate(8);
  const auto head = ring.add_chain({{buf, 8, true}});
  REQUIRE(queue.pop());
  queue.undo_pop();
  auto chain = queue.pop();
  REQUIRE(chain);
  CHECK(chain->head == head);
}

TEST_CASE("buffer helpers copy across descriptor boundaries") {
  std::vector<std::uint8_t> a(3), b(5);
  std::vector<std::span<std::uint8_t>> buffers{a, b};
  const std::vector<std::uint8_t> data{1, 2, 3, 4, 5, 6};
  CHECK(vhost::copy_into_buffers(buffers, 1, data) == 6);
  CHECK(a == std::vector<std::uint8_t>{0, 1, 2});
  CHECK(b == std::vector<std::uint8_t>{3, 4, 5, 6, 0});
  std::vector<std::uint8_t> out(10);
  CHECK(vhost::copy_from_buffers(buffers, 2, out) == 6);
  CHECK(out[0] == 2);
  CHECK(out[4] == 6);
  CHECK(vhost::copy_into_buffers(buffers, 7, data) == 1);
  CHECK(vhost::buffer_window(buffers, 8, 4).empty());
}
