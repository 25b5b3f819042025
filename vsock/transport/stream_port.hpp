// A switch port over a byte stream with length-prefixed frames: QEMU stream/socket
// (4-byte big-endian), gvforwarder's /connect and stdio (2-byte little-endian).
// Reads as many frames per syscall as the buffer holds; frames queued during a loop
// turn leave with one write at the end of the turn; a slow reader gets a bounded queue.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "netstack/base/unique_fd.hpp"
#include "netstack/base/uv_handles.hpp"
#include "vsock/transport/frame_codec.hpp"
#include "vsock/transport/frame_port.hpp"

namespace usernet {

class StreamPort final : public FramePort {
 public:
  /// Takes ownership of the descriptors (read_fd may equal write_fd) and attaches to the
  /// switch. `initial` holds bytes already read from the peer (after HTTP headers).
  StreamPort(PortContext context, int read_fd, int write_fd, LengthPrefix prefix,
             std::string description, ByteSpan initial = {});
  ~StreamPort() override;
  /// Delivers the initial bytes and starts reading; call once the PeerSet owns the port
  /// (a peer that breaks the framing right away retires itself).
  void start();

  bool send_frame(ByteSpan frame) override;
  void flush() override;

 private:
  void on_read_event(int status);
  void on_write_event(int status);
  /// Feeds complete frames from the input buffer to the switch; false if the port closed.
  bool deliver_input();
  /// Closes the port; a protocol error is counted and logged as a warning.
  void close(const std::string& reason, bool protocol_error = false);
  void stop_watching() override;
  void update_write_watch();
  /// The descriptor frames are written to.
  int output_fd() const { return write_fd_ ? write_fd_.get() : read_fd_.get(); }
  /// What a poll error means, in words (libuv's status is always UV_EBADF).
  std::string poll_error_text() const;

  UniqueFd read_fd_;
  UniqueFd write_fd_;  // empty when reading and writing share read_fd_
  LengthPrefix prefix_;
  std::size_t length_cap_;
  bool waiting_writable_ = false;
  std::vector<std::uint8_t> input_;
  std::size_t input_filled_ = 0;
  std::vector<std::uint8_t> output_;
  std::size_t output_sent_ = 0;
  std::unique_ptr<PollWatcher> read_watch_;
  std::unique_ptr<PollWatcher> write_watch_;  // null when write_fd_ is empty
};

}  // namespace usernet
