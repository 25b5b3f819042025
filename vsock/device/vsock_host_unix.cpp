// Unix socket host side of the hybrid vsock mapping; see vsock_host_unix.hpp.
#include "vsock/device/vsock_host_unix.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "netstack/base/accept_shedding.hpp"
#include "netstack/base/owner_only_bind.hpp"
#include "netstack/base/unix_address.hpp"
#include "netstack/base/log.hpp"
#include "vsock/device/vsock_host_command.hpp"

namespace usernet::vsock {

namespace {
constexpr std::uint64_t kCommandTimeoutMs = 10000;

void make_nonblocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}
}  // namespace

UnixHostStream::UnixHostStream(uv_loop_t* loop, int fd)
    : fd_(fd), poll_(loop, fd, [this](int status, int events) {
        const bool readable = status < 0 || (events & UV_READABLE) != 0;
        const bool writable = status < 0 || (events & UV_WRITABLE) != 0;
        if (handler_) handler_(readable, writable);  // may destroy this: nothing after it
      }) {
  make_nonblocking(fd_);
}

UnixHostStream::~UnixHostStream() {
  poll_.close();
  ::close(fd_);
}

long UnixHostStream::write(std::span<const std::uint8_t> bytes) {
  const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n >= 0) return n;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
  return -errno;
}

long UnixHostStream::read(std::span<const std::span<std::uint8_t>> buffers) {
  std::array<iovec, 64> iov{};
  std::size_t count = 0;
  for (auto b : buffers) {
    if (count == iov.size()) break;
    iov[count++] = {b.data(), b.size()};
  }
  ssize_t n;
  do {
    n = ::readv(fd_, iov.data(), static_cast<int>(count));
  } while (n < 0 && errno == EINTR);
  if (n >= 0) return n;
  return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

void UnixHostStream::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

void UnixHostStream::watch(bool readable, bool writable) {
  poll_.watch((readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0));
}

// Non-blocking connect: a unix socket either connects at once or fails (incl. full backlog).
std::unique_ptr<HostStream> UnixHostConnector::connect(std::uint32_t port) {
  std::string path;
  if (const auto mapped = port_sockets_.find(port); mapped != port_sockets_.end()) {
    path = mapped->second;
  } else if (!uds_path_.empty()) {
    path = uds_path_ + "_" + std::to_string(port);
  } else {
    log_message(LogLevel::debug, "vsock: guest connect to unmapped port " + std::to_string(port));
    return nullptr;
  }
  const auto addr = unix_address(path);
  if (!addr) return nullptr;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return nullptr;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) {
    log_message(LogLevel::debug, "vsock: guest connect to port " + std::to_string(port) +
                                           ": " + path + ": " + std::strerror(errno));
    ::close(fd);
    return nullptr;
  }
  return std::make_unique<UnixHostStream>(loop_, fd);
}

/// A client that has not yet sent its CONNECT line.
struct UnixHostListener::Pending {
  Pending(uv_loop_t* loop, int fd_, std::function<void()> on_readable,
          std::function<void()> on_timeout)
      : fd(fd_), poll(loop, fd_, [cb = std::move(on_readable)](int, int) { cb(); }),
        timer(loop, std::move(on_timeout)) {}
  int fd;
  PollWatcher poll;
  Timer timer;
};

UnixHostListener::UnixHostListener(uv_loop_t* loop, ConnectHandler handler)
    : loop_(loop), handler_(std::move(handler)) {}

UnixHostListener::~UnixHostListener() {
  for (auto& [fd, pending] : pending_) {
    pending.reset();
    ::close(fd);
  }
  watch_.reset();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (!path_.empty()) ::unlink(path_.c_str());
}

Status UnixHostListener::listen(const std::string& path) {
  const auto addr = unix_address(path);
  if (!addr) return Error{"socket path too long: " + path};
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  ::unlink(path.c_str());
  if (listen_fd_ < 0 || bind_owner_only(listen_fd_, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0 ||
      ::listen(listen_fd_, 128) != 0)
    return Error{"cannot listen on " + path + ": " + std::strerror(errno)};
  path_ = path;
  watch_ = std::make_unique<PollWatcher>(loop_, listen_fd_, [this](int, int) { accept_clients(); });
  watch_->watch(UV_READABLE);
  return {};
}

void UnixHostListener::accept_clients() {
  for (;;) {
    const int fd = accept_or_shed(listen_fd_, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0 && errno == ECONNABORTED) {  // shed: out of descriptors, the client was closed
      if (shedding_warning_due()) log_message(LogLevel::warn, shedding_warning("vsock: " + path_));
      continue;
    }
    if (fd < 0) return;
    auto pending = std::make_unique<Pending>(
        loop_, fd, [this, fd] { read_command(fd); }, [this, fd] { drop_pending(fd); });
    pending->poll.watch(UV_READABLE);
    pending->timer.start(kCommandTimeoutMs);
    pending_[fd] = std::move(pending);
  }
}

// Peeks for the newline so no byte after the command is consumed: data the client sends
// right behind its CONNECT line belongs to the guest.
void UnixHostListener::read_command(int fd) {
  std::array<char, kMaxConnectLine> line{};
  const ssize_t n = ::recv(fd, line.data(), line.size(), MSG_PEEK);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    drop_pending(fd);
    return;
  }
  const std::string_view peeked(line.data(), static_cast<std::size_t>(n));
  const auto newline = peeked.find('\n');
  if (newline == std::string_view::npos) {
    if (static_cast<std::size_t>(n) == line.size()) drop_pending(fd);  // no line in 64 bytes
    return;
  }
  [[maybe_unused]] const auto consumed = ::recv(fd, line.data(), newline + 1, 0);
  const auto port = parse_connect_command(peeked.substr(0, newline));
  pending_.erase(fd);  // stop watching; the fd stays open
  if (!port) {
    static constexpr std::string_view kError = "ERROR bad command\n";
    [[maybe_unused]] const auto w = ::send(fd, kError.data(), kError.size(), MSG_NOSIGNAL);
    ::close(fd);
    return;
  }
  if (!handler_(*port, std::make_unique<UnixHostStream>(loop_, fd))) {
    log_message(LogLevel::debug,
               "vsock: host CONNECT " + std::to_string(*port) + " refused (device not running)");
  }
}

void UnixHostListener::drop_pending(int fd) {
  if (pending_.erase(fd) != 0) ::close(fd);
}

}  // namespace usernet::vsock
