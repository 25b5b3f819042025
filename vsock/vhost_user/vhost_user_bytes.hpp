// Little-endian field access for the vhost-user wire format, virtqueue rings and
// virtio-vsock headers (all little-endian by spec). Reads copy bytes out first, so a
// concurrently modified guest buffer can never produce a torn or unaligned access.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace usernet::vhost {

/// Reads an unsigned little-endian integer of sizeof(T) bytes at `offset` (caller checked bounds).
template <typename T>
inline T load_le(std::span<const std::uint8_t> bytes, std::size_t offset) {
  T value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    value = static_cast<T>(value | (static_cast<T>(bytes[offset + i]) << (8 * i)));
  }
  return value;
}

/// Writes an unsigned little-endian integer of sizeof(T) bytes at `offset` (caller checked bounds).
template <typename T>
inline void store_le(std::span<std::uint8_t> bytes, std::size_t offset, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    bytes[offset + i] = static_cast<std::uint8_t>(value >> (8 * i));
  }
}

/// Appends an unsigned little-endian integer to a byte vector-like container.
template <typename T, typename Vector>
inline void append_le(Vector& out, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

}  // namespace usernet::vhost
