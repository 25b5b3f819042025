#include "vsock/frame_codec.hpp"

#include <algorithm>

namespace usernet {

void write_length_prefix(LengthPrefix prefix, std::size_t length, std::uint8_t* out) {
  if (prefix == LengthPrefix::be32) {
    out[0] = static_cast<std::uint8_t>(length >> 24);
    out[1] = static_cast<std::uint8_t>(length >> 16);
    out[2] = static_cast<std::uint8_t>(length >> 8);
    out[3] = static_cast<std::uint8_t>(length);
  } else {
    out[0] = static_cast<std::uint8_t>(length);
    out[1] = static_cast<std::uint8_t>(length >> 8);
  }
}

std::size_t read_length_prefix(LengthPrefix prefix, const std::uint8_t* in) {
  if (prefix == LengthPrefix::be32)
    return (std::size_t{in[0]} << 24) | (std::size_t{in[1]} << 16) | (std::size_t{in[2]} << 8) |
           std::size_t{in[3]};
  return std::size_t{in[0]} | (std::size_t{in[1]} << 8);
}

bool append_prefixed_frame(LengthPrefix prefix, ByteSpan frame, std::vector<std::uint8_t>& out) {
  if (frame.size() > prefix_capacity(prefix)) return false;
  const std::size_t at = out.size();
  out.resize(at + prefix_size(prefix) + frame.size());
  write_length_prefix(prefix, frame.size(), out.data() + at);
  std::copy(frame.begin(), frame.end(), out.begin() + static_cast<std::ptrdiff_t>(at + prefix_size(prefix)));
  return true;
}

}  // namespace usernet
