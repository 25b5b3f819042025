#include "netstack/ssh/ssh_forward_session.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "netstack/base/accept_shedding.hpp"

namespace usernet {

namespace {
constexpr long kSshTimeoutSeconds = 10;     // handshake, auth and channel opens
constexpr int kKeepaliveIntervalMs = 15000;  // idle time before a keepalive goes out
}  // namespace

/// The eventfd poll() and sleep_ms() wait on besides their real work.
SshForwardStop::SshForwardStop() : wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (wake_fd_ < 0) throw std::runtime_error("eventfd failed");
}

SshForwardStop::~SshForwardStop() { ::close(wake_fd_); }

void SshForwardStop::request() {
  requested_.store(true);
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
  std::lock_guard lock(mutex_);
  if (transport_fd_ >= 0) ::shutdown(transport_fd_, SHUT_RDWR);
}

void SshForwardStop::set_transport_fd(int fd) {
  std::lock_guard lock(mutex_);
  transport_fd_ = fd;
  if (fd >= 0 && requested_.load()) ::shutdown(fd, SHUT_RDWR);
}

bool SshForwardStop::sleep_ms(std::uint32_t ms) const {
  pollfd p{wake_fd_, POLLIN, 0};
  ::poll(&p, 1, static_cast<int>(ms));
  return !requested();
}

SshForwardSession::SshForwardSession(const SshForwardSpec& spec, ssh_key key, int listener_fd, Dial dial,
                                     SshForwardStop& stop, int tries)
    : spec_(spec), key_(key), listener_fd_(listener_fd), dial_(std::move(dial)), stop_(stop), tries_(tries),
      label_("ssh forward " + spec.socket_path + " -> " + spec.user + "@" + format_ipv4(spec.guest_ip) + ":" +
             spec.dest_path) {}

SshForwardSession::~SshForwardSession() { disconnect(); }

void SshForwardSession::run() {
  bool want_session = true;  // connect eagerly at start and after a lost session
  while (!stop_.requested()) {
    if (!connected() && (want_session || listener_has_client())) {
      want_session = false;
      if (!connect_with_retries()) {
        if (!stop_.requested()) reject_waiting_clients();
        continue;
      }
    }
    if (!serve_once()) {
      if (!stop_.requested()) spdlog::warn("{}: SSH connection lost; reconnecting", label_);
      disconnect();
      want_session = true;
    }
  }
  disconnect();
}

/// Tries to connect up to tries_ times with backoff; true once connected.
bool SshForwardSession::connect_with_retries() {
  std::string error;
  for (int attempt = 0; attempt < tries_; ++attempt) {
    if (!stop_.sleep_ms(ssh_retry_delay_ms(attempt))) return false;
    const Status tried = connect_once();
    if (tried) {
      spdlog::info("{}: connected{}", label_, attempt > 0 ? " after " + std::to_string(attempt + 1) + " tries" : "");
      return true;
    }
    error = tried.error();
    if (stop_.requested()) return false;
    spdlog::debug("{}: try {} failed: {}", label_, attempt + 1, error);
  }
  spdlog::error("{}: giving up after {} tries: {}", label_, tries_, error);
  return false;
}

/// One connection: dial through the virtual network, SSH handshake, public-key auth.
/// The host key is not verified (gvproxy's default): the peer is our own guest, reached
/// over a network only this process routes.
Status SshForwardSession::connect_once() {
  const int fd = dial_();
  if (fd < 0) return Error{"cannot open a connection into the virtual network"};
  // libssh closes the descriptor it is given; ours stays valid for shutdown() by
  // SshForwardStop until we close it after ssh_free.
  const int libssh_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  ssh_session session = ssh_new();
  if (libssh_fd < 0 || session == nullptr) {
    if (libssh_fd >= 0) ::close(libssh_fd);
    if (session) ssh_free(session);
    ::close(fd);
    return Error{"out of resources"};
  }
  const std::string host = format_ipv4(spec_.guest_ip);
  const unsigned port = spec_.guest_port;
  const long timeout = kSshTimeoutSeconds;
  const int verbosity = SSH_LOG_NOLOG;
  const int no = 0;
  socket_t socket = libssh_fd;
  ssh_options_set(session, SSH_OPTIONS_PROCESS_CONFIG, &no);  // no ~/.ssh/config surprises
  ssh_options_set(session, SSH_OPTIONS_LOG_VERBOSITY, &verbosity);
  ssh_options_set(session, SSH_OPTIONS_HOST, host.c_str());
  ssh_options_set(session, SSH_OPTIONS_PORT, &port);
  ssh_options_set(session, SSH_OPTIONS_USER, spec_.user.c_str());
  ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &timeout);
  ssh_options_set(session, SSH_OPTIONS_FD, &socket);
  stop_.set_transport_fd(fd);

  std::string error;
  bool ok = ssh_connect(session) == SSH_OK;
  if (!ok) {
    error = std::string("handshake: ") + ssh_get_error(session);
  } else if (ssh_userauth_publickey(session, nullptr, key_) != SSH_AUTH_SUCCESS) {
    error = std::string("public key authentication as '") + spec_.user + "': " + ssh_get_error(session);
    ok = false;
  }
  ssh_event event = ok ? ssh_event_new() : nullptr;
  if (ok && (event == nullptr || ssh_event_add_session(event, session) != SSH_OK)) {
    error = "cannot watch the session";
    ok = false;
  }
  if (!ok) {
    if (event) ssh_event_free(event);
    stop_.set_transport_fd(-1);
    ssh_disconnect(session);
    ssh_free(session);
    ::close(fd);
    return Error{error};
  }
  session_ = session;
  event_ = event;
  transport_fd_ = fd;
  return {};
}

