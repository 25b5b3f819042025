// Bounds-checked guest memory translation; see vhost_user_memory.hpp.
#include "vsock/vhost_user/vhost_user_memory.hpp"

#include <limits>

namespace usernet::vhost {

namespace {
// True if [a, a+a_len) and [b, b+b_len) intersect (lengths > 0, no wrap).
bool ranges_overlap(std::uint64_t a, std::uint64_t a_len, std::uint64_t b, std::uint64_t b_len) {
  return a < b + b_len && b < a + a_len;
}

// Offset of [address, address+length) within [start, start+size), if fully inside.
std::optional<std::uint64_t> offset_within(std::uint64_t start, std::uint64_t size,
                                           std::uint64_t address, std::uint64_t length) {
  if (address < start) return std::nullopt;
  const std::uint64_t offset = address - start;
  if (offset >= size) return std::nullopt;
  if (length > size - offset) return std::nullopt;  // would cross the region's end
  return offset;
}

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
}  // namespace

// Validates every region and the absence of overlaps before accepting the table.
Result<GuestMemory> GuestMemory::create(std::vector<GuestRegion> regions) {
  for (std::size_t i = 0; i < regions.size(); ++i) {
    const auto& d = regions[i].description;
    if (d.size == 0) return Error{"memory region " + std::to_string(i) + " is empty"};
    if (d.guest_physical_address > kMax - d.size || d.user_address > kMax - d.size)
      return Error{"memory region " + std::to_string(i) + " wraps the address space"};
    if (regions[i].host.size() != d.size)
      return Error{"memory region " + std::to_string(i) + " mapping has the wrong size"};
    for (std::size_t j = 0; j < i; ++j) {
      const auto& e = regions[j].description;
      if (ranges_overlap(d.guest_physical_address, d.size, e.guest_physical_address, e.size) ||
          ranges_overlap(d.user_address, d.size, e.user_address, e.size))
        return Error{"memory regions " + std::to_string(j) + " and " + std::to_string(i) + " overlap"};
    }
  }
  return GuestMemory(std::move(regions));
}

// Linear search: a table has at most 8 regions (QEMU usually sends 1–2).
std::optional<std::span<std::uint8_t>> GuestMemory::translate_guest(std::uint64_t address,
                                                                    std::uint64_t length) const {
  if (length == 0) return std::span<std::uint8_t>{};
  for (const auto& r : regions_) {
    if (auto off = offset_within(r.description.guest_physical_address, r.description.size,
                                 address, length)) {
      return r.host.subspan(*off, length);
    }
  }
  return std::nullopt;
}

std::optional<std::span<std::uint8_t>> GuestMemory::translate_user(std::uint64_t address,
                                                                   std::uint64_t length) const {
  if (length == 0) return std::span<std::uint8_t>{};
  for (const auto& r : regions_) {
    if (auto off = offset_within(r.description.user_address, r.description.size, address,
                                 length)) {
      return r.host.subspan(*off, length);
    }
  }
  return std::nullopt;
}

}  // namespace usernet::vhost
