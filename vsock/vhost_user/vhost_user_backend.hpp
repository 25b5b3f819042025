// The back-end side of the vhost-user protocol for one connected front-end (QEMU):
// feature negotiation, the guest memory table (mmapped from the fds QEMU sends), vring
// setup and the start/stop rules of the spec, GET_CONFIG from the device's config space.
// Free of libuv: kick fds are handed to a KickWatcher, and the device model is told when
// its queues start or stop. One instance per front-end connection; destroy it (or call
// reset()) when QEMU disconnects and everything — mappings, fds, queues — goes with it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "netstack/base/result.hpp"
#include "vsock/vhost_user/vhost_user_memory.hpp"
#include "vsock/vhost_user/vhost_user_message.hpp"
#include "vsock/vhost_user/virtqueue.hpp"

namespace usernet::vhost {

/// What a concrete virtio device (vsock) provides to the generic back-end.
class DeviceModel {
 public:
  virtual ~DeviceModel() = default;
  /// Device-specific feature bits offered (transport bits are added by the back-end).
  virtual std::uint64_t device_features() const = 0;
  /// The device config space, for GET_CONFIG.
  virtual std::vector<std::uint8_t> config_space() const = 0;
  /// Number of vrings the back-end serves.
  virtual std::uint32_t queue_count() const = 0;
  /// All queues are running (pointers valid until the next call) or, with an empty span,
  /// at least one stopped.
  virtual void queues_changed(std::span<SplitVirtqueue* const> queues) = 0;
  /// A running queue was kicked by the driver.
  virtual void queue_kicked(std::uint32_t index) = 0;
};

/// Watches kick eventfds on behalf of the back-end (the libuv loop in production).
class KickWatcher {
 public:
  virtual ~KickWatcher() = default;
  /// Starts watching `fd` for queue `index` (replacing any previous fd); -1 stops.
  virtual void watch_kick(std::uint32_t index, int fd) = 0;
};

/// One decoded message with the descriptors that came with it (ownership passes to us).
struct IncomingMessage {
  Header header;
  std::vector<std::uint8_t> payload;
  std::vector<int> fds;
};

class Backend {
 public:
  Backend(DeviceModel& model, KickWatcher& kicks);
  ~Backend();
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  /// Result of one message: the reply to send (may be empty), and what went wrong if
  /// anything; `fatal` means the framing is broken and the connection must be dropped.
  struct Outcome {
    std::vector<std::uint8_t> reply;
    Status status;
    bool fatal = false;
  };

  /// Handles one message (closing every fd it does not keep).
  Outcome handle(IncomingMessage message);

  /// A kick arrived on queue `index` (from the KickWatcher).
  void kicked(std::uint32_t index);

  /// Signals the driver of queue `index` through its call eventfd.
  void notify(std::uint32_t index);

  /// Stops every queue and drops memory and fds (front-end gone or RESET_OWNER).
  void reset();

  std::uint64_t offered_features() const;
  static std::uint64_t offered_protocol_features();
  bool running(std::uint32_t index) const;

 private:
  struct Vring {
    std::uint16_t size = 0;
    std::optional<VringAddress> address;
    std::uint16_t base = 0;
    int kick_fd = -1;
    int call_fd = -1;
    int err_fd = -1;
    bool enabled = false;
    std::optional<SplitVirtqueue> queue;
  };

  /// Handles one request: its reply (may be empty), or why it must be refused.
  Result<std::vector<std::uint8_t>> dispatch(IncomingMessage& m);
  /// SET_VRING_NUM, SET_VRING_BASE, GET_VRING_BASE, SET_VRING_ENABLE: one ring's state.
  Result<std::vector<std::uint8_t>> vring_state_request(Request request, IncomingMessage& m);
  Result<std::vector<std::uint8_t>> set_vring_address(IncomingMessage& m);
  /// GET_CONFIG: a slice of the device's config space.
  Result<std::vector<std::uint8_t>> get_config(IncomingMessage& m);
  Status set_mem_table(IncomingMessage& m);
  Status set_vring_fd(IncomingMessage& m);
  Result<Vring*> vring_for(std::uint32_t index);
  /// Starts the queue if ready (memory, size, address, kick, enabled); informs the model.
  void try_start(std::uint32_t index);
  void stop(std::uint32_t index);
  void publish_queues();

  DeviceModel& model_;
  KickWatcher& kicks_;
  std::uint64_t acked_features_ = 0;
  std::uint64_t acked_protocol_features_ = 0;
  GuestMemory memory_;
  std::vector<Vring> vrings_;
  bool published_ = false;
};

/// Closes a file descriptor if valid and sets it to -1.
void close_fd(int& fd);

}  // namespace usernet::vhost
