// vhost-user wire format (QEMU docs/interop/vhost-user.rst): a 12-byte header
// (request, flags, payload size; little-endian) followed by a request-specific payload.
// File descriptors travel beside the bytes as SCM_RIGHTS; the socket layer handles them.
// Everything here is pure: bytes in, structs out, and back.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "netstack/base/result.hpp"

namespace usernet::vhost {

/// Front-end → back-end request codes (the subset we know by name; others are refused).
enum class Request : std::uint32_t {
  get_features = 1,
  set_features = 2,
  set_owner = 3,
  reset_owner = 4,
  set_mem_table = 5,
  set_log_base = 6,
  set_log_fd = 7,
  set_vring_num = 8,
  set_vring_addr = 9,
  set_vring_base = 10,
  get_vring_base = 11,
  set_vring_kick = 12,
  set_vring_call = 13,
  set_vring_err = 14,
  get_protocol_features = 15,
  set_protocol_features = 16,
  get_queue_num = 17,
  set_vring_enable = 18,
  set_backend_req_fd = 21,
  get_config = 24,
  set_config = 25,
  reset_device = 34,
  get_max_mem_slots = 36,
  set_status = 39,
  get_status = 40,
};

/// Bits of the header's flags word.
enum class HeaderFlag : std::uint32_t {
  version_mask = 0x3,   // protocol version, always 1
  reply = 1u << 2,      // set on back-end replies
  need_reply = 1u << 3, // front-end asks for a REPLY_ACK answer
};

/// Virtio / vhost feature bits we negotiate (bit numbers).
enum class FeatureBit : unsigned {
  vsock_seqpacket = 1,      // VIRTIO_VSOCK_F_SEQPACKET (not offered)
  notify_on_empty = 24,     // VIRTIO_F_NOTIFY_ON_EMPTY
  ring_indirect_desc = 28,  // VIRTIO_RING_F_INDIRECT_DESC (not offered)
  ring_event_idx = 29,      // VIRTIO_RING_F_EVENT_IDX
  protocol_features = 30,   // VHOST_USER_F_PROTOCOL_FEATURES
  version_1 = 32,           // VIRTIO_F_VERSION_1
};

/// vhost-user protocol feature bits (bit numbers).
enum class ProtocolFeatureBit : unsigned {
  mq = 0,
  reply_ack = 3,
  config = 9,
};

/// Returns 1 << bit for either feature enum.
template <typename Bit>
constexpr std::uint64_t feature_mask(Bit bit) {
  return std::uint64_t{1} << static_cast<unsigned>(bit);
}

inline constexpr std::size_t kHeaderSize = 12;
inline constexpr std::uint32_t kProtocolVersion = 1;
/// Largest payload we accept; the biggest standard one (memory table, 8 regions) is 264 bytes,
/// config space up to 256 + 12.
inline constexpr std::uint32_t kMaxPayloadSize = 4096;
inline constexpr std::size_t kMaxMemoryRegions = 8;
/// VHOST_USER_VRING_INDEX_MASK / VHOST_USER_VRING_NOFD_MASK in the u64 of KICK/CALL/ERR.
inline constexpr std::uint64_t kVringIndexMask = 0xff;
inline constexpr std::uint64_t kVringNoFdFlag = 1u << 8;

/// The fixed message header.
struct Header {
  std::uint32_t request = 0;
  std::uint32_t flags = 0;
  std::uint32_t size = 0;
};

/// VhostUserVringState: ring index plus a number (size or base index).
struct VringState {
  std::uint32_t index = 0;
  std::uint32_t num = 0;
};

/// VhostUserVringAddr: ring addresses in the front-end's (QEMU's) virtual address space.
struct VringAddress {
  std::uint32_t index = 0;
  std::uint32_t flags = 0;
  std::uint64_t descriptor_table = 0;
  std::uint64_t used_ring = 0;
  std::uint64_t available_ring = 0;
  std::uint64_t log_guest_address = 0;
};

/// One VhostUserMemoryRegion: guest-physical range, its QEMU virtual address, and the
/// offset of the range inside the accompanying file descriptor.
struct MemoryRegionDescription {
  std::uint64_t guest_physical_address = 0;
  std::uint64_t size = 0;
  std::uint64_t user_address = 0;
  std::uint64_t mmap_offset = 0;
};

/// VhostUserConfig: a window into the device config space.
struct ConfigAccess {
  std::uint32_t offset = 0;
  std::uint32_t size = 0;
  std::uint32_t flags = 0;
  std::vector<std::uint8_t> data;
};

/// Parses the 12-byte header; nullopt if too short.
std::optional<Header> decode_header(std::span<const std::uint8_t> bytes);

/// Checks a header before its payload is read: version 1, not a reply, payload within
/// kMaxPayloadSize; otherwise the error says which.
Status validate_header(const Header& header);

/// Payload decoders: nullopt when the payload has the wrong size or invalid contents.
std::optional<std::uint64_t> decode_u64(std::span<const std::uint8_t> payload);
std::optional<VringState> decode_vring_state(std::span<const std::uint8_t> payload);
std::optional<VringAddress> decode_vring_address(std::span<const std::uint8_t> payload);
std::optional<std::vector<MemoryRegionDescription>> decode_memory_table(
    std::span<const std::uint8_t> payload);
std::optional<ConfigAccess> decode_config(std::span<const std::uint8_t> payload);

/// Encodes a complete reply message (header with the reply flag + payload).
std::vector<std::uint8_t> encode_reply(Request request, std::span<const std::uint8_t> payload);
std::vector<std::uint8_t> encode_u64_reply(Request request, std::uint64_t value);
std::vector<std::uint8_t> encode_vring_state_reply(Request request, VringState state);
std::vector<std::uint8_t> encode_config_reply(const ConfigAccess& config);

/// Encoders for requests (used by test front-ends acting as QEMU).
std::vector<std::uint8_t> encode_request(Request request, std::span<const std::uint8_t> payload,
                                         bool need_reply = false);
std::vector<std::uint8_t> encode_u64_payload(std::uint64_t value);
std::vector<std::uint8_t> encode_vring_state_payload(VringState state);
std::vector<std::uint8_t> encode_vring_address_payload(const VringAddress& address);
std::vector<std::uint8_t> encode_memory_table_payload(
    std::span<const MemoryRegionDescription> regions);
std::vector<std::uint8_t> encode_config_payload(const ConfigAccess& config);

/// Human-readable request name for logs ("SET_VRING_ADDR", or "request 99").
std::string request_name(std::uint32_t request);

}  // namespace usernet::vhost
