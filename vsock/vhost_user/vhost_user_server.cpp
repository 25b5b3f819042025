// vhost-user socket server; see vhost_user_server.hpp.
#include "vsock/vhost_user/vhost_user_server.hpp"

#include "netstack/base/accept_shedding.hpp"
#include "netstack/base/owner_only_bind.hpp"
#include "netstack/base/log.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace usernet::vhost {

namespace {
constexpr std::size_t kMaxFdsPerMessage = 16;
constexpr int kReceiveTimeoutMs = 2000;  // a front-end that stalls mid-message is dropped

// Blocking reads with a timeout: messages arrive whole, so this only waits for a slow peer.
void set_receive_timeout(int fd) {
  timeval tv{kReceiveTimeoutMs / 1000, static_cast<suseconds_t>(kReceiveTimeoutMs % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  const int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

// Collects SCM_RIGHTS descriptors from a received message into `fds`.
void take_fds(msghdr& msg, std::vector<int>& fds) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds.push_back(fd);
    }
  }
}

// Writes all bytes (blocking, with the socket's send timeout).
bool send_all(int fd, std::span<const std::uint8_t> bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  return true;
}
}  // namespace

Server::Server(uv_loop_t* loop, DeviceModel& model) : loop_(loop), backend_(model, *this) {}

Server::~Server() {
  on_disconnect_ = nullptr;  // our owner is going away too
  drop_frontend("");
  backend_.reset();
  kick_watches_.clear();
  listener_watch_.reset();
  close_fd(listen_fd_);
  if (!listen_path_.empty()) ::unlink(listen_path_.c_str());
}

// Binds a fresh unix stream socket; one pending front-end is enough.
Status Server::listen(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return Error{"socket path too long: " + path};
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) return Error{std::string("socket: ") + std::strerror(errno)};
  ::unlink(path.c_str());
  if (bind_owner_only(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 4) != 0) {
    Error failure{"cannot listen on " + path + ": " + std::strerror(errno)};
    close_fd(listen_fd_);
    return failure;
  }
  listen_path_ = path;
  listener_watch_ = std::make_unique<PollWatcher>(loop_, listen_fd_, [this](int, int) {
    on_listener_readable();
  });
  listener_watch_->watch(UV_READABLE);
  return {};
}

// Accepts while no front-end is attached; further ones wait in the backlog.
void Server::on_listener_readable() {
  if (has_frontend()) {
    listener_watch_->watch(0);
    return;
  }
  const int fd = accept_or_shed(listen_fd_, SOCK_CLOEXEC);
  if (fd < 0 && errno == ECONNABORTED && shedding_warning_due())
    log_message(LogLevel::warn, shedding_warning("vhost-user"));
  if (fd < 0) return;
  adopt(fd);
}

void Server::adopt(int fd) {
  drop_frontend("replaced");
  set_receive_timeout(fd);
  frontend_fd_ = fd;
  frontend_watch_ = std::make_unique<PollWatcher>(loop_, fd, [this](int status, int) {
    if (status < 0) {
      drop_frontend("poll error");
      return;
    }
    on_frontend_readable();
  });
  frontend_watch_->watch(UV_READABLE);
  if (listener_watch_) listener_watch_->watch(0);
  log_message(LogLevel::info, "vhost-user: front-end connected");
}

// One message per readiness event keeps the loop fair to the data path.
void Server::on_frontend_readable() {
  IncomingMessage message;
  if (!read_message(message)) {
    for (int& fd : message.fds) close_fd(fd);
    drop_frontend("front-end disconnected");
    return;
  }
  const auto request = message.header.request;
  auto outcome = backend_.handle(std::move(message));
  if (!outcome.status) {
    ++refused_messages_;
    log_message(LogLevel::warn, "vhost-user: " + request_name(request) + ": " + outcome.status.error());
  } else {
    log_message(LogLevel::debug, "vhost-user: " + request_name(request));
  }
  if (outcome.fatal) {
    drop_frontend("protocol error");
    return;
  }
  if (!outcome.reply.empty() && !send_all(frontend_fd_, outcome.reply)) {
    drop_frontend("reply failed");
  }
}

// Header (with any fds) first, then exactly `size` payload bytes.
bool Server::read_message(IncomingMessage& message) {
  std::array<std::uint8_t, kHeaderSize> header{};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)> control{};
  iovec iov{header.data(), header.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n;
  do {
    n = ::recvmsg(frontend_fd_, &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL);
  } while (n < 0 && errno == EINTR);
  take_fds(msg, message.fds);
  if (n != static_cast<ssize_t>(header.size()) || (msg.msg_flags & MSG_CTRUNC) != 0) return false;
  message.header = *decode_header(header);
  if (!validate_header(message.header)) {
    // Let the back-end report it; do not read an untrusted size.
    return true;
  }
  message.payload.resize(message.header.size);
  std::size_t got = 0;
  while (got < message.payload.size()) {
    n = ::recv(frontend_fd_, message.payload.data() + got, message.payload.size() - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<std::size_t>(n);
  }
  return true;
}

// Resets the device and frees every resource of the old front-end.
void Server::drop_frontend(const std::string& reason) {
  if (frontend_fd_ < 0) return;
  if (!reason.empty()) log_message(LogLevel::info, "vhost-user: " + reason + "; device reset");
  frontend_watch_.reset();
  backend_.reset();
  close_fd(frontend_fd_);
  if (listener_watch_) listener_watch_->watch(UV_READABLE);
  if (on_disconnect_) on_disconnect_();
}

// The kick eventfd: drain its counter, then let the back-end run the queue.
void Server::watch_kick(std::uint32_t index, int fd) {
  kick_watches_.erase(index);
  kick_fds_.erase(index);
  if (fd < 0) return;
  kick_fds_[index] = fd;
  auto watch = std::make_unique<PollWatcher>(loop_, fd, [this, index](int status, int) {
    auto it = kick_fds_.find(index);
    if (status < 0 || it == kick_fds_.end()) return;
    std::uint64_t count;
    [[maybe_unused]] const auto n = ::read(it->second, &count, sizeof(count));
    backend_.kicked(index);
  });
  watch->watch(UV_READABLE);
  kick_watches_[index] = std::move(watch);
}

}  // namespace usernet::vhost
