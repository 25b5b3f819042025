#include "vsock/transport/datagram_port.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "vsock/transport/socket_address.hpp"
#include "netstack/base/log.hpp"

namespace usernet {

namespace {
constexpr std::size_t kBatch = 32;        // messages per recvmmsg/sendmmsg
constexpr std::size_t kReceiveRounds = 4;  // batches per readable event (fairness)
constexpr std::size_t kQueueFrames = 1024;

std::string peer_name(const sockaddr_un& address, socklen_t length) {
  const std::size_t offset = offsetof(sockaddr_un, sun_path);
  if (length <= offset) return "(unbound)";
  const std::size_t n = strnlen(address.sun_path, length - offset);
  return {address.sun_path, n};
}
}  // namespace

bool is_vfkit_handshake(ByteSpan datagram) {
  return datagram.size() == sizeof kVfkitMagic &&
         std::equal(datagram.begin(), datagram.end(), std::begin(kVfkitMagic));
}

DatagramPort::DatagramPort(PortContext context, int fd, Mode mode, std::string description)
    : FramePort(context, std::move(description)), fd_(fd), mode_(mode) {
  receive_buffers_.resize(kBatch * context_.max_frame);
  set_nonblocking(fd_.get());
  watch_ = std::make_unique<PollWatcher>(context_.loop, fd_.get(),
                                         [this](int status, int events) { on_event(status, events); });
  if (mode_ == Mode::learn_peer) retry_ = std::make_unique<Timer>(context_.loop, [this] { flush(); });
  attach(/*accepted=*/mode_ == Mode::connected);  // a learning socket has no peer yet
}

// The watcher and timer are declared after the descriptor, so they stop before it closes.
DatagramPort::~DatagramPort() = default;

void DatagramPort::start() { update_watch(); }

void DatagramPort::update_watch() {
  if (closed()) return;
  const bool poll_writable = waiting_writable_ && mode_ == Mode::connected;
  watch_->watch(UV_READABLE | (poll_writable ? UV_WRITABLE : 0));
}

void DatagramPort::on_event(int status, int events) {
  if (status < 0) {
    if (mode_ == Mode::connected) return close_port("poll error: " + std::string(uv_strerror(status)));
    log_message(LogLevel::warn, description_ + ": poll error: " + uv_strerror(status));
    return;
  }
  if (events & UV_WRITABLE) flush();
  if (!closed() && (events & UV_READABLE)) receive_batch();
}

void DatagramPort::receive_batch() {
  const std::size_t slot = context_.max_frame;
  for (std::size_t round = 0; round < kReceiveRounds && !closed(); ++round) {
    mmsghdr messages[kBatch];
    iovec vectors[kBatch];
    sockaddr_un senders[kBatch];
    std::memset(messages, 0, sizeof messages);
    for (std::size_t i = 0; i < kBatch; ++i) {
      vectors[i] = {receive_buffers_.data() + i * slot, slot};
      messages[i].msg_hdr.msg_iov = &vectors[i];
      messages[i].msg_hdr.msg_iovlen = 1;
      if (mode_ == Mode::learn_peer) {
        messages[i].msg_hdr.msg_name = &senders[i];
        messages[i].msg_hdr.msg_namelen = sizeof senders[i];
      }
    }
    const int n = recvmmsg(fd_.get(), messages, kBatch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (mode_ == Mode::connected) return close_port("recvmmsg: " + errno_text(errno));
      log_message(LogLevel::warn, description_ + ": recvmmsg: " + errno_text(errno));
      return;
    }
    if (n == 0 && mode_ == Mode::connected) return close_port("peer closed the connection");
    for (int i = 0; i < n; ++i) {
      const auto& header = messages[i].msg_hdr;
      const ByteSpan data(static_cast<const std::uint8_t*>(vectors[i].iov_base), messages[i].msg_len);
      if (!handle_message(data, (header.msg_flags & MSG_TRUNC) != 0, senders[i], header.msg_namelen))
        return;
    }
    if (static_cast<std::size_t>(n) < kBatch) return;
  }
}

bool DatagramPort::handle_message(ByteSpan data, bool truncated, const sockaddr_un& from,
                                  socklen_t from_length) {
  if (mode_ == Mode::connected) {
    // A zero-length seqpacket read is the peer's EOF.
    if (data.empty() && !truncated) {
      close_port("peer closed the connection");
      return false;
    }
  } else {
    if (from_length <= offsetof(sockaddr_un, sun_path)) {
      // An unbound sender cannot be answered: nobody to learn, nothing to deliver.
      context_.counters.vfkit_unaddressed++;
      return true;
    }
    const bool same_peer = peer_length_ > 0 && from_length == peer_length_ &&
                           std::memcmp(&from, &peer_, from_length) == 0;
    if (!same_peer) {
      learn_peer(from, from_length);
      if (is_vfkit_handshake(data)) {
        context_.counters.vfkit_handshakes++;
        return true;
      }
    }
  }
  if (truncated) {
    context_.counters.oversize_datagrams++;
    return true;
  }
  context_.sw.receive(id(), data);
  return !closed();
}

bool DatagramPort::send_frame(ByteSpan frame) {
  if (closed() || (mode_ == Mode::learn_peer && peer_length_ == 0)) return false;
  if (queue_.size() >= kQueueFrames || queued_bytes_ + frame.size() > kPortQueueLimit) {
    context_.counters.queue_full_drops++;
    return false;
  }
  queue_.emplace_back(frame.begin(), frame.end());
  queued_bytes_ += frame.size();
  if (!waiting_writable_) context_.peers.schedule_flush(*this);
  return true;
}

void DatagramPort::flush() {
  while (!closed() && !queue_.empty()) {
    mmsghdr messages[kBatch];
    iovec vectors[kBatch];
    std::memset(messages, 0, sizeof messages);
    const std::size_t count = std::min(kBatch, queue_.size());
    for (std::size_t i = 0; i < count; ++i) {
      vectors[i] = {queue_[i].data(), queue_[i].size()};
      messages[i].msg_hdr.msg_iov = &vectors[i];
      messages[i].msg_hdr.msg_iovlen = 1;
      if (mode_ == Mode::learn_peer) {
        messages[i].msg_hdr.msg_name = &peer_;
        messages[i].msg_hdr.msg_namelen = peer_length_;
      }
    }
    const int sent = sendmmsg(fd_.get(), messages, static_cast<unsigned>(count), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent > 0) {
      for (int i = 0; i < sent; ++i) {
        queued_bytes_ -= queue_.front().size();
        queue_.pop_front();
      }
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
      // The peer's queue is full: keep the frames and wait for room (back-pressure).
      return wait_for_room();
    }
    const std::string reason = sent < 0 ? errno_text(errno) : "sent nothing";
    if (mode_ == Mode::connected) return close_port("send: " + reason);
    forget_peer("send: " + reason);
    return;
  }
  retry_ms_ = 1;
  if (waiting_writable_) {
    waiting_writable_ = false;
    update_watch();
  }
}

void DatagramPort::learn_peer(const sockaddr_un& from, socklen_t from_length) {
  if (peer_length_ > 0) {
    context_.counters.vfkit_peer_changes++;
    log_message(LogLevel::info, description_ + ": peer " + peer_name(peer_, peer_length_) +
                                      " replaced by " + peer_name(from, from_length));
    queue_.clear();  // frames meant for the old VM instance
    queued_bytes_ = 0;
  } else {
    log_message(LogLevel::info, description_ + ": peer " + peer_name(from, from_length));
  }
  peer_ = from;
  peer_length_ = from_length;
}

void DatagramPort::wait_for_room() {
  if (!waiting_writable_) context_.counters.send_blocked++;
  waiting_writable_ = true;
  if (mode_ == Mode::connected) return update_watch();
  retry_->start(retry_ms_);
  retry_ms_ = std::min<std::uint64_t>(retry_ms_ * 2, 16);
}

void DatagramPort::forget_peer(const std::string& reason) {
  log_message(LogLevel::info, description_ + ": peer " + peer_name(peer_, peer_length_) +
                                    " gone (" + reason + "); waiting for a new one");
  peer_length_ = 0;
  queue_.clear();
  queued_bytes_ = 0;
  waiting_writable_ = false;
  update_watch();
}

void DatagramPort::stop_watching() { watch_->watch(0); }

}  // namespace usernet
