#include "netstack/nat/tcp_relay.hpp"

#include <spdlog/spdlog.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "netstack/base/host_socket.hpp"

extern "C" {
#include "lwip/priv/tcp_priv.h"  // tcp_abandon
#include "lwip/tcp.h"
}

#include "netstack/lwip/lwip_address.hpp"

namespace usernet {

namespace {
constexpr std::size_t kReadChunk = 64 * 1024 - 1;  // tcp_write takes a u16 length
constexpr int kMaxReadsPerEvent = 16;
constexpr std::size_t kMaxIov = 256;
/// How long a small guest segment waits for the host's answer to carry its ACK. Far below
/// the guest's tail-loss probe timeout (>= 10 ms), far above a local round trip.
constexpr std::uint64_t kDeferredAckMs = 1;
// Resume reading the host once this much lwIP send buffer is free again.
constexpr std::size_t kResumeThreshold = TCP_SND_BUF / 4;
constexpr std::uint16_t kQueueReserve = 16;  // pbufs kept free in lwIP's send queue

/// Free send buffer. Not tcp_sndbuf(): that macro clamps to 16 bits (TCPWND16), which
/// with window scaling hides most of the buffer.
std::size_t send_space(const tcp_pcb* pcb) { return pcb->snd_buf; }
}  // namespace

TcpRelay::TcpRelay(TcpRelayGroup& group, tcp_pcb* pcb, int host_fd, std::string label)
    : group_(group), pcb_(pcb), fd_(host_fd), label_(std::move(label)),
      guest_(from_lwip_address(pcb->remote_ip)),
      watcher_(group.loop(), host_fd, [this](int status, int events) { on_host_event(status, events); }) {
  tcp_arg(pcb_, this);
  tcp_recv(pcb_, reinterpret_cast<tcp_recv_fn>(&TcpRelay::on_guest_data));
  tcp_sent(pcb_, reinterpret_cast<tcp_sent_fn>(&TcpRelay::on_guest_acked));
  tcp_err(pcb_, reinterpret_cast<tcp_err_fn>(&TcpRelay::on_guest_error));
  tcp_nagle_disable(pcb_);
  ip_set_option(pcb_, SOF_KEEPALIVE);
  pcb_->keep_idle = 60000;
  pcb_->keep_intvl = 10000;
  pcb_->keep_cnt = 6;
  update_watch();
}

TcpRelay::~TcpRelay() {
  for (const Chunk& c : to_host_)
    if (c.last_of_chain) pbuf_free(c.head);
  if (pcb_ != nullptr) {  // only if destroyed abnormally (group teardown)
    detach_pcb();
    tcp_abort(pcb_);
  }
  close_host(false);
}

void TcpRelay::close_host(bool with_reset) {
  if (fd_ < 0) return;
  watcher_.close();  // first: uv_close unregisters the fd number, which must still be ours
  if (with_reset)
    close_with_reset(fd_);
  else
    ::close(fd_);
  fd_ = -1;
}

void TcpRelay::detach_pcb() {
  tcp_arg(pcb_, nullptr);
  tcp_recv(pcb_, nullptr);
  tcp_sent(pcb_, nullptr);
  tcp_err(pcb_, nullptr);
}

err_t TcpRelay::on_guest_data(void* arg, tcp_pcb* pcb, pbuf* p, err_t err) {
  auto* self = static_cast<TcpRelay*>(arg);
  if (self == nullptr) {
    if (p) {
      tcp_recved(pcb, p->tot_len);
      pbuf_free(p);
    }
    return ERR_OK;
  }
  if (err != ERR_OK && p != nullptr) {
    pbuf_free(p);
    return ERR_OK;
  }
  if (p == nullptr) {
    self->guest_eof_ = true;
  } else {
    for (pbuf* q = p; q != nullptr; q = q->next) {
      if (q->len == 0 && q->next != nullptr) continue;
      self->to_host_.push_back(Chunk{p, static_cast<const std::uint8_t*>(q->payload), q->len, q->next == nullptr});
    }
  }
  self->group_.mark_dirty(self);
  return ERR_OK;
}

err_t TcpRelay::on_guest_acked(void* arg, tcp_pcb*, u16_t) {
  auto* self = static_cast<TcpRelay*>(arg);
  if (self == nullptr || self->pcb_ == nullptr) return ERR_OK;
  if (!self->stash_.empty()) {
    std::vector<std::uint8_t> pending;
    pending.swap(self->stash_);
    self->push_to_guest(pending.data(), pending.size());
    self->output_to_guest();
  }
  spdlog::trace("tcp {}: guest acked, sndbuf {} queue {} paused {}", self->label_, send_space(self->pcb_),
                tcp_sndqueuelen(self->pcb_), self->host_paused_);
  if (self->host_paused_ && self->stash_.empty() && send_space(self->pcb_) >= kResumeThreshold) {
    self->host_paused_ = false;
    self->update_watch();
  }
  self->maybe_finish();
  return ERR_OK;
}

void TcpRelay::on_guest_error(void* arg, err_t err) {
  auto* self = static_cast<TcpRelay*>(arg);
  if (self == nullptr) return;
  // lwIP has already freed the pcb (guest RST, or retransmissions gave up).
  self->pcb_ = nullptr;
  self->group_.counters().reset_by_guest++;
  spdlog::debug("tcp {}: guest side ended ({})", self->label_, static_cast<int>(err));
  self->close_host(true);
  self->retire();
}

void TcpRelay::flush_to_host() {
  dirty_ = false;
  if (retired_ || fd_ < 0) return;
  std::size_t flushed = 0;  // guest bytes written to the host this turn
  while (!to_host_.empty()) {
    iovec iov[kMaxIov];
    std::size_t count = 0;
    std::size_t total = 0;
    for (const Chunk& c : to_host_) {
      if (count == kMaxIov) break;
      const std::size_t skip = count == 0 ? first_chunk_offset_ : 0;
      iov[count].iov_base = const_cast<std::uint8_t*>(c.data + skip);
      iov[count].iov_len = c.length - skip;
      total += iov[count].iov_len;
      ++count;
    }
    const ssize_t n = ::writev(fd_, iov, static_cast<int>(count));
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        want_host_writable_ = true;
        update_watch();
        return;
      }
      if (errno == EINTR) continue;
      fail_from_host(errno);
      return;
    }
    auto written = static_cast<std::size_t>(n);
    flushed += written;
    group_.counters().bytes_to_host += written;
    acknowledge_to_guest(written);
    while (written > 0) {
      Chunk& c = to_host_.front();
      const std::size_t left = c.length - first_chunk_offset_;
      if (written < left) {
        first_chunk_offset_ += written;
        break;
      }
      written -= left;
      first_chunk_offset_ = 0;
      if (c.last_of_chain) pbuf_free(c.head);
      to_host_.pop_front();
    }
    if (static_cast<std::size_t>(n) < total) {
      want_host_writable_ = true;
      update_watch();
      return;
    }
  }
  want_host_writable_ = false;
  ack_received_data(flushed);
  if (guest_eof_ && !host_write_shut_) {
    ::shutdown(fd_, SHUT_WR);
    host_write_shut_ = true;
  }
  update_watch();
  maybe_finish();
}

