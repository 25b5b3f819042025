// A switch port over a message socket, one frame per message, no prefix:
//  - bess: an accepted SOCK_SEQPACKET connection (User-Mode Linux vec0:transport=bess);
//  - vfkit: a bound SOCK_DGRAM socket whose peer is learned from its first datagram
//    (vfkit, QEMU -netdev dgram, libkrun). A first datagram of exactly "VFKT" is the
//    vfkit handshake and is consumed; anything else is a frame.
// Receives with recvmmsg and sends with sendmmsg; EAGAIN/ENOBUFS on send keeps the
// frames queued and waits for the socket (back-pressure), never a crash or silent drop.
// The vfkit socket stays unconnected so that a restarted VM (a new sender) is heard and
// becomes the peer; as poll() cannot report room in an unconnected peer's queue, a
// blocked send is retried on a short timer instead.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "netstack/base/unique_fd.hpp"
#include "netstack/base/uv_handles.hpp"
#include "vsock/transport/frame_port.hpp"

namespace usernet {

/// The 4-byte vfkit handshake datagram.
inline constexpr std::uint8_t kVfkitMagic[4] = {'V', 'F', 'K', 'T'};

/// True if a datagram is exactly the vfkit handshake.
bool is_vfkit_handshake(ByteSpan datagram);

class DatagramPort final : public FramePort {
 public:
  enum class Mode {
    connected,   // seqpacket connection: the peer is fixed, EOF ends the port
    learn_peer,  // unconnected dgram socket: the first sender becomes the peer
  };

  /// Takes ownership of fd and attaches to the switch.
  DatagramPort(PortContext context, int fd, Mode mode, std::string description);
  ~DatagramPort() override;

  /// Starts reading; call once the owner holds the port.
  void start();
  bool send_frame(ByteSpan frame) override;
  void flush() override;
  bool has_peer() const { return peer_length_ > 0; }

 private:
  void on_event(int status, int events);
  void receive_batch();
  /// Handles one received message; false if the port closed.
  bool handle_message(ByteSpan data, bool truncated, const sockaddr_un& from, socklen_t from_length);
  void forget_peer(const std::string& reason);
  void learn_peer(const sockaddr_un& from, socklen_t from_length);
  void wait_for_room();
  void stop_watching() override;
  void update_watch();

  UniqueFd fd_;
  Mode mode_;
  bool waiting_writable_ = false;
  sockaddr_un peer_{};
  socklen_t peer_length_ = 0;
  std::vector<std::uint8_t> receive_buffers_;  // kBatch slots of max_frame bytes
  std::deque<std::vector<std::uint8_t>> queue_;
  std::size_t queued_bytes_ = 0;
  std::unique_ptr<PollWatcher> watch_;
  std::unique_ptr<Timer> retry_;  // learn_peer mode: re-tries a blocked send
  std::uint64_t retry_ms_ = 1;
};

}  // namespace usernet
