#include <doctest/doctest.h>

#include <vector>

#include "vsock/transport/frame_codec.hpp"

using namespace usernet;

namespace {
using Bytes = std::vector<std::uint8_t>;

Bytes payload(std::size_t size, std::uint8_t seed) {
  Bytes b(size);
  for (std::size_t i = 0; i < size; ++i) b[i] = static_cast<std::uint8_t>(seed + i);
  return b;
}

// Feeds `wire` to the decoder in chunks of `chunk` bytes, as a socket would deliver it,
// keeping unconsumed bytes like StreamPort does. Returns the frames seen.
std::vector<Bytes> decode_in_chunks(LengthPrefix prefix, const Bytes& wire, std::size_t chunk) {
  std::vector<Bytes> frames;
  Bytes buffer;
  for (std::size_t at = 0; at < wire.size(); at += chunk) {
    const auto end = wire.begin() + static_cast<std::ptrdiff_t>(std::min(wire.size(), at + chunk));
    buffer.insert(buffer.end(), wire.begin() + static_cast<std::ptrdiff_t>(at), end);
    auto result = decode_stream_frames(prefix, 65535, buffer, [&](ByteSpan f) {
      frames.emplace_back(f.begin(), f.end());
      return true;
    });
    REQUIRE_FALSE(result.bad_length);
    buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(result.consumed));
  }
  CHECK(buffer.empty());
  return frames;
}
}  // namespace

TEST_CASE("prefixes are written in the right byte order") {
  Bytes out;
  REQUIRE(append_prefixed_frame(LengthPrefix::be32, payload(0x0102, 0), out));
  CHECK(out[0] == 0x00);
  CHECK(out[1] == 0x00);
  CHECK(out[2] == 0x01);
  CHECK(out[3] == 0x02);
  CHECK(out.size() == 4 + 0x0102);
  out.clear();
  REQUIRE(append_prefixed_frame(LengthPrefix::le16, payload(0x0102, 0), out));
  CHECK(out[0] == 0x02);
  CHECK(out[1] == 0x01);
  CHECK(out.size() == 2 + 0x0102);
}

TEST_CASE("a frame too long for a 2-byte prefix is refused, nothing appended") {
  Bytes out{1, 2, 3};
  CHECK_FALSE(append_prefixed_frame(LengthPrefix::le16, payload(65536, 0), out));
  CHECK(out.size() == 3);
  CHECK(append_prefixed_frame(LengthPrefix::le16, payload(65535, 0), out));
}

TEST_CASE("several frames per read, frames split across reads, byte-by-byte delivery") {
  for (auto prefix : {LengthPrefix::be32, LengthPrefix::le16}) {
    std::vector<Bytes> sent{payload(60, 1), payload(1514, 2), payload(14, 3), payload(9000, 4)};
    Bytes wire;
    for (const auto& f : sent) append_prefixed_frame(prefix, f, wire);
    for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{61}, std::size_t{1500}, wire.size()}) {
      CAPTURE(chunk);
      CHECK(decode_in_chunks(prefix, wire, chunk) == sent);
    }
  }
}

TEST_CASE("a partial prefix or partial frame is left unconsumed") {
  Bytes wire;
  append_prefixed_frame(LengthPrefix::be32, payload(100, 0), wire);
  int frames = 0;
  auto count = [&](ByteSpan) { return ++frames, true; };
  CHECK(decode_stream_frames(LengthPrefix::be32, 65535, ByteSpan(wire).first(3), count).consumed == 0);
  CHECK(decode_stream_frames(LengthPrefix::be32, 65535, ByteSpan(wire).first(50), count).consumed == 0);
  CHECK(frames == 0);
  CHECK(decode_stream_frames(LengthPrefix::be32, 65535, wire, count).consumed == wire.size());
  CHECK(frames == 1);
}

TEST_CASE("runts and zero-length frames are passed on for the switch to count; stream stays in sync") {
  Bytes wire;
  append_prefixed_frame(LengthPrefix::le16, payload(4, 0), wire);
  append_prefixed_frame(LengthPrefix::le16, payload(0, 0), wire);
  append_prefixed_frame(LengthPrefix::le16, payload(60, 9), wire);
  std::vector<Bytes> frames = decode_in_chunks(LengthPrefix::le16, wire, 5);
  REQUIRE(frames.size() == 3);
  CHECK(frames[0].size() == 4);
  CHECK(frames[1].empty());
  CHECK(frames[2] == payload(60, 9));
}

TEST_CASE("a length above the cap is reported and nothing after it is decoded") {
  Bytes wire;
  append_prefixed_frame(LengthPrefix::be32, payload(60, 0), wire);
  const Bytes bogus{0x7f, 0xff, 0xff, 0xff, 1, 2, 3};
  wire.insert(wire.end(), bogus.begin(), bogus.end());
  int frames = 0;
  auto result = decode_stream_frames(LengthPrefix::be32, 65535, wire, [&](ByteSpan) { return ++frames, true; });
  CHECK(frames == 1);
  CHECK(result.consumed == 64);
  REQUIRE(result.bad_length);
  CHECK(*result.bad_length == 0x7fffffff);
}

TEST_CASE("the callback can stop decoding early, leaving the refused frame unconsumed") {
  Bytes wire;
  for (int i = 0; i < 3; ++i) append_prefixed_frame(LengthPrefix::le16, payload(20, 0), wire);
  int frames = 0;
  auto result = decode_stream_frames(LengthPrefix::le16, 65535, wire, [&](ByteSpan) { return ++frames < 2; });
  CHECK(frames == 2);
  CHECK(result.consumed == 22);
}
