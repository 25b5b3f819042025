// Split virtqueue, device side; see virtqueue.hpp.
#include "vsock/vhost_user/virtqueue.hpp"

#include <algorithm>
#include <atomic>

#include "vsock/vhost_user/vhost_user_bytes.hpp"

namespace usernet::vhost {

namespace {
constexpr std::size_t kDescriptorSize = 16;
constexpr std::size_t kRingHeaderSize = 4;  // flags + idx
constexpr std::size_t kUsedElementSize = 8;
constexpr std::uint16_t kAvailableNoInterrupt = 1;

// Atomic view of a little-endian u16 in shared memory (x86/arm64 hosts are little-endian).
std::atomic_ref<std::uint16_t> shared_u16(std::span<std::uint8_t> area, std::size_t offset) {
  return std::atomic_ref<std::uint16_t>(*reinterpret_cast<std::uint16_t*>(area.data() + offset));
}

bool aligned(std::span<std::uint8_t> area, std::size_t alignment) {
  return reinterpret_cast<std::uintptr_t>(area.data()) % alignment == 0;
}

// vring_need_event(): has the used index moved past the driver's requested event point?
bool need_event(std::uint16_t event, std::uint16_t new_index, std::uint16_t old_index) {
  return static_cast<std::uint16_t>(new_index - event - 1) <
         static_cast<std::uint16_t>(new_index - old_index);
}
}  // namespace

const char* chain_error_name(ChainError error) {
  switch (error) {
    case ChainError::none: return "none";
    case ChainError::index_out_of_range: return "descriptor index out of range";
    case ChainError::loop: return "descriptor chain loops";
    case ChainError::indirect: return "indirect descriptor not negotiated";
    case ChainError::bad_address: return "buffer outside guest memory";
    case ChainError::readable_after_writable: return "readable descriptor after writable";
    case ChainError::too_long: return "chain too long";
  }
  return "unknown";
}

SplitVirtqueue::SplitVirtqueue(const GuestMemory& memory, std::uint16_t size, VirtqueueRings rings,
                               bool event_idx, std::uint16_t next_available)
    : memory_(&memory),
      size_(size),
      rings_(rings),
      event_idx_(event_idx),
      next_available_(next_available),
      next_used_(shared_u16(rings.used, 2).load(std::memory_order_acquire)),
      signalled_used_(next_used_) {}

// Validates geometry before any ring access happens.
Result<SplitVirtqueue> SplitVirtqueue::create(const GuestMemory& memory, std::uint16_t size, VirtqueueRings rings,
                                              bool event_idx, std::uint16_t next_available) {
  if (size == 0 || size > kMaxSize || (size & (size - 1)) != 0)
    return Error{"queue size " + std::to_string(size) + " is not a power of two up to 32768"};
  if (rings.descriptors.size() < descriptor_table_bytes(size) ||
      rings.available.size() < available_ring_bytes(size) ||
      rings.used.size() < used_ring_bytes(size))
    return Error{"ring areas too small for queue size " + std::to_string(size)};
  if (!aligned(rings.descriptors, 16) || !aligned(rings.available, 2) || !aligned(rings.used, 4))
    return Error{"ring areas misaligned"};
  return SplitVirtqueue(memory, size, rings, event_idx, next_available);
}

std::uint16_t SplitVirtqueue::load_available_index() const {
  return shared_u16(rings_.available, 2).load(std::memory_order_acquire);
}

std::uint16_t SplitVirtqueue::load_available_flags() const {
  return shared_u16(rings_.available, 0).load(std::memory_order_acquire);
}

std::uint16_t SplitVirtqueue::load_used_event() const {
  return shared_u16(rings_.available, kRingHeaderSize + std::size_t{2} * size_)
      .load(std::memory_order_acquire);
}

void SplitVirtqueue::store_available_event(std::uint16_t value) {
  shared_u16(rings_.used, kRingHeaderSize + kUsedElementSize * size_)
      .store(value, std::memory_order_release);
}

// Copies each descriptor once and checks it before following `next`.
ChainError SplitVirtqueue::walk(std::uint16_t head, DescriptorChain& chain) const {
  chain.head = head;
  std::uint32_t index = head;
  for (std::uint32_t count = 0;; ++count) {
    if (index >= size_) return ChainError::index_out_of_range;
    if (count >= size_) return ChainError::loop;
    const auto entry = rings_.descriptors.subspan(index * kDescriptorSize, kDescriptorSize);
    const auto address = load_le<std::uint64_t>(entry, 0);
    const auto length = load_le<std::uint32_t>(entry, 8);
    const auto flags = load_le<std::uint16_t>(entry, 12);
    const auto next = load_le<std::uint16_t>(entry, 14);
    if (flags & static_cast<std::uint16_t>(DescriptorFlag::indirect)) return ChainError::indirect;
    const auto buffer = memory_->translate_guest(address, length);
    if (!buffer) return ChainError::bad_address;
    if (chain.readable_bytes + chain.writable_bytes + length > kMaxChainBytes) {
      return ChainError::too_long;
    }
    if (flags & static_cast<std::uint16_t>(DescriptorFlag::write)) {
      if (length > 0) chain.writable.push_back(*buffer);
      chain.writable_bytes += length;
    } else {
      if (!chain.writable.empty() || chain.writable_bytes > 0) {
        return ChainError::readable_after_writable;
      }
      if (length > 0) chain.readable.push_back(*buffer);
      chain.readable_bytes += length;
    }
    if (!(flags & static_cast<std::uint16_t>(DescriptorFlag::next))) return ChainError::none;
    index = next;
  }
}

// Consumes available entries until a valid chain turns up.
std::optional<DescriptorChain> SplitVirtqueue::pop() {
  while (!broken()) {
    const std::uint16_t available = load_available_index();
    const auto pending = static_cast<std::uint16_t>(available - next_available_);
    if (pending == 0) return std::nullopt;
    if (pending > size_) {
      broken_reason_ = "available index jumped by " + std::to_string(pending) +
                       " entries on a ring of " + std::to_string(size_);
      return std::nullopt;
    }
    const std::size_t slot = kRingHeaderSize + std::size_t{2} * (next_available_ % size_);
    const auto head = load_le<std::uint16_t>(rings_.available, slot);
    ++next_available_;
    if (head >= size_) {
      // Not a descriptor we could hand back: the driver broke the ring.
      broken_reason_ = "available ring names descriptor " + std::to_string(head);
      last_error_ = ChainError::index_out_of_range;
      ++refused_chains_;
      return std::nullopt;
    }
    DescriptorChain chain;
    const ChainError error = walk(head, chain);
    if (error == ChainError::none) return chain;
    last_error_ = error;
    ++refused_chains_;
    push(head, 0);
  }
  return std::nullopt;
}

// Writes the used element, then publishes the new used index with release ordering.
void SplitVirtqueue::push(std::uint16_t head, std::uint32_t written) {
  const std::size_t slot = kRingHeaderSize + kUsedElementSize * (next_used_ % size_);
  store_le<std::uint32_t>(rings_.used, slot, head);
  store_le<std::uint32_t>(rings_.used, slot + 4, written);
  ++next_used_;
  shared_u16(rings_.used, 2).store(next_used_, std::memory_order_release);
}

// EVENT_IDX: notify when used moved past used_event since the last signal. Otherwise
// honour VIRTQ_AVAIL_F_NO_INTERRUPT.
bool SplitVirtqueue::should_notify() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!event_idx_) {
    if (signalled_used_ == next_used_ && signalled_used_valid_) return false;
    signalled_used_ = next_used_;
    signalled_used_valid_ = true;
    return (load_available_flags() & kAvailableNoInterrupt) == 0;
  }
  const std::uint16_t old_used = signalled_used_;
  const bool valid = signalled_used_valid_;
  signalled_used_ = next_used_;
  signalled_used_valid_ = true;
  if (valid && old_used == next_used_) return false;
  return !valid || need_event(load_used_event(), next_used_, old_used);
}

