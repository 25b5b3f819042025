// ByteQueue; see vsock_device_connection.hpp.
#include "vsock/device/vsock_device_connection.hpp"

namespace usernet::vsock {

// Compacts once half a capacity was consumed (or storage would pass twice the capacity), so
// each byte is moved O(1) times on average and storage stays below 2 x capacity.
bool ByteQueue::push(std::span<const std::uint8_t> data) {
  if (data.size() > free_space()) return false;
  if (head_ > 0 && (head_ >= capacity_ / 2 || bytes_.size() + data.size() > 2 * capacity_)) {
    bytes_.erase(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
  bytes_.insert(bytes_.end(), data.begin(), data.end());
  return true;
}

void ByteQueue::consume(std::size_t count) {
  head_ += std::min(count, size());
  if (head_ == bytes_.size()) {
    bytes_.clear();
    head_ = 0;
  }
}

}  // namespace usernet::vsock
