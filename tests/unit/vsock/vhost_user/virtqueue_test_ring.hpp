// Test helper: plays the virtio driver for one split virtqueue living in a plain buffer
// ("guest RAM"), so device-side code can be exercised without QEMU or sockets.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "vsock/vhost_user/vhost_user_bytes.hpp"
#include "vsock/vhost_user/vhost_user_memory.hpp"
#include "vsock/vhost_user/virtqueue.hpp"

namespace usernet::test {

/// Guest RAM of `size` bytes at guest-physical `base` (and QEMU-virtual base + 0x7f0000000000),
/// in a vector or in memory the test mapped itself (a memfd shared with the back-end).
struct TestGuestRam {
  static constexpr std::uint64_t kUserOffset = 0x7f0000000000ull;
  std::uint64_t base;
  std::vector<std::uint8_t> owned;
  std::span<std::uint8_t> bytes;
  vhost::GuestMemory memory;
  std::uint64_t next_free;

  explicit TestGuestRam(std::size_t size = 1 << 20, std::uint64_t base_ = 0x100000)
      : base(base_), owned(size), bytes(owned), next_free(base_) {
    init_memory();
  }
  TestGuestRam(std::span<std::uint8_t> external, std::uint64_t base_)
      : base(base_), bytes(external), next_free(base_) {
    init_memory();
  }
  void init_memory() {
    vhost::GuestRegion region{{base, bytes.size(), base + kUserOffset, 0}, bytes, nullptr};
    memory = *vhost::GuestMemory::create({region});
  }
  /// QEMU-virtual address of a guest-physical one.
  std::uint64_t user_address(std::uint64_t gpa) const { return gpa + kUserOffset; }
  /// Reserves `length` bytes (aligned to `align`) and returns their guest-physical address.
  std::uint64_t allocate(std::size_t length, std::size_t align = 16) {
    next_free = (next_free + align - 1) / align * align;
    const std::uint64_t at = next_free;
    next_free += length;
    return at;
  }
  std::span<std::uint8_t> at(std::uint64_t gpa, std::size_t length) {
    return bytes.subspan(gpa - base, length);
  }
};

/// One descriptor as the driver writes it.
struct TestDescriptor {
  std::uint64_t address;
  std::uint32_t length;
  bool device_writable;
};

/// Driver side of a split ring inside a TestGuestRam.
class TestRing {
 public:
  TestRing(TestGuestRam& ram, std::uint16_t size)
      : ram_(ram),
        size_(size),
        descriptors_(ram.allocate(vhost::SplitVirtqueue::descriptor_table_bytes(size), 16)),
        available_(ram.allocate(vhost::SplitVirtqueue::available_ring_bytes(size), 2)),
        used_(ram.allocate(vhost::SplitVirtqueue::used_ring_bytes(size), 4)) {}

  std::uint64_t descriptor_table_address() const { return descriptors_; }
  std::uint64_t available_ring_address() const { return available_; }
  std::uint64_t used_ring_address() const { return used_; }

  vhost::VirtqueueRings rings() {
    return {ram_.at(descriptors_, vhost::SplitVirtqueue::descriptor_table_bytes(size_)),
            ram_.at(available_, vhost::SplitVirtqueue::available_ring_bytes(size_)),
            ram_.at(used_, vhost::SplitVirtqueue::used_ring_bytes(size_))};
  }

  /// The device's view of this ring.
  vhost::SplitVirtqueue device(bool event_idx = true) {
    return *vhost::SplitVirtqueue::create(ram_.memory, size_, rings(), event_idx, 0);
  }

  /// Writes a raw descriptor entry.
  void write_descriptor(std::uint16_t index, std::uint64_t address, std::uint32_t length,
                        std::uint16_t flags, std::uint16_t next) {
    auto d = ram_.at(descriptors_ + 16u * index, 16);
    vhost::store_le(d, 0, address);
    vhost::store_le(d, 8, length);
    vhost::store_le(d, 12, flags);
    vhost::store_le(d, 14, next);
  }

  /// Publishes `head` in the available ring.
  void make_available(std::uint16_t head) {
    auto a = ram_.at(available_, vhost::SplitVirtqueue::available_ring_bytes(size_));
    vhost::store_le<std::uint16_t>(a, 4 + 2u * (avail_idx_ % size_), head);
    ++avail_idx_;
    vhost::store_le<std::uint16_t>(a, 2, avail_idx_);
  }

  /// Builds a chain from free descriptors and publishes it; returns the head.
  std::uint16_t add_chain(const std::vector<TestDescriptor>& parts) {
    const std::uint16_t head = next_descriptor_;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const std::uint16_t index = next_descriptor_;
      next_descriptor_ = static_cast<std::uint16_t>((next_descriptor_ + 1) % size_);
      std::uint16_t flags = parts[i].device_writable ? 2 : 0;
      if (i + 1 < parts.size()) flags |= 1;
      write_descriptor(index, parts[i].address, parts[i].length, flags, next_descriptor_);
    }
    make_available(head);
    return head;
  }

  /// Sets the raw available index (to simulate a driver that jumps it).
  void set_available_index(std::uint16_t value) {
    avail_idx_ = value;
    vhost::store_le<std::uint16_t>(ram_.at(available_, 4), 2, value);
  }

  /// used_event (EVENT_IDX): the driver wants an interrupt once used idx passes it.
  void set_used_event(std::uint16_t value) {
    vhost::store_le<std::uint16_t>(ram_.at(available_ + 4 + 2u * size_, 2), 0, value);
  }
  std::uint16_t available_event() {
    return vhost::load_le<std::uint16_t>(ram_.at(used_ + 4 + 8u * size_, 2), 0);
  }

  std::uint16_t used_index() { return vhost::load_le<std::uint16_t>(ram_.at(used_, 4), 2); }

  struct UsedElement {
    std::uint32_t id;
    std::uint32_t length;
  };
  /// Returns used elements not yet collected.
  std::vector<UsedElement> take_used() {
    std::vector<UsedElement> out;
    for (; last_used_ != used_index(); ++last_used_) {
      auto e = ram_.at(used_ + 4 + 8u * (last_used_ % size_), 8);
      out.push_back({vhost::load_le<std::uint32_t>(e, 0), vhost::load_le<std::uint32_t>(e, 4)});
    }
    return out;
  }

 private:
  TestGuestRam& ram_;
  std::uint16_t size_;
  std::uint64_t descriptors_;
  std::uint64_t available_;
  std::uint64_t used_;
  std::uint16_t avail_idx_ = 0;
  std::uint16_t next_descriptor_ = 0;
  std::uint16_t last_used_ = 0;
};

}  // namespace usernet::test
