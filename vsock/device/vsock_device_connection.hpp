// One virtio-vsock stream connection as the device tracks it: state, credit counters in
// both directions (virtio 1.1 §5.10.6.3) and the bounded guest→host byte queue.
//
// Credit, guest → host: we advertise buf_alloc and fwd_cnt (bytes handed to the host
// socket); the guest may have at most buf_alloc bytes unforwarded, which is exactly what
// our queue can hold, so a well-behaved guest never overflows it and a misbehaving one is
// caught (credit violation → RST). Host → guest: the guest advertises its buf_alloc and
// fwd_cnt; we never send more than buf_alloc - (tx_cnt - fwd_cnt) bytes ahead.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vsock/device/vsock_host_stream.hpp"

namespace usernet::vsock {

/// FIFO of bytes with a fixed capacity; contiguous storage, compacted lazily.
class ByteQueue {
 public:
  explicit ByteQueue(std::size_t capacity) : capacity_(capacity) {}
  std::size_t size() const { return bytes_.size() - head_; }
  std::size_t capacity() const { return capacity_; }
  std::size_t free_space() const { return capacity_ - size(); }
  bool empty() const { return size() == 0; }
  /// Appends if it fits; false (and nothing appended) otherwise.
  bool push(std::span<const std::uint8_t> data);
  /// The queued bytes, oldest first.
  std::span<const std::uint8_t> front() const {
    return std::span<const std::uint8_t>(bytes_).subspan(head_);
  }
  /// Drops the `count` oldest bytes.
  void consume(std::size_t count);

 private:
  std::size_t capacity_;
  std::vector<std::uint8_t> bytes_;
  std::size_t head_ = 0;
};

/// Credit bookkeeping for one connection; all counters wrap modulo 2^32 like the wire fields.
struct Credit {
  // guest → host (what we advertise)
  std::uint32_t buf_alloc = 0;          // our receive buffer
  std::uint32_t rx_cnt = 0;             // payload bytes received from the guest
  std::uint32_t fwd_cnt = 0;            // of those, bytes written to the host socket
  std::uint32_t advertised_fwd_cnt = 0; // fwd_cnt the guest last heard from us
  // host → guest (what the guest advertises)
  std::uint32_t peer_buf_alloc = 0;
  std::uint32_t peer_fwd_cnt = 0;
  std::uint32_t tx_cnt = 0;             // payload bytes sent to the guest

  /// Bytes we may still send to the guest (0 if the guest shrank its buffer below what is
  /// in flight).
  std::uint32_t peer_free() const {
    const std::uint32_t in_flight = tx_cnt - peer_fwd_cnt;
    return in_flight >= peer_buf_alloc ? 0 : peer_buf_alloc - in_flight;
  }
  /// Bytes the guest may still send us, by our own accounting.
  std::uint32_t our_free() const {
    const std::uint32_t unforwarded = rx_cnt - fwd_cnt;
    return unforwarded >= buf_alloc ? 0 : buf_alloc - unforwarded;
  }
  /// True once enough was forwarded since the last advertisement that the guest could be
  /// waiting for credit (a quarter of the buffer).
  bool update_due() const { return fwd_cnt - advertised_fwd_cnt >= buf_alloc / 4 && fwd_cnt != advertised_fwd_cnt; }
};

/// Per-connection state.
struct Connection {
  enum class State {
    awaiting_guest,  // host-initiated: REQUEST sent, waiting for RESPONSE
    connected,
    draining,        // guest closed; flushing queued bytes to the host, then gone
  };

  Connection(std::uint32_t host_port_, std::uint32_t guest_port_, std::uint32_t buffer)
      : host_port(host_port_), guest_port(guest_port_), to_host(buffer) {
    credit.buf_alloc = buffer;
  }

  std::uint32_t host_port;
  std::uint32_t guest_port;
  State state = State::connected;
  std::unique_ptr<HostStream> stream;
  ByteQueue to_host;          // guest → host bytes not yet written
  std::string preamble;       // written to the host before any guest data ("OK <port>\n")
  bool announce = true;       // host-initiated: send that "OK" line on RESPONSE (hybrid vsock)
  Credit credit;
  std::uint64_t requested_at_ms = 0;  // awaiting_guest: when REQUEST was queued

  // Packets owed to the guest (sent in this order when an rx buffer is available).
  bool owe_request = false;
  bool owe_response = false;
  bool owe_credit_update = false;
  bool owe_credit_request = false;
  std::uint32_t owe_shutdown_flags = 0;  // ShutdownFlag bits not yet sent
  std::uint32_t sent_shutdown_flags = 0;

  // Host side.
  bool host_readable = false;  // poll said readable and we have not drained it
  bool host_eof = false;
  bool host_write_shut = false;
  bool credit_requested = false;  // a CREDIT_REQUEST is outstanding since credit hit 0

  // Guest side.
  bool guest_shut_send = false;     // guest will send no more
  bool guest_shut_receive = false;  // guest will receive no more

  bool in_ready_list = false;
};

}  // namespace usernet::vsock
