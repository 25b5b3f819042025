// vhost-user message codec; see vhost_user_message.hpp.
#include "vsock/vhost_user/vhost_user_message.hpp"

#include "vsock/vhost_user/vhost_user_bytes.hpp"

namespace usernet::vhost {

namespace {
constexpr std::size_t kVringStateSize = 8;
constexpr std::size_t kVringAddressSize = 40;
constexpr std::size_t kMemoryRegionSize = 32;
constexpr std::size_t kMemoryTableHeaderSize = 8;
constexpr std::size_t kConfigHeaderSize = 12;
constexpr std::uint32_t kMaxConfigSize = 256;
}  // namespace

// Parses the 12-byte header.
std::optional<Header> decode_header(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kHeaderSize) return std::nullopt;
  return Header{load_le<std::uint32_t>(bytes, 0), load_le<std::uint32_t>(bytes, 4),
                load_le<std::uint32_t>(bytes, 8)};
}

// Rejects versions other than 1, replies sent to us, and oversized payloads.
Status validate_header(const Header& header) {
  const auto version_mask = static_cast<std::uint32_t>(HeaderFlag::version_mask);
  if ((header.flags & version_mask) != kProtocolVersion)
    return Error{"unsupported vhost-user version " + std::to_string(header.flags & version_mask)};
  if ((header.flags & static_cast<std::uint32_t>(HeaderFlag::reply)) != 0)
    return Error{"front-end sent a message flagged as reply"};
  if (header.size > kMaxPayloadSize)
    return Error{"payload of " + std::to_string(header.size) + " bytes exceeds the limit"};
  return {};
}

// Exactly 8 bytes holding one u64.
std::optional<std::uint64_t> decode_u64(std::span<const std::uint8_t> payload) {
  if (payload.size() != 8) return std::nullopt;
  return load_le<std::uint64_t>(payload, 0);
}

// index + num, two u32.
std::optional<VringState> decode_vring_state(std::span<const std::uint8_t> payload) {
  if (payload.size() != kVringStateSize) return std::nullopt;
  return VringState{load_le<std::uint32_t>(payload, 0), load_le<std::uint32_t>(payload, 4)};
}

// index, flags, then desc / used / avail / log addresses (vhost_vring_addr order).
std::optional<VringAddress> decode_vring_address(std::span<const std::uint8_t> payload) {
  if (payload.size() != kVringAddressSize) return std::nullopt;
  VringAddress a;
  a.index = load_le<std::uint32_t>(payload, 0);
  a.flags = load_le<std::uint32_t>(payload, 4);
  a.descriptor_table = load_le<std::uint64_t>(payload, 8);
  a.used_ring = load_le<std::uint64_t>(payload, 16);
  a.available_ring = load_le<std::uint64_t>(payload, 24);
  a.log_guest_address = load_le<std::uint64_t>(payload, 32);
  return a;
}

// nregions, padding, then nregions entries; QEMU always sends the full 8-entry array, so
// the payload may be longer than nregions entries but never shorter.
std::optional<std::vector<MemoryRegionDescription>> decode_memory_table(
    std::span<const std::uint8_t> payload) {
  if (payload.size() < kMemoryTableHeaderSize) return std::nullopt;
  const auto count = load_le<std::uint32_t>(payload, 0);
  if (count == 0 || count > kMaxMemoryRegions) return std::nullopt;
  if (payload.size() < kMemoryTableHeaderSize + count * kMemoryRegionSize) return std::nullopt;
  std::vector<MemoryRegionDescription> regions;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::size_t at = kMemoryTableHeaderSize + i * kMemoryRegionSize;
    regions.push_back({load_le<std::uint64_t>(payload, at), load_le<std::uint64_t>(payload, at + 8),
                       load_le<std::uint64_t>(payload, at + 16),
                       load_le<std::uint64_t>(payload, at + 24)});
  }
  return regions;
}

// offset, size, flags, then `size` bytes of config space.
std::optional<ConfigAccess> decode_config(std::span<const std::uint8_t> payload) {
  if (payload.size() < kConfigHeaderSize) return std::nullopt;
  ConfigAccess c;
  c.offset = load_le<std::uint32_t>(payload, 0);
  c.size = load_le<std::uint32_t>(payload, 4);
  c.flags = load_le<std::uint32_t>(payload, 8);
  if (c.size > kMaxConfigSize || payload.size() != kConfigHeaderSize + c.size) return std::nullopt;
  c.data.assign(payload.begin() + kConfigHeaderSize, payload.end());
  return c;
}

namespace {
// Header + payload with the given flags.
std::vector<std::uint8_t> encode_message(std::uint32_t request, std::uint32_t flags,
                                         std::span<const std::uint8_t> payload) {
  std::vector<std::uint8_t> out;
  out.reserve(kHeaderSize + payload.size());
  append_le(out, request);
  append_le(out, flags);
  append_le(out, static_cast<std::uint32_t>(payload.size()));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}
}  // namespace

