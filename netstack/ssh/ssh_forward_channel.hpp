// One host client of an SSH forward relayed to one SSH channel (direct-streamlocal), in
// both directions, on the forward's worker thread:
//  - client → guest: the client is read only while the channel's remote window is open,
//    and never more than the window, so ssh_channel_write never blocks on the window and
//    one slow guest reader cannot stall the other channels of the session.
//  - guest → client: the client socket is non-blocking; bytes it does not take wait in a
//    buffer, and the channel is not read meanwhile (libssh then stops growing the window).
//  - EOF in either direction becomes ssh_channel_send_eof / shutdown(SHUT_WR).
#pragma once

#include <libssh/libssh.h>
#include <poll.h>

#include <cstdint>
#include <vector>

namespace usernet {

class SshForwardChannel {
 public:
  /// Takes ownership of the connected client socket (non-blocking) and the open channel.
  SshForwardChannel(int client_fd, ssh_channel channel);
  /// Closes the client and closes and frees the channel.
  ~SshForwardChannel();
  SshForwardChannel(const SshForwardChannel&) = delete;
  SshForwardChannel& operator=(const SshForwardChannel&) = delete;

  int client_fd() const { return client_fd_; }
  /// The poll() events the client socket needs now.
  short client_events() const;
  /// Moves what it can both ways given the client's poll() result (0 if not polled).
  /// Returns false once the relay is over (both directions ended, or an error).
  bool pump(short client_revents);

 private:
  bool flush_to_client();
  bool read_from_channel();
  bool read_from_client();

  int client_fd_;
  ssh_channel channel_;
  std::vector<std::uint8_t> to_client_;  // guest bytes the client has not taken yet
  bool client_eof_ = false;              // client finished writing; EOF sent to the guest
  bool guest_eof_ = false;               // guest finished writing; client's write side shut
};

}  // namespace usernet
