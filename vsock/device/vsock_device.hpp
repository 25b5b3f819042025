// The virtio-vsock device logic (stream sockets only): consumes guest packets from the tx
// virtqueue, fills the rx virtqueue with replies and host data, and maps connections to
// host streams. Pure apart from the HostStream objects it drives, so unit tests run it
// over rings in a plain buffer with fake host streams.
//
// Bounded everywhere: per-connection guest→host queues hold at most the credit we gave;
// host data is read only into an rx buffer the guest provided and only within the
// guest's credit; replies to unknown connections are capped (tx processing pauses when
// the cap is reached until the guest gives rx buffers).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <unordered_map>

#include "vsock/vhost_user/virtqueue.hpp"
#include "vsock/device/vsock_device_connection.hpp"
#include "vsock/device/vsock_device_packet.hpp"
#include "vsock/device/vsock_host_stream.hpp"

namespace usernet::vsock {

struct DeviceStats {
  std::uint64_t packets_from_guest = 0;
  std::uint64_t packets_to_guest = 0;
  std::uint64_t bytes_from_guest = 0;
  std::uint64_t bytes_to_guest = 0;
  std::uint64_t dropped_packets = 0;      // malformed or misaddressed tx packets
  std::uint64_t credit_violations = 0;    // guest sent beyond the credit we gave
  std::uint64_t connections_opened = 0;
  std::uint64_t connections_refused = 0;  // no host service / table full
  std::uint64_t resets_sent = 0;
};

struct DeviceConfig {
  std::uint64_t guest_cid = 3;
  std::uint32_t buffer_per_connection = 256 * 1024;
  std::size_t max_connections = 4096;
  std::size_t max_pending_replies = 256;
  std::uint64_t request_timeout_ms = 30'000;  // host CONNECT waiting for the guest's answer
};

class VsockDevice {
 public:
  /// Called when a queue's driver should be interrupted (the glue writes the call eventfd).
  using Notify = std::function<void(QueueIndex)>;

  VsockDevice(DeviceConfig config, HostConnector& connector, Notify notify);
  ~VsockDevice();
  VsockDevice(const VsockDevice&) = delete;
  VsockDevice& operator=(const VsockDevice&) = delete;

  /// Attaches (or with nullptr detaches) the started rings. Detaching either resets all
  /// connections: the guest's view of them is gone.
  void attach_queues(vhost::SplitVirtqueue* rx, vhost::SplitVirtqueue* tx);

  /// Runs everything that can make progress: tx packets, host writes, rx fills, notifies.
  /// Call after a kick and after any host readiness event (the device does the latter).
  void pump();

  /// A host client asked to reach the guest's listener on `port` (hybrid vsock `CONNECT
  /// port`, or a per-port socket). The device sends REQUEST; on RESPONSE the stream first
  /// receives "OK <host port>\n" when `announce` is set (hybrid vsock's reply line).
  /// Returns false (stream dropped) if the device is not running or the table is full.
  /// `now_ms` starts the answer timeout (see expire_requests).
  bool connect_to_guest(std::uint32_t guest_port, std::unique_ptr<HostStream> stream,
                        std::uint64_t now_ms = 0, bool announce = true);

  /// Gives up on host CONNECTs the guest left unanswered for request_timeout_ms: the host
  /// client is closed and the guest gets RST. Call periodically with a monotonic clock.
  void expire_requests(std::uint64_t now_ms);

  /// Drops every connection (host streams closed) without telling the guest.
  void reset();

  const DeviceStats& stats() const { return stats_; }
  std::size_t connection_count() const { return connections_.size(); }
  std::uint64_t guest_cid() const { return config_.guest_cid; }

 private:
  using Key = std::uint64_t;
  static Key key_of(std::uint32_t host_port, std::uint32_t guest_port) {
    return (static_cast<Key>(host_port) << 32) | guest_port;
  }

  void process_tx();
  void handle_packet(const PacketHeader& header, std::span<const std::uint8_t> payload);
  void handle_request(const PacketHeader& header);
  Connection& add_connection(std::uint32_t host_port, std::uint32_t guest_port,
                             std::unique_ptr<HostStream> stream);
  void handle_connected_packet(Connection& c, const PacketHeader& header,
                               std::span<const std::uint8_t> payload);
  void fill_rx();
  /// Writes one owed control packet or data packet of `c` into `chain`; returns bytes
  /// written (0 if nothing to send). May close `c` (sets `closed`).
  std::size_t emit_for(Connection& c, const vhost::DescriptorChain& chain, bool& closed);
  bool wants_rx(const Connection& c) const;
  void mark_ready(Connection& c);
  /// Writes queued bytes to the host; returns false if that closed the connection.
  bool flush_to_host(Connection& c);
  void on_host_ready(Key key, bool readable, bool writable);
  void update_watch(Connection& c);
  void queue_reset(const PacketHeader& to_guest);
  void close(Connection& c, bool send_reset);
  PacketHeader header_for(Connection& c, Operation op);
  std::uint32_t allocate_host_port();

  DeviceConfig config_;
  HostConnector& connector_;
  Notify notify_;
  vhost::SplitVirtqueue* rx_ = nullptr;
  vhost::SplitVirtqueue* tx_ = nullptr;
  std::unordered_map<Key, std::unique_ptr<Connection>> connections_;
  std::deque<Key> ready_;                 // connections that may want an rx buffer
  std::deque<PacketHeader> orphan_resets_; // RSTs for packets without a connection
  std::uint32_t next_host_port_ = 1u << 30;
  bool pumping_ = false;
  bool pump_again_ = false;
  bool tx_paused_ = false;
  bool rx_pushed_ = false;
  bool tx_pushed_ = false;
  std::vector<std::uint8_t> scratch_;     // tx payload being processed
  DeviceStats stats_;
};

}  // namespace usernet::vsock