void TcpRelay::ack_now() {
  ack_due_ms_ = 0;
  if (pcb_ == nullptr || !(pcb_->flags & TF_ACK_DELAY)) return;
  tcp_set_flags(pcb_, TF_ACK_NOW);
  tcp_output(pcb_);
}

// lwIP itself ACKs every second segment at once and holds a lone one for its 250 ms timer,
// long enough for the guest to fire tail-loss probes. A full segment (bulk data) is ACKed
// at the end of this turn; a small one (a request) waits up to kDeferredAckMs, by which
// time the host's answer usually carries the ACK: one frame per round trip, not two.
void TcpRelay::ack_received_data(std::size_t received) {
  if (pcb_ == nullptr || !(pcb_->flags & TF_ACK_DELAY)) {
    ack_due_ms_ = 0;
    return;
  }
  if (received >= pcb_->mss) {
    ack_now();
    return;
  }
  if (ack_due_ms_ == 0) ack_due_ms_ = uv_now(group_.loop()) + kDeferredAckMs;
  if (!ack_deferred_) {
    ack_deferred_ = true;
    group_.defer_ack(this);
  }
}

// Data to the guest carries the pending ACK; a later small segment starts a new wait.
void TcpRelay::output_to_guest() {
  tcp_output(pcb_);
  if (!(pcb_->flags & TF_ACK_DELAY)) ack_due_ms_ = 0;
}

