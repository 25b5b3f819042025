#include "vsock/transport/frame_codec.hpp"

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
  std::uint8_t header[4];
  write_length_prefix(prefix, frame.size(), header);
  // insert() copies straight in; resize() would zero-fill the frame's bytes first.
  out.insert(out.end(), header, header + prefix_size(prefix));
  out.insert(out.end(), frame.begin(), frame.end());
  return true;
}

}  // namespace usernet
