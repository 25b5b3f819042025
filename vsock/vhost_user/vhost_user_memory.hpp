// The guest memory table of a vhost-user device: which guest-physical (and QEMU-virtual)
// ranges we can reach, and where they are mapped in our process. Every access the device
// makes on behalf of the guest goes through translate_*(), which refuses any range that is
// not entirely inside one region, so a guest cannot make us touch memory outside its RAM.
// Pure: the mappings are plain spans; whoever mmapped them hands over a keep-alive owner.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "netstack/base/result.hpp"
#include "vsock/vhost_user/vhost_user_message.hpp"

namespace usernet::vhost {

/// One mapped region: the description QEMU sent and the bytes we can reach.
struct GuestRegion {
  MemoryRegionDescription description;
  std::span<std::uint8_t> host;     // exactly description.size bytes
  std::shared_ptr<void> keepalive;  // owns the mapping (munmap on release); may be null
};

class GuestMemory {
 public:
  GuestMemory() = default;

  /// Builds a table; an error if a region is empty, wraps the 64-bit space, does not
  /// match its host span's size, or overlaps another region (guest-physical or virtual).
  static Result<GuestMemory> create(std::vector<GuestRegion> regions);

  /// Host bytes for guest-physical [address, address+length); nullopt unless the whole range
  /// lies in one region. A zero length yields an empty span.
  std::optional<std::span<std::uint8_t>> translate_guest(std::uint64_t address,
                                                         std::uint64_t length) const;

  /// Same for a range given as a QEMU virtual address (vring addresses arrive this way).
  std::optional<std::span<std::uint8_t>> translate_user(std::uint64_t address,
                                                        std::uint64_t length) const;

  bool empty() const { return regions_.empty(); }
  std::size_t region_count() const { return regions_.size(); }

 private:
  explicit GuestMemory(std::vector<GuestRegion> regions) : regions_(std::move(regions)) {}
  std::vector<GuestRegion> regions_;
};

}  // namespace usernet::vhost
