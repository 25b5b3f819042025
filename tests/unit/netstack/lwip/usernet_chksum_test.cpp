#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "lwipopts.h"

extern "C" std::uint16_t lwip_standard_chksum(const void* dataptr, int len);  // lwIP's algorithm 3

TEST_CASE("our checksum equals lwIP's for every alignment and length") {
  std::mt19937 rng(7);
  std::vector<std::uint8_t> buffer(70000 + 16);
  for (auto& b : buffer) b = static_cast<std::uint8_t>(rng());
  for (int length : {0, 1, 2, 3, 5, 7, 15, 16, 17, 31, 63, 64, 65, 1460, 1461, 4095, 4096, 4097, 65480, 65535}) {
    for (int offset = 0; offset < 8; ++offset) {
      CAPTURE(length);
      CAPTURE(offset);
      CHECK(usernet_chksum(buffer.data() + offset, length) == lwip_standard_chksum(buffer.data() + offset, length));
    }
  }
}

TEST_CASE("copy + checksum copies exactly and sums like lwIP over the destination") {
  std::mt19937 rng(11);
  std::vector<std::uint8_t> source(70000), target(70000 + 16);
  for (auto& b : source) b = static_cast<std::uint8_t>(rng());
  for (unsigned short length : {0, 1, 2, 3, 9, 100, 1460, 4095, 4097, 8193, 65535}) {
    for (int src_offset = 0; src_offset < 3; ++src_offset) {
      for (int dst_offset = 0; dst_offset < 3; ++dst_offset) {
        CAPTURE(length);
        CAPTURE(src_offset);
        CAPTURE(dst_offset);
        std::fill(target.begin(), target.end(), 0xa5);
        const auto sum = usernet_chksum_copy(target.data() + dst_offset, source.data() + src_offset, length);
        CHECK(std::equal(source.begin() + src_offset, source.begin() + src_offset + length,
                         target.begin() + dst_offset));
        CHECK(target[dst_offset + length] == 0xa5);  // nothing written past the end
        CHECK(sum == lwip_standard_chksum(target.data() + dst_offset, length));
      }
    }
  }
}