// Reply: version 1 with the reply flag.
std::vector<std::uint8_t> encode_reply(Request request, std::span<const std::uint8_t> payload) {
  return encode_message(static_cast<std::uint32_t>(request),
                        kProtocolVersion | static_cast<std::uint32_t>(HeaderFlag::reply), payload);
}

std::vector<std::uint8_t> encode_u64_reply(Request request, std::uint64_t value) {
  return encode_reply(request, encode_u64_payload(value));
}

std::vector<std::uint8_t> encode_vring_state_reply(Request request, VringState state) {
  return encode_reply(request, encode_vring_state_payload(state));
}

std::vector<std::uint8_t> encode_config_reply(const ConfigAccess& config) {
  return encode_reply(Request::get_config, encode_config_payload(config));
}

// Request: version 1, optionally asking for a REPLY_ACK.
std::vector<std::uint8_t> encode_request(Request request, std::span<const std::uint8_t> payload,
                                         bool need_reply) {
  std::uint32_t flags = kProtocolVersion;
  if (need_reply) flags |= static_cast<std::uint32_t>(HeaderFlag::need_reply);
  return encode_message(static_cast<std::uint32_t>(request), flags, payload);
}

std::vector<std::uint8_t> encode_u64_payload(std::uint64_t value) {
  std::vector<std::uint8_t> out;
  append_le(out, value);
  return out;
}

std::vector<std::uint8_t> encode_vring_state_payload(VringState state) {
  std::vector<std::uint8_t> out;
  append_le(out, state.index);
  append_le(out, state.num);
  return out;
}

std::vector<std::uint8_t> encode_vring_address_payload(const VringAddress& a) {
  std::vector<std::uint8_t> out;
  append_le(out, a.index);
  append_le(out, a.flags);
  append_le(out, a.descriptor_table);
  append_le(out, a.used_ring);
  append_le(out, a.available_ring);
  append_le(out, a.log_guest_address);
  return out;
}

// Always the full 8-entry array, like QEMU.
std::vector<std::uint8_t> encode_memory_table_payload(
    std::span<const MemoryRegionDescription> regions) {
  std::vector<std::uint8_t> out;
  append_le(out, static_cast<std::uint32_t>(regions.size()));
  append_le(out, std::uint32_t{0});
  for (std::size_t i = 0; i < kMaxMemoryRegions; ++i) {
    const MemoryRegionDescription r = i < regions.size() ? regions[i] : MemoryRegionDescription{};
    append_le(out, r.guest_physical_address);
    append_le(out, r.size);
    append_le(out, r.user_address);
    append_le(out, r.mmap_offset);
  }
  return out;
}

std::vector<std::uint8_t> encode_config_payload(const ConfigAccess& c) {
  std::vector<std::uint8_t> out;
  append_le(out, c.offset);
  append_le(out, static_cast<std::uint32_t>(c.data.size()));
  append_le(out, c.flags);
  out.insert(out.end(), c.data.begin(), c.data.end());
  return out;
}

// Names for logs.
std::string request_name(std::uint32_t request) {
  switch (static_cast<Request>(request)) {
    case Request::get_features: return "GET_FEATURES";
    case Request::set_features: return "SET_FEATURES";
    case Request::set_owner: return "SET_OWNER";
    case Request::reset_owner: return "RESET_OWNER";
    case Request::set_mem_table: return "SET_MEM_TABLE";
    case Request::set_log_base: return "SET_LOG_BASE";
    case Request::set_log_fd: return "SET_LOG_FD";
    case Request::set_vring_num: return "SET_VRING_NUM";
    case Request::set_vring_addr: return "SET_VRING_ADDR";
    case Request::set_vring_base: return "SET_VRING_BASE";
    case Request::get_vring_base: return "GET_VRING_BASE";
    case Request::set_vring_kick: return "SET_VRING_KICK";
    case Request::set_vring_call: return "SET_VRING_CALL";
    case Request::set_vring_err: return "SET_VRING_ERR";
    case Request::get_protocol_features: return "GET_PROTOCOL_FEATURES";
    case Request::set_protocol_features: return "SET_PROTOCOL_FEATURES";
    case Request::get_queue_num: return "GET_QUEUE_NUM";
    case Request::set_vring_enable: return "SET_VRING_ENABLE";
    case Request::set_backend_req_fd: return "SET_BACKEND_REQ_FD";
    case Request::get_config: return "GET_CONFIG";
    case Request::set_config: return "SET_CONFIG";
    case Request::reset_device: return "RESET_DEVICE";
    case Request::get_max_mem_slots: return "GET_MAX_MEM_SLOTS";
    case Request::set_status: return "SET_STATUS";
    case Request::get_status: return "GET_STATUS";
  }
  return "request " + std::to_string(request);
}

}  // namespace usernet::vhost
