// A split virtqueue (virtio 1.1 §2.6) seen from the device side, over guest memory that
// the driver shares with us. Handles available-ring consumption, descriptor chain walking
// with full validation, used-ring production and notification suppression (EVENT_IDX or
// the flags fields). Pure: the rings are spans, so unit tests build them in a plain buffer.
//
// Safety contract: the driver may rewrite any ring byte at any time. Every descriptor is
// copied out once, then checked (index < size, chain shorter than the ring, no indirect
// tables, device-readable before device-writable, every buffer inside one memory region,
// total length bounded). A chain failing a check is returned to the driver with length 0
// and counted; an available index that jumps more than the ring size marks the queue broken.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "netstack/base/result.hpp"
#include "vsock/vhost_user/vhost_user_memory.hpp"

namespace usernet::vhost {

/// Descriptor flags (virtq_desc.flags).
enum class DescriptorFlag : std::uint16_t { next = 1, write = 2, indirect = 4 };

/// Why a descriptor chain was refused.
enum class ChainError {
  none,
  index_out_of_range,  // a head or next index >= queue size
  loop,                // more descriptors than the ring holds
  indirect,            // INDIRECT flag (not negotiated)
  bad_address,         // buffer not entirely inside one guest memory region
  readable_after_writable,
  too_long,            // total length above kMaxChainBytes
};

/// Text for logs.
const char* chain_error_name(ChainError error);

/// A validated chain: its head index and the guest buffers, split by direction.
struct DescriptorChain {
  std::uint16_t head = 0;
  std::vector<std::span<std::uint8_t>> readable;  // device reads (driver → device)
  std::vector<std::span<std::uint8_t>> writable;  // device writes (device → driver)
  std::uint64_t readable_bytes = 0;
  std::uint64_t writable_bytes = 0;
};

/// Ring memory, already translated to host spans.
struct VirtqueueRings {
  std::span<std::uint8_t> descriptors;  // 16 * size bytes, 16-byte aligned
  std::span<std::uint8_t> available;    // 6 + 2 * size bytes, 2-byte aligned
  std::span<std::uint8_t> used;         // 6 + 8 * size bytes, 4-byte aligned
};

class SplitVirtqueue {
 public:
  static constexpr std::uint16_t kMaxSize = 32768;
  static constexpr std::uint64_t kMaxChainBytes = 1u << 24;

  /// Byte sizes of the three areas for a queue of `size` entries (incl. event fields).
  static std::size_t descriptor_table_bytes(std::uint16_t size) { return std::size_t{16} * size; }
  static std::size_t available_ring_bytes(std::uint16_t size) { return 6 + std::size_t{2} * size; }
  static std::size_t used_ring_bytes(std::uint16_t size) { return 6 + std::size_t{8} * size; }

  /// Checks size (power of two, 1..32768), area sizes and alignment; `memory` must outlive
  /// the queue. next_available is the ring position to resume from (SET_VRING_BASE).
  static Result<SplitVirtqueue> create(const GuestMemory& memory, std::uint16_t size, VirtqueueRings rings,
                                       bool event_idx, std::uint16_t next_available);

  /// Next valid chain the driver made available, or nullopt if none (or the queue is broken).
  /// Malformed chains met on the way are returned to the driver unused and counted.
  std::optional<DescriptorChain> pop();

  /// Gives back the chain popped last (the device could not use it yet).
  void undo_pop() { --next_available_; }

  /// Returns a chain to the driver with `written` bytes written into its writable part.
  void push(std::uint16_t head, std::uint32_t written);

  /// After pushes: true if the driver asked to be interrupted now (EVENT_IDX used_event or
  /// the NO_INTERRUPT flag). Call once per batch; it remembers what was signalled.
  bool should_notify();

  /// Tells the driver to kick us when it adds anything past what we consumed. Returns true
  /// if buffers are already waiting (the caller should pop again rather than sleep).
  bool enable_kicks();

  std::uint16_t next_available() const { return next_available_; }
  std::uint16_t size() const { return size_; }
  bool broken() const { return !broken_reason_.empty(); }
  const std::string& broken_reason() const { return broken_reason_; }
  std::uint64_t refused_chains() const { return refused_chains_; }
  ChainError last_error() const { return last_error_; }

 private:
  SplitVirtqueue(const GuestMemory& memory, std::uint16_t size, VirtqueueRings rings,
                 bool event_idx, std::uint16_t next_available);
  /// Walks and validates the chain starting at `head`.
  ChainError walk(std::uint16_t head, DescriptorChain& chain) const;
  std::uint16_t load_available_index() const;
  std::uint16_t load_used_event() const;
  std::uint16_t load_available_flags() const;
  void store_available_event(std::uint16_t value);

  const GuestMemory* memory_;
  std::uint16_t size_;
  VirtqueueRings rings_;
  bool event_idx_;
  std::uint16_t next_available_;
  std::uint16_t next_used_;
  std::uint16_t signalled_used_;
  bool signalled_used_valid_ = false;
  std::uint64_t refused_chains_ = 0;
  ChainError last_error_ = ChainError::none;
  std::string broken_reason_;
};

}  // namespace usernet::vhost

namespace usernet::vhost {

/// Copies `bytes` into the buffers at byte `offset` of their concatenation; returns the
/// number copied (short if the buffers end first).
std::size_t copy_into_buffers(std::span<const std::span<std::uint8_t>> buffers, std::size_t offset,
                              std::span<const std::uint8_t> bytes);

/// Copies up to out.size() bytes from byte `offset` of the buffers' concatenation; returns
/// the number copied.
std::size_t copy_from_buffers(std::span<const std::span<std::uint8_t>> buffers, std::size_t offset,
                              std::span<std::uint8_t> out);

/// The sub-spans covering [offset, offset+length) of the buffers' concatenation (clipped).
std::vector<std::span<std::uint8_t>> buffer_window(std::span<const std::span<std::uint8_t>> buffers,
                                                   std::size_t offset, std::size_t length);

}  // namespace usernet::vhost
