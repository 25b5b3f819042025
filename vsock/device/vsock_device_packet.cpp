// virtio-vsock header codec; see vsock_device_packet.hpp.
#include "vsock/device/vsock_device_packet.hpp"

#include "vsock/vhost_user/vhost_user_bytes.hpp"

namespace usernet::vsock {

using vhost::load_le;
using vhost::store_le;

// Field offsets follow struct virtio_vsock_hdr (packed).
std::optional<PacketHeader> decode_packet_header(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kPacketHeaderSize) return std::nullopt;
  PacketHeader h;
  h.src_cid = load_le<std::uint64_t>(bytes, 0);
  h.dst_cid = load_le<std::uint64_t>(bytes, 8);
  h.src_port = load_le<std::uint32_t>(bytes, 16);
  h.dst_port = load_le<std::uint32_t>(bytes, 20);
  h.len = load_le<std::uint32_t>(bytes, 24);
  h.type = load_le<std::uint16_t>(bytes, 28);
  h.op = load_le<std::uint16_t>(bytes, 30);
  h.flags = load_le<std::uint32_t>(bytes, 32);
  h.buf_alloc = load_le<std::uint32_t>(bytes, 36);
  h.fwd_cnt = load_le<std::uint32_t>(bytes, 40);
  return h;
}

std::array<std::uint8_t, kPacketHeaderSize> encode_packet_header(const PacketHeader& h) {
  std::array<std::uint8_t, kPacketHeaderSize> out{};
  std::span<std::uint8_t> s(out);
  store_le(s, 0, h.src_cid);
  store_le(s, 8, h.dst_cid);
  store_le(s, 16, h.src_port);
  store_le(s, 20, h.dst_port);
  store_le(s, 24, h.len);
  store_le(s, 28, h.type);
  store_le(s, 30, h.op);
  store_le(s, 32, h.flags);
  store_le(s, 36, h.buf_alloc);
  store_le(s, 40, h.fwd_cnt);
  return out;
}

}  // namespace usernet::vsock
