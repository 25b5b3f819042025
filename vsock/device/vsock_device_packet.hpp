// virtio-vsock packet header (virtio 1.1 §5.10, Linux struct virtio_vsock_hdr): 44 bytes,
// little-endian, in front of every packet on the rx and tx virtqueues. Pure codec.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

namespace usernet::vsock {

inline constexpr std::size_t kPacketHeaderSize = 44;
/// The well-known CID of the host.
inline constexpr std::uint64_t kHostCid = 2;
/// Largest payload a packet may carry (VIRTIO_VSOCK_MAX_PKT_BUF_SIZE).
inline constexpr std::uint32_t kMaxPacketPayload = 64 * 1024;

/// virtio_vsock_hdr.op
enum class Operation : std::uint16_t {
  invalid = 0,
  request = 1,
  response = 2,
  rst = 3,
  shutdown = 4,
  rw = 5,
  credit_update = 6,
  credit_request = 7,
};

/// virtio_vsock_hdr.type
enum class SocketType : std::uint16_t { stream = 1, seqpacket = 2 };

/// SHUTDOWN flag bits: the sender will receive / send no more.
enum class ShutdownFlag : std::uint32_t { receive = 1, send = 2, both = 3 };

/// Queue indices of the vsock device.
enum class QueueIndex : std::uint32_t { rx = 0, tx = 1, event = 2 };

/// Decoded header fields.
struct PacketHeader {
  std::uint64_t src_cid = 0;
  std::uint64_t dst_cid = 0;
  std::uint32_t src_port = 0;
  std::uint32_t dst_port = 0;
  std::uint32_t len = 0;
  std::uint16_t type = 0;
  std::uint16_t op = 0;
  std::uint32_t flags = 0;
  std::uint32_t buf_alloc = 0;
  std::uint32_t fwd_cnt = 0;

  Operation operation() const { return static_cast<Operation>(op); }
};

/// Parses the first 44 bytes; nullopt if shorter.
std::optional<PacketHeader> decode_packet_header(std::span<const std::uint8_t> bytes);

/// Encodes a header into exactly 44 bytes.
std::array<std::uint8_t, kPacketHeaderSize> encode_packet_header(const PacketHeader& header);

}  // namespace usernet::vsock