void TcpRelay::acknowledge_to_guest(std::size_t bytes) {
  if (pcb_ == nullptr) return;
  while (bytes > 0) {
    const auto step = static_cast<u16_t>(std::min<std::size_t>(bytes, 0xffff));
    tcp_recved(pcb_, step);
    bytes -= step;
  }
}

void TcpRelay::on_host_event(int status, int events) {
  if (retired_) return;
  if (status < 0) {
    // libuv reports POLLERR as UV_EBADF; the socket's pending error says what happened.
    const int error = socket_error(fd_);
    fail_from_host(error != 0 ? error : ECONNRESET);
    return;
  }
  if ((events & UV_WRITABLE) && want_host_writable_) {
    want_host_writable_ = false;
    flush_to_host();
    if (retired_) return;
  }
  if (events & UV_READABLE) read_from_host();
}

bool TcpRelay::push_to_guest(const std::uint8_t* data, std::size_t length) {
  std::size_t done = 0;
  while (done < length) {
    const auto step = static_cast<u16_t>(std::min<std::size_t>(length - done, 0xffff));
    if (tcp_write(pcb_, data + done, step, TCP_WRITE_FLAG_COPY) != ERR_OK) break;
    done += step;
  }
  group_.counters().bytes_to_guest += done;
  if (done < length) stash_.insert(stash_.end(), data + done, data + length);
  return done == length;
}

