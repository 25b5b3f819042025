// libFuzzer target: the guest-facing engines of the vhost-user-vsock backend.
// First byte selects:
//  - even: (bit 1: addresses folded into RAM) the rest is guest RAM holding a tx ring, an rx ring and buffers, laid out at
//    fixed offsets; the bytes decide descriptors, available entries, packet headers and
//    payloads. VsockDevice pumps both rings with a host service that accepts everything.
//    Any access outside guest RAM is an ASan report; used-ring lengths above the offered
//    buffer abort.
//  - odd: the rest is a sequence of vhost-user messages (no fds) fed to vhost::Backend.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vsock/vhost_user/vhost_user_backend.hpp"
#include "vsock/vhost_user/vhost_user_bytes.hpp"
#include "vsock/vhost_user/virtqueue.hpp"
#include "vsock/device/vsock_device.hpp"

namespace {

using namespace usernet;

void check(bool condition) {
  if (!condition) std::abort();
}

// A host stream that accepts all writes and serves a few bytes once.
struct SinkStream : vsock::HostStream {
  std::string to_read = "host data";
  long write(std::span<const std::uint8_t> bytes) override { return static_cast<long>(bytes.size()); }
  long read(std::span<const std::span<std::uint8_t>> buffers) override {
    if (to_read.empty()) return -EAGAIN;
    const auto n = vhost::copy_into_buffers(
        buffers, 0, std::span(reinterpret_cast<const std::uint8_t*>(to_read.data()), to_read.size()));
    to_read.erase(0, n);
    return static_cast<long>(n);
  }
  void shutdown_write() override {}
  void watch(bool, bool) override {}
  void set_ready_handler(ReadyHandler h) override { handler = std::move(h); }
  ReadyHandler handler;
};

struct AcceptAll : vsock::HostConnector {
  std::vector<SinkStream*> streams;
  std::unique_ptr<vsock::HostStream> connect(std::uint32_t) override {
    auto s = std::make_unique<SinkStream>();
    streams.push_back(s.get());
    return s;
  }
};

constexpr std::uint16_t kQueueSize = 16;
constexpr std::size_t kRamSize = 64 * 1024;
constexpr std::uint64_t kRamBase = 0x10000;

// Rings at fixed offsets of a RAM image whose remaining bytes come from the input. With
// `in_ram`, descriptor addresses are folded into guest RAM (and the available index kept
// small) so the fuzzer reaches packet handling instead of mostly refused chains.
void fuzz_device(std::span<const std::uint8_t> input, bool in_ram) {
  std::vector<std::uint8_t> ram(kRamSize);
  std::memcpy(ram.data(), input.data(), std::min(input.size(), ram.size()));
  if (in_ram) {
    for (std::size_t ring : {std::size_t{0}, std::size_t{1024}}) {
      for (std::size_t d = 0; d < kQueueSize; ++d) {
        std::span<std::uint8_t> entry = std::span(ram).subspan(ring + 16 * d, 16);
        const auto address = vhost::load_le<std::uint64_t>(entry, 0);
        vhost::store_le<std::uint64_t>(entry, 0, kRamBase + 2048 + address % (kRamSize - 2048));
        vhost::store_le<std::uint32_t>(entry, 8, vhost::load_le<std::uint32_t>(entry, 8) % 8192);
      }
      const auto avail = vhost::load_le<std::uint16_t>(ram, ring + 256 + 2);
      vhost::store_le<std::uint16_t>(std::span(ram), ring + 256 + 2, avail % (kQueueSize + 1));
    }
  }
  vhost::GuestRegion region{{kRamBase, kRamSize, kRamBase, 0}, std::span(ram), nullptr};
  auto memory = vhost::GuestMemory::create({region});
  check(memory.ok());
  auto rings_at = [&](std::size_t offset) {
    return vhost::VirtqueueRings{std::span(ram).subspan(offset, 256),
                                 std::span(ram).subspan(offset + 256, 64),
                                 std::span(ram).subspan(offset + 320, 160)};
  };
  // used rings start zeroed, as a driver sets them up
  std::memset(ram.data() + 320, 0, 160);
  std::memset(ram.data() + 1024 + 320, 0, 160);
  auto rx = vhost::SplitVirtqueue::create(*memory, kQueueSize, rings_at(0), true, 0);
  auto tx = vhost::SplitVirtqueue::create(*memory, kQueueSize, rings_at(1024), true, 0);
  check(rx.ok() && tx.ok());
  AcceptAll connector;
  vsock::DeviceConfig config;
  config.buffer_per_connection = 4096;
  config.max_pending_replies = 8;
  vsock::VsockDevice device(config, connector, [](vsock::QueueIndex) {});
  device.attach_queues(&*rx, &*tx);
  device.pump();
  for (std::size_t i = 0; i < connector.streams.size() && i < 4; ++i) {
    if (connector.streams[i]->handler) connector.streams[i]->handler(true, true);
  }
  device.pump();
  // Every used element must name a ring slot and a length within what a chain can hold.
  for (std::size_t offset : {std::size_t{320}, std::size_t{1024 + 320}}) {
    const auto used_idx = vhost::load_le<std::uint16_t>(ram, offset + 2);
    for (std::uint16_t k = 0; k < std::min<std::uint16_t>(used_idx, kQueueSize); ++k) {
      const auto id = vhost::load_le<std::uint32_t>(ram, offset + 4 + 8u * k);
      const auto len = vhost::load_le<std::uint32_t>(ram, offset + 8 + 8u * k);
      check(id < kQueueSize);
      check(len <= vhost::SplitVirtqueue::kMaxChainBytes);
    }
  }
}

struct NullModel : vhost::DeviceModel {
  std::uint64_t device_features() const override { return 0; }
  std::vector<std::uint8_t> config_space() const override { return std::vector<std::uint8_t>(8, 3); }
  std::uint32_t queue_count() const override { return 2; }
  void queues_changed(std::span<vhost::SplitVirtqueue* const>) override {}
  void queue_kicked(std::uint32_t) override {}
};

struct NullKicks : vhost::KickWatcher {
  void watch_kick(std::uint32_t, int) override {}
};

// Messages framed by their own headers; a fatal one ends the session like a disconnect.
void fuzz_backend(std::span<const std::uint8_t> input) {
  NullModel model;
  NullKicks kicks;
  vhost::Backend backend(model, kicks);
  while (input.size() >= vhost::kHeaderSize) {
    vhost::IncomingMessage m;
    m.header = *vhost::decode_header(input);
    input = input.subspan(vhost::kHeaderSize);
    const std::size_t take = std::min<std::size_t>(m.header.size, input.size());
    m.payload.assign(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(take));
    input = input.subspan(take);
    const auto outcome = backend.handle(std::move(m));
    if (!outcome.reply.empty()) check(outcome.reply.size() >= vhost::kHeaderSize);
    if (outcome.fatal) break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::span<const std::uint8_t> rest(data + 1, size - 1);
  if (data[0] % 2 == 0) {
    fuzz_device(rest, (data[0] & 2) != 0);
  } else {
    fuzz_backend(rest);
  }
  return 0;
}