// Publishes avail_event = next_available, then re-checks for a race with the driver.
bool SplitVirtqueue::enable_kicks() {
  if (event_idx_) store_available_event(next_available_);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return load_available_index() != next_available_;
}

}  // namespace usernet::vhost

namespace usernet::vhost {

// Walks the window once and copies piecewise.
std::size_t copy_into_buffers(std::span<const std::span<std::uint8_t>> buffers, std::size_t offset,
                              std::span<const std::uint8_t> bytes) {
  std::size_t copied = 0;
  for (auto piece : buffer_window(buffers, offset, bytes.size())) {
    std::copy(bytes.begin() + static_cast<std::ptrdiff_t>(copied),
              bytes.begin() + static_cast<std::ptrdiff_t>(copied + piece.size()), piece.begin());
    copied += piece.size();
  }
  return copied;
}

std::size_t copy_from_buffers(std::span<const std::span<std::uint8_t>> buffers, std::size_t offset,
                              std::span<std::uint8_t> out) {
  std::size_t copied = 0;
  for (auto piece : buffer_window(buffers, offset, out.size())) {
    std::copy(piece.begin(), piece.end(), out.begin() + static_cast<std::ptrdiff_t>(copied));
    copied += piece.size();
  }
  return copied;
}

// Skips `offset` bytes, then collects pieces until `length` bytes are covered.
std::vector<std::span<std::uint8_t>> buffer_window(std::span<const std::span<std::uint8_t>> buffers,
                                                   std::size_t offset, std::size_t length) {
  std::vector<std::span<std::uint8_t>> window;
  for (auto buffer : buffers) {
    if (length == 0) break;
    if (offset >= buffer.size()) {
      offset -= buffer.size();
      continue;
    }
    const std::size_t take = std::min(buffer.size() - offset, length);
    window.push_back(buffer.subspan(offset, take));
    length -= take;
    offset = 0;
  }
  return window;
}

}  // namespace usernet::vhost
