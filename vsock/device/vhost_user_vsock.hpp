// A complete user-space vhost-user-vsock device on a libuv loop: the vhost-user server
// (QEMU's `-device vhost-user-vsock-pci,chardev=...`), the virtio-vsock device logic and
// the unix-socket host mapping: hybrid vsock (`<uds-path>_P`, `CONNECT P`) and vfkit-style
// per-port sockets. Used by usernet-vsockd and embedded in usernet-vm.
#pragma once

#include <uv.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "netstack/base/result.hpp"
#include "vsock/transport/socket_listener.hpp"
#include "vsock/vhost_user/vhost_user_server.hpp"
#include "vsock/device/vsock_device.hpp"
#include "vsock/device/vsock_host_unix.hpp"

namespace usernet::vsock {

struct VhostUserVsockConfig {
  std::string vhost_socket;  // where QEMU connects (empty: use adopt_frontend())
  std::string uds_path;      // hybrid vsock base path (empty: none)
  std::uint64_t guest_cid = 3;
  std::uint32_t buffer_per_connection = 256 * 1024;
  /// Per-port mappings (vfkit's virtio-vsock devices). guest_port_sockets: the guest
  /// connecting to port P reaches this unix socket (`listen`); host_port_sockets: we listen
  /// on this unix socket and connect each client to the guest's port P (`connect`), with
  /// no CONNECT/OK lines.
  std::map<std::uint32_t, std::string> guest_port_sockets;
  std::map<std::uint32_t, std::string> host_port_sockets;
};

class VhostUserVsock : private vhost::DeviceModel {
 public:
  VhostUserVsock(uv_loop_t* loop, VhostUserVsockConfig config);
  ~VhostUserVsock() override;

  /// Opens the vhost-user socket, the `<uds-path>` listener and the per-port listeners,
  /// or says which one failed.
  Status start();
  /// Serves a connected front-end socket (socketpair from a launcher or a test).
  void adopt_frontend(int fd) { server_.adopt(fd); }

  const DeviceStats& stats() const { return device_.stats(); }
  std::size_t connection_count() const { return device_.connection_count(); }
  bool queues_running() const { return queues_running_; }
  std::uint64_t refused_chains() const;
  std::uint64_t refused_messages() const { return server_.refused_messages(); }

 private:
  std::uint64_t device_features() const override { return 0; }
  std::vector<std::uint8_t> config_space() const override;
  std::uint32_t queue_count() const override { return 2; }  // rx, tx (QEMU keeps the event queue)
  void queues_changed(std::span<vhost::SplitVirtqueue* const> queues) override;
  void queue_kicked(std::uint32_t index) override;
  void accept_for_guest_port(std::uint32_t guest_port, int fd);

  VhostUserVsockConfig config_;
  UnixHostConnector connector_;
  VsockDevice device_;
  vhost::Server server_;
  UnixHostListener listener_;
  std::vector<std::unique_ptr<SocketListener>> port_listeners_;
  uv_loop_t* loop_;
  Timer request_timer_;  // expires host CONNECTs the guest never answers
  vhost::SplitVirtqueue* rx_ = nullptr;
  vhost::SplitVirtqueue* tx_ = nullptr;
  bool queues_running_ = false;
  bool broken_reported_ = false;
};

}  // namespace usernet::vsock
