#include "netstack/ssh/ssh_forward_channel.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace usernet {

namespace {
constexpr std::size_t kChunk = 32768;  // one SSH packet's worth of payload
}

SshForwardChannel::SshForwardChannel(int client_fd, ssh_channel channel) : client_fd_(client_fd), channel_(channel) {}

SshForwardChannel::~SshForwardChannel() {
  if (ssh_channel_is_open(channel_)) ssh_channel_close(channel_);
  ssh_channel_free(channel_);
  ::close(client_fd_);
}

short SshForwardChannel::client_events() const {
  short events = 0;
  if (!to_client_.empty()) events |= POLLOUT;
  if (!client_eof_ && ssh_channel_window_size(channel_) > 0) events |= POLLIN;
  return events;
}

bool SshForwardChannel::pump(short client_revents) {
  if (!flush_to_client()) return false;
  if (!read_from_channel()) return false;
  if ((client_revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !read_from_client()) return false;
  // A client that hung up after its EOF can take no more data (and poll would keep waking).
  if (client_eof_ && (client_revents & (POLLHUP | POLLERR)) != 0) return false;
  if (client_eof_ && guest_eof_ && to_client_.empty()) return false;
  // The guest closed the channel: nothing more can move once its data is delivered.
  return !(ssh_channel_is_closed(channel_) && guest_eof_ && to_client_.empty());
}

/// Writes buffered guest bytes to the client; false if the client is gone.
bool SshForwardChannel::flush_to_client() {
  if (to_client_.empty()) return true;
  const ssize_t n = ::send(client_fd_, to_client_.data(), to_client_.size(), MSG_NOSIGNAL);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  to_client_.erase(to_client_.begin(), to_client_.begin() + n);
  return true;
}

/// Moves what the channel holds to the client until the client would block; passes the
/// guest's EOF on once everything before it is delivered. False on a channel error.
bool SshForwardChannel::read_from_channel() {
  std::uint8_t buffer[kChunk];
  while (to_client_.empty() && !guest_eof_) {
    const int n = ssh_channel_read_nonblocking(channel_, buffer, sizeof buffer, 0);
    if (n > 0) {
      const ssize_t sent = ::send(client_fd_, buffer, static_cast<std::size_t>(n), MSG_NOSIGNAL);
      if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
      const std::size_t taken = sent < 0 ? 0 : static_cast<std::size_t>(sent);
      to_client_.assign(buffer + taken, buffer + n);
      continue;
    }
    if (ssh_channel_is_eof(channel_) || ssh_channel_is_closed(channel_)) {
      guest_eof_ = true;
      ::shutdown(client_fd_, SHUT_WR);
      return true;
    }
    return n == 0;  // nothing buffered yet; negative is an error
  }
  return true;
}

/// Reads at most the channel's window from the client and sends it; the client's EOF
/// becomes the channel's EOF. False if the client or the channel failed.
bool SshForwardChannel::read_from_client() {
  if (client_eof_) return true;
  const std::uint32_t window = ssh_channel_window_size(channel_);
  if (window == 0) return true;
  std::uint8_t buffer[kChunk];
  const ssize_t n = ::recv(client_fd_, buffer, std::min<std::size_t>(sizeof buffer, window), 0);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  if (n == 0) {
    client_eof_ = true;
    return ssh_channel_send_eof(channel_) == SSH_OK;
  }
  return ssh_channel_write(channel_, buffer, static_cast<std::uint32_t>(n)) == n;
}

}  // namespace usernet
