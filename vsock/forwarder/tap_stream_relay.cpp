#include "vsock/forwarder/tap_stream_relay.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "netstack/base/ethernet.hpp"
#include "vsock/transport/frame_codec.hpp"
#include "vsock/transport/socket_address.hpp"

namespace usernet {

std::string connect_request(std::string_view path) {
  return "POST " + std::string(path) + " HTTP/1.1\r\nHost: usernet\r\nContent-Length: 0\r\n\r\n";
}

namespace {

constexpr std::size_t kMaxFrame = 0xffff;           // what the 2-byte prefix can carry
constexpr std::size_t kOutputHighWater = 1u << 20;  // stop reading the TAP above this
constexpr std::size_t kOutputCapacity = kOutputHighWater + 2 * (2 + kMaxFrame);
constexpr std::size_t kInputBuffer = 512u << 10;
constexpr int kTapReadsPerRound = 64;
constexpr int kCheckIntervalMs = 200;

class Relay {
 public:
  Relay(int tap, int stream, RelayCounters& counters, const RelayHooks& hooks)
      : tap_(tap), stream_(stream), counters_(counters), hooks_(hooks), input_(kInputBuffer),
        output_(std::make_unique_for_overwrite<std::uint8_t[]>(kOutputCapacity)) {}

  std::string run() {
    for (;;) {
      if (hooks_.check)
        if (const Status going = hooks_.check(); !going) return going.error();
      pollfd fds[2] = {{tap_, 0, 0}, {stream_, 0, 0}};
      if (tap_blocked_) fds[0].events |= POLLOUT;
      else fds[1].events |= POLLIN;  // only read the host while the TAP takes frames
      if (output_size_ - output_sent_ < kOutputHighWater) fds[0].events |= POLLIN;
      if (output_sent_ < output_size_) fds[1].events |= POLLOUT;
      const int ready = poll(fds, 2, kCheckIntervalMs);
      if (ready < 0) {
        if (errno == EINTR) continue;
        return "poll: " + errno_text(errno);
      }
      if (fds[1].revents & (POLLERR | POLLNVAL)) return "host connection failed";
      if (fds[0].revents & (POLLERR | POLLNVAL | POLLHUP)) return "TAP device failed";
      if (fds[0].revents & POLLOUT) {
        tap_blocked_ = false;
        if (Status done = deliver_host_frames(); !done) return done.error();
      }
      if (fds[0].revents & POLLIN)
        if (Status done = read_tap(); !done) return done.error();
      if (output_sent_ < output_size_)
        if (Status done = write_stream(); !done) return done.error();
      if (fds[1].revents & (POLLIN | POLLHUP))
        if (Status done = read_stream(); !done) return done.error();
    }
  }

 private:
  // Reads a burst of TAP frames straight into the output buffer, behind their prefixes.
  // The buffer is never zero-filled: at MTU 1500, clearing a 64 KiB frame slot per read
  // cost more than the frame itself.
  Status read_tap() {
    for (int i = 0; i < kTapReadsPerRound; ++i) {
      make_room_for_frame();
      std::uint8_t* slot = output_.get() + output_size_;
      const ssize_t n = ::read(tap_, slot + 2, kMaxFrame);
      if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return {};
        return Error{"read TAP: " + (n == 0 ? std::string("end of file") : errno_text(errno))};
      }
      write_length_prefix(LengthPrefix::le16, static_cast<std::size_t>(n), slot);
      output_size_ += 2 + static_cast<std::size_t>(n);
      counters_.tap_to_host_frames++;
      if (hooks_.trace) hooks_.trace("tap", slot + 2, static_cast<std::size_t>(n));
      if (output_size_ - output_sent_ >= kOutputHighWater) break;
    }
    return {};
  }

  // Guarantees space for one more prefixed frame at the end of the output buffer by
  // dropping what was sent already (pending bytes stay below kOutputHighWater while the
  // TAP is read, so that always leaves enough room).
  void make_room_for_frame() {
    if (output_sent_ == output_size_) output_sent_ = output_size_ = 0;
    if (kOutputCapacity - output_size_ >= 2 + kMaxFrame) return;
    std::memmove(output_.get(), output_.get() + output_sent_, output_size_ - output_sent_);
    output_size_ -= output_sent_;
    output_sent_ = 0;
  }

  Status write_stream() {
    while (output_sent_ < output_size_) {
      const ssize_t n = ::send(stream_, output_.get() + output_sent_, output_size_ - output_sent_,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        output_sent_ += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      return Error{"write to host: " + errno_text(errno)};
    }
    if (output_sent_ == output_size_) output_sent_ = output_size_ = 0;
    return {};
  }

  Status read_stream() {
    const ssize_t n = ::recv(stream_, input_.data() + input_filled_, input_.size() - input_filled_, MSG_DONTWAIT);
    if (n == 0) return Error{"host closed the connection"};
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return {};
      return Error{"read from host: " + errno_text(errno)};
    }
    input_filled_ += static_cast<std::size_t>(n);
    return deliver_host_frames();
  }

  // Writes every complete frame in the input buffer to the TAP; stops (keeping the rest)
  // when the TAP's queue is full.
  Status deliver_host_frames() {
    Status written;
    const auto result = decode_stream_frames(
        LengthPrefix::le16, kMaxFrame, ByteSpan(input_.data() + input_used_, input_filled_ - input_used_),
        [&](ByteSpan frame) {
          if (frame.size() < kEthernetHeaderSize) {
            counters_.runt_frames++;
            return true;
          }
          const ssize_t n = ::write(tap_, frame.data(), frame.size());
          if (n >= 0) {
            counters_.host_to_tap_frames++;
            if (hooks_.trace) hooks_.trace("host", frame.data(), frame.size());
            return true;
          }
          if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            tap_blocked_ = true;
            return false;
          }
          if (errno == EIO || errno == EINVAL || errno == ENOBUFS) {  // link down, bad frame
            counters_.tap_write_drops++;
            return true;
          }
          written = Error{"write TAP: " + errno_text(errno)};
          return false;
        });
    const std::size_t consumed = result.consumed;  // a frame the TAP refused stays
    input_used_ += consumed;
    if (input_used_ == input_filled_) {
      input_used_ = input_filled_ = 0;
    } else if (!tap_blocked_) {
      std::memmove(input_.data(), input_.data() + input_used_, input_filled_ - input_used_);
      input_filled_ -= input_used_;
      input_used_ = 0;
    }
    return written;
  }

  int tap_;
  int stream_;
  RelayCounters& counters_;
  const RelayHooks& hooks_;
  std::vector<std::uint8_t> input_;
  std::size_t input_filled_ = 0;
  std::size_t input_used_ = 0;
  std::unique_ptr<std::uint8_t[]> output_;  // prefixed frames for the host, not zero-filled
  std::size_t output_size_ = 0;
  std::size_t output_sent_ = 0;
  bool tap_blocked_ = false;
};

}  // namespace

std::string relay_tap_and_stream(int tap_fd, int stream_fd, RelayCounters& counters, const RelayHooks& hooks) {
  return Relay(tap_fd, stream_fd, counters, hooks).run();
}

}  // namespace usernet
