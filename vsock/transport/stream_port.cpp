#include "vsock/transport/stream_port.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "vsock/transport/socket_address.hpp"
#include "netstack/base/log.hpp"

namespace usernet {

namespace {
// Reads per readable event before yielding to other peers (fairness).
constexpr int kReadRounds = 8;
constexpr std::size_t kMinInputBuffer = 256u << 10;
}  // namespace

StreamPort::StreamPort(PortContext context, int read_fd, int write_fd, LengthPrefix prefix,
                       std::string description, ByteSpan initial)
    : FramePort(context, std::move(description)),
      read_fd_(read_fd),
      write_fd_(write_fd != read_fd ? write_fd : -1),
      prefix_(prefix),
      // QEMU's 32-bit prefix can announce absurd lengths; nothing legitimate exceeds 64 KiB
      // (or the configured maximum, if larger). le16 cannot exceed 65535 anyway.
      length_cap_(std::min(prefix_capacity(prefix), std::max<std::size_t>(context.max_frame, 0xffff))) {
  input_.resize(std::max(kMinInputBuffer, 2 * (prefix_size(prefix) + length_cap_) + initial.size()));
  std::copy(initial.begin(), initial.end(), input_.begin());
  input_filled_ = initial.size();
  set_nonblocking(read_fd_.get());
  enlarge_socket_buffers(read_fd_.get(), kRelaySocketBuffer);
  if (write_fd_) enlarge_socket_buffers(write_fd_.get(), kRelaySocketBuffer);
  set_nonblocking(output_fd());
  try {
    read_watch_ = std::make_unique<PollWatcher>(context_.loop, read_fd_.get(), [this](int status, int events) {
      if (status < 0) return close(poll_error_text());
      if ((events & UV_WRITABLE) && write_watch_ == nullptr) on_write_event(0);
      if (!closed() && (events & UV_READABLE)) on_read_event(0);
    });
    if (write_fd_)
      write_watch_ = std::make_unique<PollWatcher>(context_.loop, write_fd_.get(), [this](int status, int) {
        on_write_event(status);
      });
  } catch (const std::exception& e) {  // e.g. stdin is a regular file: not pollable
    throw std::runtime_error(description_ + ": " + e.what());
  }
  attach(/*accepted=*/true);
}

// The watchers are declared after the descriptors, so they stop before the fds close.
StreamPort::~StreamPort() = default;

void StreamPort::start() {
  if (input_filled_ > 0 && !deliver_input()) return;
  update_write_watch();
}

void StreamPort::update_write_watch() {
  if (closed()) return;
  const int write_events = waiting_writable_ ? UV_WRITABLE : 0;
  if (write_watch_) {
    read_watch_->watch(UV_READABLE);
    write_watch_->watch(write_events);
  } else {
    read_watch_->watch(UV_READABLE | write_events);
  }
}

bool StreamPort::deliver_input() {
  const auto result = decode_stream_frames(prefix_, length_cap_, ByteSpan(input_.data(), input_filled_),
                                           [this](ByteSpan frame) {
                                             context_.sw.receive(id(), frame);
                                             return !closed();
                                           });
  if (closed()) return false;
  if (result.bad_length) {
    close("frame length " + std::to_string(*result.bad_length) + " exceeds " +
              std::to_string(length_cap_) + ": disconnecting",
          true);
    return false;
  }
  if (result.consumed > 0) {
    std::memmove(input_.data(), input_.data() + result.consumed, input_filled_ - result.consumed);
    input_filled_ -= result.consumed;
  }
  return true;
}

// libuv reports POLLERR as UV_EBADF whatever happened; the socket's pending error says
// what did (a peer that closes with data unread resets the connection).
std::string StreamPort::poll_error_text() const {
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(read_fd_.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error == 0) error = ECONNRESET;
  const std::size_t unsent = output_.size() - output_sent_;
  if (error == ECONNRESET || error == EPIPE)
    return "peer reset the connection with " + std::to_string(unsent) + " bytes unsent";
  return "socket error: " + errno_text(error);
}

void StreamPort::on_read_event(int status) {
  if (status < 0) return close(poll_error_text());
  for (int round = 0; round < kReadRounds && !closed(); ++round) {
    const std::size_t space = input_.size() - input_filled_;
    const ssize_t n = ::read(read_fd_.get(), input_.data() + input_filled_, space);
    if (n > 0) {
      input_filled_ += static_cast<std::size_t>(n);
      if (!deliver_input()) return;
      if (static_cast<std::size_t>(n) < space) return;  // drained the socket
      continue;
    }
    if (n == 0) return close("peer closed the connection");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    return close("read: " + errno_text(errno));
  }
}

bool StreamPort::send_frame(ByteSpan frame) {
  if (closed()) return false;
  const std::size_t pending = output_.size() - output_sent_;
  if (pending + prefix_size(prefix_) + frame.size() > kPortQueueLimit) {
    context_.counters.queue_full_drops++;
    return false;
  }
  if (output_sent_ > 0 && output_sent_ >= pending) {  // drop the already-written head
    output_.erase(output_.begin(), output_.begin() + static_cast<std::ptrdiff_t>(output_sent_));
    output_sent_ = 0;
  }
  if (!append_prefixed_frame(prefix_, frame, output_)) return false;
  if (!waiting_writable_) context_.peers.schedule_flush(*this);
  return true;
}

void StreamPort::flush() {
  while (!closed() && output_sent_ < output_.size()) {
    const ssize_t n = ::write(output_fd(), output_.data() + output_sent_, output_.size() - output_sent_);
    if (n >= 0) {
      output_sent_ += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      // The peer is slow: keep the bytes and wait until it can take more.
      if (!waiting_writable_) context_.counters.send_blocked++;
      waiting_writable_ = true;
      update_write_watch();
      return;
    }
    return close("write: " + errno_text(errno));
  }
  output_.clear();
  output_sent_ = 0;
  if (waiting_writable_) {
    waiting_writable_ = false;
    update_write_watch();
  }
}

void StreamPort::on_write_event(int status) {
  if (status < 0) return close("write poll error: " + std::string(uv_strerror(status)));
  flush();
}

void StreamPort::close(const std::string& reason, bool protocol_error) {
  if (closed()) return;
  if (protocol_error) context_.counters.protocol_errors++;
  close_port(reason, protocol_error ? LogLevel::warn : LogLevel::info);
}

void StreamPort::stop_watching() {
  // The watchers themselves die with the port at the end of the turn (this may run
  // inside one of their callbacks).
  read_watch_->watch(0);
  if (write_watch_) write_watch_->watch(0);
}

}  // namespace usernet