/// Drops the clients and the session (if any).
void SshForwardSession::disconnect() {
  channels_.clear();  // before ssh_free, which frees the channels too
  if (session_ == nullptr) return;
  ssh_event_remove_session(event_, session_);
  ssh_event_free(event_);
  stop_.set_transport_fd(-1);
  ssh_disconnect(session_);
  ssh_free(session_);
  ::close(transport_fd_);
  session_ = nullptr;
  event_ = nullptr;
  transport_fd_ = -1;
}

/// One poll round. Without a session it only waits for a client or the stop; with one
/// it moves data for every channel and accepts new clients. False if the session died.
bool SshForwardSession::serve_once() {
  std::vector<pollfd> fds{{stop_.wake_fd(), POLLIN, 0}, {listener_fd_, POLLIN, 0}};
  if (!connected()) {
    ::poll(fds.data(), fds.size(), -1);
    return true;
  }
  fds.push_back({transport_fd_, POLLIN, 0});
  for (const auto& channel : channels_) fds.push_back({channel->client_fd(), channel->client_events(), 0});
  const int ready = ::poll(fds.data(), fds.size(), kKeepaliveIntervalMs);
  if (ready < 0 && errno != EINTR) return false;
  if (stop_.requested()) return true;
  if (ready == 0) ssh_send_ignore(session_, "");  // keepalive: a dead guest shows as a failed relay
  const short transport = fds[2].revents;
  if (transport != 0) ssh_event_dopoll(event_, 0);  // libssh reads and dispatches packets
  if (!ssh_is_connected(session_) || (transport & (POLLHUP | POLLERR)) != 0) return false;
  // Pump the existing channels (their poll results are at the same index + 3).
  std::vector<std::unique_ptr<SshForwardChannel>> still_open;
  for (std::size_t i = 0; i < channels_.size(); ++i)
    if (channels_[i]->pump(fds[i + 3].revents)) still_open.push_back(std::move(channels_[i]));
  if (still_open.size() != channels_.size())
    spdlog::debug("{}: {} channel(s) closed ({} active)", label_, channels_.size() - still_open.size(),
                  still_open.size());
  channels_ = std::move(still_open);
  if (!ssh_is_connected(session_)) return false;
  if ((fds[1].revents & POLLIN) != 0) return accept_clients();
  return true;
}

/// Accepts every waiting client and opens its channel; false if the session died.
bool SshForwardSession::accept_clients() {
  for (;;) {
    const int client = accept_or_shed(listener_fd_, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0 && errno == ECONNABORTED) {  // shed: out of descriptors, the client was closed
      if (shedding_warning_due()) spdlog::warn("{}", shedding_warning(label_));
      continue;
    }
    if (client < 0) return true;
    if (!open_channel(client)) return false;
  }
}

/// Opens a direct-streamlocal channel for one client. A refused channel (e.g. nothing
/// listens on the guest path) closes just that client; false only if the session died.
bool SshForwardSession::open_channel(int client_fd) {
  ssh_channel channel = ssh_channel_new(session_);
  if (channel != nullptr && ssh_channel_open_forward_unix(channel, spec_.dest_path.c_str(), "127.0.0.1", 0) == SSH_OK) {
    channels_.push_back(std::make_unique<SshForwardChannel>(client_fd, channel));
    spdlog::debug("{}: channel opened ({} active)", label_, channels_.size());
    return true;
  }
  spdlog::warn("{}: guest refused the channel: {}", label_, ssh_get_error(session_));
  if (channel != nullptr) ssh_channel_free(channel);
  ::close(client_fd);
  return ssh_is_connected(session_) != 0;
}

/// Closes the clients that waited for a session that could not be made.
void SshForwardSession::reject_waiting_clients() {
  for (int i = 0; i < 4096; ++i) {  // bounded: shedding can fail when nothing is left
    const int client = accept_or_shed(listener_fd_, SOCK_CLOEXEC);
    if (client < 0 && errno == ECONNABORTED) continue;  // closed by the shedding
    if (client < 0) return;
    ::close(client);
  }
}

/// True if a client waits in the listener's backlog (demand for a session).
bool SshForwardSession::listener_has_client() const {
  pollfd p{listener_fd_, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & POLLIN) != 0;
}

}  // namespace usernet
