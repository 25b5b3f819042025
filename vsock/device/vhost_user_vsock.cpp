// vhost-user-vsock device wiring; see vhost_user_vsock.hpp.
#include "vsock/device/vhost_user_vsock.hpp"

#include "vsock/vhost_user/vhost_user_bytes.hpp"
#include "netstack/base/log.hpp"

namespace usernet::vsock {

namespace {
DeviceConfig device_config(const VhostUserVsockConfig& c) {
  DeviceConfig d;
  d.guest_cid = c.guest_cid;
  d.buffer_per_connection = c.buffer_per_connection;
  return d;
}
}  // namespace

VhostUserVsock::VhostUserVsock(uv_loop_t* loop, VhostUserVsockConfig config)
    : config_(std::move(config)),
      connector_(loop, config_.uds_path, config_.guest_port_sockets),
      device_(device_config(config_), connector_,
              [this](QueueIndex q) { server_.notify(static_cast<std::uint32_t>(q)); }),
      server_(loop, *this),
      listener_(loop,
                [this](std::uint32_t port, std::unique_ptr<HostStream> stream) {
                  return device_.connect_to_guest(port, std::move(stream), uv_now(loop_));
                }),
      loop_(loop),
      request_timer_(loop, [this] { device_.expire_requests(uv_now(loop_)); }) {
  request_timer_.start(1000, 1000);
  request_timer_.unref();
}

VhostUserVsock::~VhostUserVsock() { device_.attach_queues(nullptr, nullptr); }

Status VhostUserVsock::start() {
  if (!config_.vhost_socket.empty())
    if (Status listening = server_.listen(config_.vhost_socket); !listening) return listening;
  if (!config_.uds_path.empty())
    if (Status listening = listener_.listen(config_.uds_path); !listening) return listening;
  for (const auto& [port, path] : config_.host_port_sockets) {
    try {
      port_listeners_.push_back(std::make_unique<SocketListener>(
          loop_, parse_transport_url("unix://" + path), [this, guest_port = port](int fd) {
            accept_for_guest_port(guest_port, fd);
          }));
    } catch (const std::exception& e) {
      return Error{"vsock port " + std::to_string(port) + ": " + e.what()};
    }
  }
  return {};
}

// A client of a per-port socket goes straight to the guest's listener: no CONNECT line
// in, no OK line out (vfkit's `connect` semantics).
void VhostUserVsock::accept_for_guest_port(std::uint32_t guest_port, int fd) {
  if (!device_.connect_to_guest(guest_port, std::make_unique<UnixHostStream>(loop_, fd), uv_now(loop_),
                                false)) {
    log_message(LogLevel::debug, "vsock: host client for guest port " + std::to_string(guest_port) +
                                           " refused (device not running)");
  }
}

// struct virtio_vsock_config { le64 guest_cid; }
std::vector<std::uint8_t> VhostUserVsock::config_space() const {
  std::vector<std::uint8_t> space;
  vhost::append_le(space, config_.guest_cid);
  return space;
}

void VhostUserVsock::queues_changed(std::span<vhost::SplitVirtqueue* const> queues) {
  rx_ = queues.size() == 2 ? queues[0] : nullptr;
  tx_ = queues.size() == 2 ? queues[1] : nullptr;
  queues_running_ = rx_ != nullptr;
  broken_reported_ = false;
  log_message(LogLevel::info, queues_running_ ? "vsock: queues running"
                                                 : "vsock: queues stopped; connections reset");
  device_.attach_queues(rx_, tx_);
  if (queues_running_) device_.pump();
}

// Runs the device; reports (once per queue start) a ring the driver broke.
void VhostUserVsock::queue_kicked(std::uint32_t) {
  device_.pump();
  for (auto* queue : {rx_, tx_}) {
    if (queue != nullptr && queue->broken() && !broken_reported_) {
      broken_reported_ = true;
      log_message(LogLevel::warn, "vsock: guest broke a virtqueue: " + queue->broken_reason());
    }
  }
}

std::uint64_t VhostUserVsock::refused_chains() const {
  return (rx_ ? rx_->refused_chains() : 0) + (tx_ ? tx_->refused_chains() : 0);
}

}  // namespace usernet::vsock
