// virtio-vsock device logic; see vsock_device.hpp.
#include "vsock/device/vsock_device.hpp"

#include <algorithm>
#include <cerrno>
#include <string>

namespace usernet::vsock {

namespace {
constexpr auto kStream = static_cast<std::uint16_t>(SocketType::stream);

// The RST answering a packet that has no connection (ports swapped).
PacketHeader reset_reply_to(const PacketHeader& h) {
  PacketHeader r;
  r.src_cid = kHostCid;
  r.dst_cid = h.src_cid;
  r.src_port = h.dst_port;
  r.dst_port = h.src_port;
  r.type = kStream;
  r.op = static_cast<std::uint16_t>(Operation::rst);
  return r;
}

// Writes a 44-byte header at the start of the chain's writable buffers.
void write_header(const vhost::DescriptorChain& chain, const PacketHeader& h) {
  const auto bytes = encode_packet_header(h);
  vhost::copy_into_buffers(chain.writable, 0, bytes);
}
}  // namespace

VsockDevice::VsockDevice(DeviceConfig config, HostConnector& connector, Notify notify)
    : config_(config), connector_(connector), notify_(std::move(notify)) {}

VsockDevice::~VsockDevice() { reset(); }

// Any change of rings means the guest driver restarted: its connections are gone.
void VsockDevice::attach_queues(vhost::SplitVirtqueue* rx, vhost::SplitVirtqueue* tx) {
  if (rx == nullptr || tx == nullptr || rx != rx_ || tx != tx_) reset();
  rx_ = rx;
  tx_ = tx;
}

void VsockDevice::reset() {
  connections_.clear();
  ready_.clear();
  orphan_resets_.clear();
}

// Runs to quiescence; re-entrant calls (from host callbacks) just request another round.
void VsockDevice::pump() {
  if (pumping_) {
    pump_again_ = true;
    return;
  }
  if (rx_ == nullptr || tx_ == nullptr) return;
  pumping_ = true;
  do {
    pump_again_ = false;
    process_tx();
    fill_rx();
    // tx stops while too many RSTs wait; resume once rx buffers drained them.
    if (orphan_resets_.size() < config_.max_pending_replies && tx_paused_) pump_again_ = true;
  } while (pump_again_);
  pumping_ = false;
  if (rx_pushed_ && rx_->should_notify()) notify_(QueueIndex::rx);
  if (tx_pushed_ && tx_->should_notify()) notify_(QueueIndex::tx);
  rx_pushed_ = tx_pushed_ = false;
}

// Consumes tx chains: header + payload in the device-readable part; nothing is written back.
void VsockDevice::process_tx() {
  std::array<std::uint8_t, kPacketHeaderSize> header_bytes{};
  tx_paused_ = false;
  for (;;) {
    if (orphan_resets_.size() >= config_.max_pending_replies) {
      tx_paused_ = true;
      return;
    }
    auto chain = tx_->pop();
    if (!chain) {
      if (!tx_->broken() && tx_->enable_kicks()) continue;
      return;
    }
    const auto got = vhost::copy_from_buffers(chain->readable, 0, header_bytes);
    const auto header = decode_packet_header(header_bytes);
    if (got < kPacketHeaderSize || !header || header->len > kMaxPacketPayload ||
        header->len > chain->readable_bytes - kPacketHeaderSize) {
      ++stats_.dropped_packets;
    } else {
      scratch_.resize(header->len);
      vhost::copy_from_buffers(chain->readable, kPacketHeaderSize, scratch_);
      handle_packet(*header, scratch_);
    }
    tx_->push(chain->head, 0);
    tx_pushed_ = true;
  }
}

// Addressing checks, then dispatch by connection.
void VsockDevice::handle_packet(const PacketHeader& h, std::span<const std::uint8_t> payload) {
  ++stats_.packets_from_guest;
  if (h.src_cid != config_.guest_cid || h.dst_cid != kHostCid) {
    ++stats_.dropped_packets;
    return;
  }
  const auto op = h.operation();
  if (h.type != kStream) {
    ++stats_.dropped_packets;
    if (op != Operation::rst) queue_reset(reset_reply_to(h));
    return;
  }
  auto it = connections_.find(key_of(h.dst_port, h.src_port));
  if (it == connections_.end()) {
    if (op == Operation::request) {
      handle_request(h);
    } else if (op != Operation::rst) {
      queue_reset(reset_reply_to(h));
    }
    return;
  }
  Connection& c = *it->second;
  const bool had_credit = c.credit.peer_free() > 0;
  c.credit.peer_buf_alloc = h.buf_alloc;
  c.credit.peer_fwd_cnt = h.fwd_cnt;
  if (c.credit.peer_free() > 0) {
    c.credit_requested = false;
    if (!had_credit && c.host_readable) mark_ready(c);
  }
  handle_connected_packet(c, h, payload);
}

// Guest connects to host port dst_port: open `<uds-path>_<port>` now (unix connects complete
// at once) and answer RESPONSE or RST.
void VsockDevice::handle_request(const PacketHeader& h) {
  std::unique_ptr<HostStream> stream;
  if (connections_.size() < config_.max_connections) stream = connector_.connect(h.dst_port);
  if (!stream) {
    ++stats_.connections_refused;
    queue_reset(reset_reply_to(h));
    return;
  }
  Connection& c = add_connection(h.dst_port, h.src_port, std::move(stream));
  c.credit.peer_buf_alloc = h.buf_alloc;
  c.credit.peer_fwd_cnt = h.fwd_cnt;
  c.owe_response = true;
  update_watch(c);
  mark_ready(c);
}

// Registers a connection and routes its host stream's readiness to us.
Connection& VsockDevice::add_connection(std::uint32_t host_port, std::uint32_t guest_port,
                                        std::unique_ptr<HostStream> stream) {
  const Key key = key_of(host_port, guest_port);
  auto c = std::make_unique<Connection>(host_port, guest_port, config_.buffer_per_connection);
  c->stream = std::move(stream);
  c->stream->set_ready_handler([this, key](bool r, bool w) { on_host_ready(key, r, w); });
  Connection& ref = *c;
  connections_[key] = std::move(c);
  ++stats_.connections_opened;
  return ref;
}

// State machine of an existing connection.
void VsockDevice::handle_connected_packet(Connection& c, const PacketHeader& h,
                                          std::span<const std::uint8_t> payload) {
  switch (h.operation()) {
    case Operation::response:
      if (c.state != Connection::State::awaiting_guest) {
        close(c, true);
        return;
      }
      c.state = Connection::State::connected;
      if (c.announce) c.preamble = "OK " + std::to_string(c.host_port) + "\n";
      if (!flush_to_host(c)) return;
      update_watch(c);
      return;
    case Operation::rst:
      close(c, false);
      return;
    case Operation::shutdown:
      if (c.state == Connection::State::awaiting_guest) {
        close(c, true);
        return;
      }
      if (h.flags & static_cast<std::uint32_t>(ShutdownFlag::send)) c.guest_shut_send = true;
      if (h.flags & static_cast<std::uint32_t>(ShutdownFlag::receive)) c.guest_shut_receive = true;
      if (c.guest_shut_send && c.guest_shut_receive) c.state = Connection::State::draining;
      if (!flush_to_host(c)) return;
      update_watch(c);
      return;
    case Operation::rw:
      if (c.state != Connection::State::connected || c.guest_shut_send) {
        close(c, true);
        return;
      }
      if (payload.size() > c.to_host.free_space()) {
        ++stats_.credit_violations;
        close(c, true);
        return;
      }
      c.to_host.push(payload);
      c.credit.rx_cnt += static_cast<std::uint32_t>(payload.size());
      stats_.bytes_from_guest += payload.size();
      if (!flush_to_host(c)) return;
      update_watch(c);
      return;
    case Operation::credit_update:
      return;  // the credit fields were taken above
    case Operation::credit_request:
      c.owe_credit_update = true;
      mark_ready(c);
      return;
    case Operation::request:  // duplicate for a live connection
      close(c, true);
      return;
    case Operation::invalid:
      break;
  }
  ++stats_.dropped_packets;
}

// Writes the preamble, then queued guest bytes; half-closes once the guest shut sending.
bool VsockDevice::flush_to_host(Connection& c) {
  if (!c.stream) return true;
  while (!c.preamble.empty()) {
    const long n = c.stream->write(std::span(
        reinterpret_cast<const std::uint8_t*>(c.preamble.data()), c.preamble.size()));
    if (n < 0) {
      close(c, true);
      return false;
    }
    if (n == 0) return true;
    c.preamble.erase(0, static_cast<std::size_t>(n));
  }
  while (!c.to_host.empty()) {
    const long n = c.stream->write(c.to_host.front());
    if (n < 0) {
      close(c, true);
      return false;
    }
    if (n == 0) break;
    c.to_host.consume(static_cast<std::size_t>(n));
    c.credit.fwd_cnt += static_cast<std::uint32_t>(n);
  }
  if (c.credit.update_due() && c.state == Connection::State::connected) {
    c.owe_credit_update = true;
    mark_ready(c);
  }
  if (c.to_host.empty()) {
    if (c.state == Connection::State::draining) {
      close(c, true);
      return false;
    }
    if (c.guest_shut_send && !c.host_write_shut) {
      c.stream->shutdown_write();
      c.host_write_shut = true;
    }
  }
  return true;
}

// Host socket readiness: writable flushes, readable queues the connection for rx.
void VsockDevice::on_host_ready(Key key, bool readable, bool writable) {
  auto it = connections_.find(key);
  if (it == connections_.end()) return;
  Connection& c = *it->second;
  if (writable && !flush_to_host(c)) {
    pump();
    return;
  }
  if (readable) {
    c.host_readable = true;
    mark_ready(c);
  }
  update_watch(c);
  pump();
}

// Watch for reading only while we could forward the data; for writing while bytes wait.
void VsockDevice::update_watch(Connection& c) {
  if (!c.stream) return;
  const bool want_read = c.state == Connection::State::connected && !c.host_eof &&
                         !c.guest_shut_receive && !c.host_readable;
  const bool want_write = !c.preamble.empty() || !c.to_host.empty();
  c.stream->watch(want_read, want_write);
}

void VsockDevice::mark_ready(Connection& c) {
  if (c.in_ready_list) return;
  c.in_ready_list = true;
  ready_.push_back(key_of(c.host_port, c.guest_port));
}

bool VsockDevice::wants_rx(const Connection& c) const {
  if (c.owe_request || c.owe_response || c.owe_credit_update || c.owe_credit_request ||
      c.owe_shutdown_flags != 0) {
    return true;
  }
  if (c.state != Connection::State::connected || !c.host_readable || c.host_eof ||
      c.guest_shut_receive) {
    return false;
  }
  return c.credit.peer_free() > 0 || !c.credit_requested;
}

// Every packet we send carries our current credit.
PacketHeader VsockDevice::header_for(Connection& c, Operation op) {
  PacketHeader h;
  h.src_cid = kHostCid;
  h.dst_cid = config_.guest_cid;
  h.src_port = c.host_port;
  h.dst_port = c.guest_port;
  h.type = kStream;
  h.op = static_cast<std::uint16_t>(op);
  h.buf_alloc = c.credit.buf_alloc;
  h.fwd_cnt = c.credit.fwd_cnt;
  c.credit.advertised_fwd_cnt = c.credit.fwd_cnt;
  c.owe_credit_update = false;
  return h;
}

// One packet for `c`: owed control packets first, then host data, then the EOF shutdown.
std::size_t VsockDevice::emit_for(Connection& c, const vhost::DescriptorChain& chain,
                                  bool& closed) {
  auto control = [&](Operation op) {
    write_header(chain, header_for(c, op));
    return kPacketHeaderSize;
  };
  if (c.owe_request) {
    c.owe_request = false;
    return control(Operation::request);
  }
  if (c.owe_response) {
    c.owe_response = false;
    return control(Operation::response);
  }
  if (c.owe_credit_request) {
    c.owe_credit_request = false;
    return control(Operation::credit_request);
  }
  if (c.state == Connection::State::connected && c.host_readable && !c.host_eof &&
      !c.guest_shut_receive) {
    const auto room = std::min<std::uint64_t>(
        {chain.writable_bytes - kPacketHeaderSize, c.credit.peer_free(), kMaxPacketPayload});
    if (room == 0) {
      if (c.credit.peer_free() == 0 && !c.credit_requested) {
        c.credit_requested = true;
        return control(Operation::credit_request);
      }
    } else {
      const auto window = vhost::buffer_window(chain.writable, kPacketHeaderSize, room);
      const long n = c.stream->read(window);
      if (n > 0) {
        auto h = header_for(c, Operation::rw);
        h.len = static_cast<std::uint32_t>(n);
        write_header(chain, h);
        c.credit.tx_cnt += h.len;
        stats_.bytes_to_guest += h.len;
        return kPacketHeaderSize + h.len;
      }
      if (n == 0) {
        c.host_eof = true;
        c.owe_shutdown_flags |= static_cast<std::uint32_t>(ShutdownFlag::send);
      } else if (n == -EAGAIN || n == -EWOULDBLOCK) {
        c.host_readable = false;
        update_watch(c);
      } else {
        close(c, true);
        closed = true;
        return 0;
      }
    }
  }
  if (c.owe_shutdown_flags != 0) {
    auto h = header_for(c, Operation::shutdown);
    h.flags = c.owe_shutdown_flags;
    c.sent_shutdown_flags |= c.owe_shutdown_flags;
    c.owe_shutdown_flags = 0;
    write_header(chain, h);
    return kPacketHeaderSize;
  }
  if (c.owe_credit_update) return control(Operation::credit_update);
  return 0;
}

// Hands out rx buffers: pending RSTs first, then connections round-robin.
void VsockDevice::fill_rx() {
  std::vector<Key> deferred;  // could not use the buffer at hand; retry on the next fill
  for (;;) {
    std::optional<vhost::DescriptorChain> chain;
    while (!orphan_resets_.empty() || !ready_.empty()) {
      if (!chain) chain = rx_->pop();
      if (!chain) break;
      if (chain->writable_bytes < kPacketHeaderSize) {
        rx_->push(chain->head, 0);  // unusable buffer; give it back
        rx_pushed_ = true;
        ++stats_.dropped_packets;
        chain.reset();
        continue;
      }
      std::size_t written = 0;
      if (!orphan_resets_.empty()) {
        write_header(*chain, orphan_resets_.front());
        orphan_resets_.pop_front();
        written = kPacketHeaderSize;
      } else {
        const Key key = ready_.front();
        ready_.pop_front();
        auto it = connections_.find(key);
        if (it == connections_.end()) continue;
        Connection& c = *it->second;
        c.in_ready_list = false;
        if (!wants_rx(c)) continue;
        bool closed = false;
        written = emit_for(c, *chain, closed);
        if (!closed && wants_rx(c)) {
          if (written == 0) {
            deferred.push_back(key);
          } else {
            mark_ready(c);
          }
        }
        if (written == 0) continue;  // keep the chain for the next candidate
      }
      rx_->push(chain->head, static_cast<std::uint32_t>(written));
      rx_pushed_ = true;
      ++stats_.packets_to_guest;
      chain.reset();
    }
    if (chain) rx_->undo_pop();  // popped but nothing needed it
    if (orphan_resets_.empty() && ready_.empty()) break;
    // Out of rx buffers with work waiting: ask for a kick, unless buffers raced in.
    if (rx_->broken() || !rx_->enable_kicks()) break;
  }
  for (Key key : deferred) {
    auto it = connections_.find(key);
    if (it != connections_.end()) mark_ready(*it->second);
  }
}

void VsockDevice::queue_reset(const PacketHeader& to_guest) {
  orphan_resets_.push_back(to_guest);
  ++stats_.resets_sent;
}

// Forgets the connection (closing the host stream); optionally tells the guest with RST.
void VsockDevice::close(Connection& c, bool send_reset) {
  if (send_reset) {
    auto h = header_for(c, Operation::rst);
    queue_reset(h);
  }
  connections_.erase(key_of(c.host_port, c.guest_port));
}

std::uint32_t VsockDevice::allocate_host_port() { return next_host_port_++; }

// Host client's CONNECT: REQUEST to the guest; the stream waits for RESPONSE.
bool VsockDevice::connect_to_guest(std::uint32_t guest_port, std::unique_ptr<HostStream> stream,
                                   std::uint64_t now_ms, bool announce) {
  if (rx_ == nullptr || tx_ == nullptr || connections_.size() >= config_.max_connections) {
    ++stats_.connections_refused;
    return false;
  }
  std::uint32_t host_port = allocate_host_port();
  while (host_port < (1u << 30) || connections_.count(key_of(host_port, guest_port)) != 0) {
    host_port = allocate_host_port();
    if (next_host_port_ == 0) next_host_port_ = 1u << 30;
  }
  Connection& c = add_connection(host_port, guest_port, std::move(stream));
  c.state = Connection::State::awaiting_guest;
  c.announce = announce;
  c.requested_at_ms = now_ms;
  c.owe_request = true;
  update_watch(c);
  mark_ready(c);
  pump();
  return true;
}

// Collects first, then closes: close() erases from the map being walked.
void VsockDevice::expire_requests(std::uint64_t now_ms) {
  std::vector<Key> expired;
  for (auto& [key, c] : connections_) {
    if (c->state == Connection::State::awaiting_guest &&
        now_ms - c->requested_at_ms >= config_.request_timeout_ms) {
      expired.push_back(key);
    }
  }
  for (Key key : expired) {
    auto it = connections_.find(key);
    if (it != connections_.end()) close(*it->second, true);
  }
  if (!expired.empty()) pump();
}

}  // namespace usernet::vsock
