// ByteQueue; see vsock_device_connection.hpp.
#include "vsock/vsock_device_connection.hpp"

namespace usernet::vsock {

// Compacts before growing so storage never exceeds about twice the capacity.
bool ByteQueue::push(std::span<const std::uint8_t> data) {
  if (data.size() > free_space()) return false;
  if (head_ > 0 && bytes_.size() + data.size() > capacity_) {
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
