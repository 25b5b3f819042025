#include "vsock/transport/socket_listener.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "netstack/base/accept_shedding.hpp"
#include "netstack/base/owner_only_bind.hpp"
#include "vsock/transport/socket_address.hpp"
#include "netstack/base/log.hpp"

namespace usernet {

namespace {
constexpr int kBacklog = 128;
constexpr int kAcceptsPerEvent = 64;
constexpr std::uint64_t kPauseMs = 100;
}  // namespace

int open_bound_socket(const TransportUrl& url, std::optional<UnixSocketPath>& path_owner) {
  const SocketAddress address = socket_address_for(url);
  const bool is_unix = address.family() == AF_UNIX;
  if (is_unix) path_owner.emplace(url.path, url.text);
  const int fd = socket(address.family(), socket_type_for(url.scheme) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) throw std::runtime_error("cannot listen on '" + url.text + "': socket: " + errno_text(errno));
  if (url.scheme == UrlScheme::tcp) {
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  }
  const int rc = is_unix ? bind_owner_only(fd, address.get(), address.length) : bind(fd, address.get(), address.length);
  if (rc != 0) {
    const int error = errno;
    ::close(fd);
    throw std::runtime_error("cannot listen on '" + url.text + "': bind: " + errno_text(error));
  }
  if (is_unix) path_owner->bound();
  return fd;
}

SocketListener::SocketListener(uv_loop_t* loop, TransportUrl url, OnAccept on_accept)
    : url_(std::move(url)), on_accept_(std::move(on_accept)) {
  fd_ = open_bound_socket(url_, path_);
  if (listen(fd_, kBacklog) != 0) {
    const int error = errno;
    ::close(fd_);
    throw std::runtime_error("cannot listen on '" + url_.text + "': listen: " + errno_text(error));
  }
  watch_ = std::make_unique<PollWatcher>(loop, fd_, [this](int status, int) {
    if (status < 0) {
      log_message(LogLevel::warn, url_.text + ": poll error: " + uv_strerror(status));
      return;
    }
    accept_pending();
  });
  watch_->watch(UV_READABLE);
  pause_ = std::make_unique<Timer>(loop, [this] { watch_->watch(UV_READABLE); });
}

SocketListener::~SocketListener() {
  pause_.reset();
  watch_.reset();
  ::close(fd_);
}

std::uint16_t SocketListener::bound_port() const {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return 0;
  if (storage.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
  if (storage.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

void SocketListener::accept_pending() {
  for (int i = 0; i < kAcceptsPerEvent; ++i) {
    const int fd = accept_or_shed(fd_, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
      on_accept_(fd);
      continue;
    }
    if (errno == ECONNABORTED) {  // shed: out of descriptors, the client was closed at once
      if (shed_connections() > 0 && shedding_warning_due())
        log_message(LogLevel::warn, shedding_warning(url_.text));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // The socket stays readable, so pause instead of spinning.
      log_message(LogLevel::warn, url_.text + ": accept: " + errno_text(errno) + "; pausing");
      watch_->watch(0);
      pause_->start(kPauseMs);
      return;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      log_message(LogLevel::warn, url_.text + ": accept: " + errno_text(errno));
    return;
  }
}

}  // namespace usernet
