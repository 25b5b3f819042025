// Length-prefixed Ethernet framing used by the stream transports: QEMU's 4-byte
// big-endian prefix (-netdev stream/socket) and the 2-byte little-endian prefix of
// gvforwarder's /connect protocol and of stdio. Pure code over bytes, no sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "netstack/base/ethernet.hpp"

namespace usernet {

/// How a stream transport prefixes each frame with its length.
enum class LengthPrefix : std::uint8_t {
  be32,  // QEMU -netdev stream/socket: 4 bytes, big-endian
  le16,  // gvforwarder /connect, stdio: 2 bytes, little-endian
};

/// Number of bytes the prefix occupies on the wire.
constexpr std::size_t prefix_size(LengthPrefix prefix) {
  return prefix == LengthPrefix::be32 ? 4 : 2;
}

/// Largest frame length the prefix itself can express.
constexpr std::size_t prefix_capacity(LengthPrefix prefix) {
  return prefix == LengthPrefix::be32 ? 0xffffffffu : 0xffffu;
}

/// Writes the prefix for a frame of `length` bytes (length <= prefix_capacity) to `out`.
void write_length_prefix(LengthPrefix prefix, std::size_t length, std::uint8_t* out);

/// Reads the length from the first prefix_size(prefix) bytes of `in`.
std::size_t read_length_prefix(LengthPrefix prefix, const std::uint8_t* in);

/// Appends prefix + frame to `out`; false (nothing appended) if the frame is too long
/// for the prefix.
bool append_prefixed_frame(LengthPrefix prefix, ByteSpan frame, std::vector<std::uint8_t>& out);

/// What decode_stream_frames found in a buffer.
struct StreamDecodeResult {
  std::size_t consumed = 0;                 // bytes of whole frames (prefix included)
  std::optional<std::size_t> bad_length;    // a prefix announced more than length_cap
};

/// Splits a receive buffer into frames. Every complete frame with a length up to
/// `length_cap` is handed to on_frame (runts and frames above the switch's maximum
/// included: the switch validates and counts them); a partial frame at the end is left
/// unconsumed for the next read. A prefix announcing more than `length_cap` stops
/// decoding and is reported in bad_length: the stream cannot be trusted any more.
/// on_frame returns false to stop early, leaving that frame unconsumed (e.g. the port
/// was closed meanwhile, or the frame could not be written yet).
template <typename OnFrame>
StreamDecodeResult decode_stream_frames(LengthPrefix prefix, std::size_t length_cap,
                                        ByteSpan buffer, OnFrame&& on_frame) {
  StreamDecodeResult result;
  const std::size_t header = prefix_size(prefix);
  while (buffer.size() - result.consumed >= header) {
    const std::uint8_t* at = buffer.data() + result.consumed;
    const std::size_t length = read_length_prefix(prefix, at);
    if (length > length_cap) {
      result.bad_length = length;
      return result;
    }
    if (buffer.size() - result.consumed - header < length) break;
    if (!on_frame(ByteSpan(at + header, length))) break;
    result.consumed += header + length;
  }
  return result;
}

}  // namespace usernet
