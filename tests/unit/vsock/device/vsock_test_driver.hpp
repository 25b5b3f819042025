// Test helper: the guest's virtio-vsock driver in miniature. Queues packets on a tx ring,
// offers rx buffers and decodes what the device put in them; the rings live in a
// TestGuestRam (a vector, or a memfd shared with a real back-end).
#pragma once

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "tests/unit/vsock/vhost_user/virtqueue_test_ring.hpp"
#include "vsock/device/vsock_device_packet.hpp"

namespace usernet::test {

struct TestPacket {
  vsock::PacketHeader header;
  std::string payload;
};

class VsockTestDriver {
 public:
  static constexpr std::uint64_t kGuestCid = 3;

  explicit VsockTestDriver(TestGuestRam& ram, std::uint16_t ring_size = 64)
      : ram_(ram), rx_ring(ram, ring_size), tx_ring(ram, ring_size),
        tx_area_(ram.allocate(kTxArea)) {}

  /// A header from the guest (CID 3) to the host (CID 2).
  static vsock::PacketHeader header(vsock::Operation op, std::uint32_t guest_port,
                                    std::uint32_t host_port, std::uint32_t buf_alloc = 256 * 1024,
                                    std::uint32_t fwd_cnt = 0) {
    vsock::PacketHeader h;
    h.src_cid = kGuestCid;
    h.dst_cid = vsock::kHostCid;
    h.src_port = guest_port;
    h.dst_port = host_port;
    h.type = static_cast<std::uint16_t>(vsock::SocketType::stream);
    h.op = static_cast<std::uint16_t>(op);
    h.buf_alloc = buf_alloc;
    h.fwd_cnt = fwd_cnt;
    return h;
  }

  /// Queues a packet on tx: header and payload in separate descriptors, like Linux 6.1.
  void send(vsock::PacketHeader h, const std::string& payload = {}) {
    h.len = static_cast<std::uint32_t>(payload.size());
    if (tx_offset_ + 64 + payload.size() > kTxArea) tx_offset_ = 0;
    const std::uint64_t at = tx_area_ + tx_offset_;
    tx_offset_ += 64 + payload.size();
    const auto bytes = vsock::encode_packet_header(h);
    std::copy(bytes.begin(), bytes.end(), ram_.at(at, 44).begin());
    std::copy(payload.begin(), payload.end(), ram_.at(at + 44, payload.size()).begin());
    if (payload.empty()) {
      tx_ring.add_chain({{at, 44, false}});
    } else {
      tx_ring.add_chain(
          {{at, 44, false}, {at + 44, static_cast<std::uint32_t>(payload.size()), false}});
    }
  }

  /// Offers `count` rx buffers of 44 + `size` bytes (two descriptors each). Buffers are
  /// allocated once per descriptor slot and reused.
  void give_rx(int count, std::uint32_t size = 4096) {
    for (int i = 0; i < count; ++i) {
      auto& slot = rx_slots_[next_rx_slot_];
      if (slot.first == 0) slot = {ram_.allocate(44), ram_.allocate(size)};
      const auto head = rx_ring.add_chain({{slot.first, 44, true}, {slot.second, size, true}});
      rx_buffers_[head] = slot;
      next_rx_slot_ = (next_rx_slot_ + 1) % kRxSlots;
    }
  }

  /// Decodes every packet the device returned in rx buffers since the last call.
  std::vector<TestPacket> receive() {
    std::vector<TestPacket> out;
    for (auto used : rx_ring.take_used()) {
      auto [hdr, data] = rx_buffers_.at(static_cast<std::uint16_t>(used.id));
      REQUIRE(used.length >= 44);
      auto h = vsock::decode_packet_header(ram_.at(hdr, 44));
      REQUIRE(h);
      REQUIRE(used.length == 44 + h->len);
      auto payload = ram_.at(data, h->len);
      out.push_back({*h, std::string(payload.begin(), payload.end())});
    }
    return out;
  }

 private:
  static constexpr std::size_t kTxArea = 1 << 20;
  static constexpr std::size_t kRxSlots = 64;  // at most this many buffers outstanding
  TestGuestRam& ram_;

 public:
  TestRing rx_ring;
  TestRing tx_ring;

 private:
  std::uint64_t tx_area_;
  std::uint64_t tx_offset_ = 0;
  std::map<std::uint16_t, std::pair<std::uint64_t, std::uint64_t>> rx_buffers_;
  std::map<std::size_t, std::pair<std::uint64_t, std::uint64_t>> rx_slots_;
  std::size_t next_rx_slot_ = 0;
};

}  // namespace usernet::test