void TcpRelay::read_from_host() {
  static std::uint8_t buffer[kReadChunk];
  bool wrote = false;
  for (int i = 0; i < kMaxReadsPerEvent && pcb_ != nullptr; ++i) {
    std::size_t room = send_space(pcb_);
    if (tcp_sndqueuelen(pcb_) + kQueueReserve >= TCP_SND_QUEUELEN || !stash_.empty()) room = 0;
    if (room == 0) {
      host_paused_ = true;
      spdlog::trace("tcp {}: pause host reads (sndbuf {}, queue {}, stash {})", label_, send_space(pcb_),
                    tcp_sndqueuelen(pcb_), stash_.size());
      break;
    }
    const ssize_t n = ::recv(fd_, buffer, std::min(room, sizeof buffer), 0);
    if (n > 0) {
      push_to_guest(buffer, static_cast<std::size_t>(n));
      wrote = true;
      continue;
    }
    if (n == 0) {
      host_eof_ = true;
      break;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    if (errno == EINTR) continue;
    fail_from_host(errno);
    return;
  }
  if (pcb_ == nullptr) return;
  if (wrote) output_to_guest();
  update_watch();
  maybe_finish();
}

void TcpRelay::update_watch() {
  if (retired_ || fd_ < 0) return;
  int events = 0;
  if (!host_eof_ && !host_paused_ && pcb_ != nullptr) events |= UV_READABLE;
  if (want_host_writable_) events |= UV_WRITABLE;
  watcher_.watch(events);
}

void TcpRelay::maybe_finish() {
  if (retired_ || pcb_ == nullptr) return;
  // Host said EOF and everything it sent is queued in lwIP: send FIN to the guest.
  if (host_eof_ && stash_.empty() && !guest_write_shut_) {
    if (tcp_shutdown(pcb_, 0, 1) == ERR_OK) guest_write_shut_ = true;
  }
  const bool host_done = guest_write_shut_ && group_.close_guest_with_host_;
  if (!(guest_write_shut_ && host_write_shut_) && !host_done) return;
  // Both directions are done; lwIP finishes the close handshake (and any retransmission
  // of unacknowledged data) on its own.
  detach_pcb();
  if (tcp_close(pcb_) != ERR_OK) tcp_abort(pcb_);
  pcb_ = nullptr;
  close_host(false);
  retire();
}

void TcpRelay::fail_from_host(int error) {
  group_.counters().reset_by_host++;
  std::size_t unsent = 0;
  for (const Chunk& c : to_host_) unsent += c.length;
  unsent -= std::min(unsent, first_chunk_offset_);
  if (error == ECONNRESET || error == EPIPE)
    spdlog::debug("tcp {}: peer reset the connection with {} bytes unsent", label_, unsent);
  else
    spdlog::debug("tcp {}: host side failed: {} ({} bytes unsent)", label_, std::strerror(error), unsent);
  if (pcb_ != nullptr) {
    detach_pcb();
    tcp_abort(pcb_);  // sends RST to the guest
    pcb_ = nullptr;
  }
  close_host(false);
  retire();
}

void TcpRelay::abandon() {
  if (retired_) return;
  if (pcb_ != nullptr) {
    detach_pcb();
    tcp_abandon(pcb_, 0);  // no RST: it would be flooded, the guest's MAC being gone
    pcb_ = nullptr;
  }
  close_host(true);
  retire();
}

void TcpRelay::retire() {
  if (retired_) return;
  retired_ = true;
  slot_.release();
  watcher_.watch(0);
  group_.retire(this);
}

TcpRelayGroup::TcpRelayGroup(uv_loop_t* loop, EndOfTurn& end_of_turn)
    : loop_(loop), end_of_turn_(end_of_turn),
      token_(end_of_turn.add(EndOfTurn::kNatFlush, [this] { on_end_of_turn(); })),
      ack_timer_(loop, [this] { on_ack_timer(); }) {}

TcpRelayGroup::~TcpRelayGroup() {
  end_of_turn_.remove(token_);
  relays_.clear();
}

void TcpRelayGroup::add(tcp_pcb* pcb, int host_fd, std::string label, FlowSlot slot) {
  counters_.opened++;
  relays_.push_back(std::make_unique<TcpRelay>(*this, pcb, host_fd, std::move(label)));
  relays_.back()->slot_ = std::move(slot);
}

std::size_t TcpRelayGroup::active_for(const IpAddress& guest) const {
  return static_cast<std::size_t>(std::count_if(relays_.begin(), relays_.end(), [&guest](const auto& relay) {
    return !relay->retired_ && relay->guest_ == guest;
  }));
}

std::size_t TcpRelayGroup::abandon_guest(const IpAddress& guest) {
  std::size_t count = 0;
  for (const auto& relay : relays_) {
    if (relay->retired_ || relay->guest_ != guest) continue;
    relay->abandon();
    count++;
  }
  return count;
}

void TcpRelayGroup::mark_dirty(TcpRelay* relay) {
  if (relay->dirty_ || relay->retired_) return;
  relay->dirty_ = true;
  dirty_.push_back(relay);
}

void TcpRelayGroup::retire(TcpRelay*) {
  counters_.closed++;
  retired_count_++;
}

void TcpRelayGroup::on_end_of_turn() {
  // Flushing may mark more relays dirty (lwIP callbacks); loop until quiet.
  while (!dirty_.empty()) {
    std::vector<TcpRelay*> batch;
    batch.swap(dirty_);
    for (TcpRelay* relay : batch) relay->flush_to_host();
  }
  if (retired_count_ > 0) {
    std::erase_if(deferred_acks_, [](const TcpRelay* r) { return r->retired_; });
    std::erase_if(relays_, [](const std::unique_ptr<TcpRelay>& r) { return r->retired_; });
    retired_count_ = 0;
  }
}

void TcpRelayGroup::defer_ack(TcpRelay* relay) {
  deferred_acks_.push_back(relay);
  if (deferred_acks_.size() == 1) ack_timer_.start(kDeferredAckMs);
}

// ACKs what the host's answers did not carry in time; relays whose wait restarted stay
// listed and the timer is re-armed for the earliest of them.
void TcpRelayGroup::on_ack_timer() {
  const std::uint64_t now = uv_now(loop_);
  std::uint64_t next_due = 0;
  std::vector<TcpRelay*> due;
  std::erase_if(deferred_acks_, [&](TcpRelay* relay) {
    if (!relay->retired_ && relay->ack_due_ms_ != 0 && relay->ack_due_ms_ > now) {
      next_due = next_due == 0 ? relay->ack_due_ms_ : std::min(next_due, relay->ack_due_ms_);
      return false;
    }
    relay->ack_deferred_ = false;
    if (!relay->retired_ && relay->ack_due_ms_ != 0) due.push_back(relay);
    return true;
  });
  for (TcpRelay* relay : due) relay->ack_now();
  if (next_due != 0) ack_timer_.start(next_due - now);
}

}  // namespace usernet
