#include "vsock/transport/http_connection.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "vsock/transport/socket_address.hpp"
#include "vsock/transport/stream_port.hpp"
#include "netstack/base/log.hpp"

namespace usernet {

HttpResponse not_found_handler(const HttpRequest&) { return HttpResponse{}; }

HttpConnection::HttpConnection(PortContext context, int fd, std::string description, HttpHandler handler,
                               const std::string& connect_alias, bool allow_connect)
    : context_(context), fd_(fd), description_(std::move(description)), handler_(std::move(handler)),
      allow_connect_(allow_connect) {
  if (!connect_alias.empty()) reader_.add_connect_alias(connect_alias);
  set_nonblocking(fd_);
  watch_ = std::make_unique<PollWatcher>(context_.loop, fd_,
                                         [this](int status, int events) { on_event(status, events); });
  deadline_ = std::make_unique<Timer>(context_.loop, [this] {
    log_message(LogLevel::info, description_ + ": HTTP client too slow; closing");
    finish();
  });
}

HttpConnection::~HttpConnection() {
  deadline_.reset();
  watch_.reset();  // before closing fd_ (uv_close unregisters the descriptor)
  if (fd_ >= 0) ::close(fd_);
}

void HttpConnection::start() {
  watch_->watch(UV_READABLE);
  deadline_->start(kHttpRequestTimeoutMs);
}

void HttpConnection::on_event(int status, int events) {
  if (done_) return;
  if (status < 0) return finish();
  if (!response_.empty()) {
    if (events & UV_WRITABLE) write_response();
    return;
  }
  if (events & UV_READABLE) read_request();
}

void HttpConnection::read_request() {
  std::uint8_t buffer[16384];
  for (;;) {
    const ssize_t n = ::read(fd_, buffer, sizeof buffer);
    if (n == 0) return finish();
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      return finish();
    }
    switch (reader_.feed(ByteSpan(buffer, static_cast<std::size_t>(n)))) {
      case HttpRequestReader::Status::need_more:
        continue;
      case HttpRequestReader::Status::connect:
        if (!allow_connect_) return respond(HttpResponse{});  // 404: no VM attach here
        return become_switch_port();
      case HttpRequestReader::Status::request:
        context_.counters.http_requests++;
        return respond(handler_(reader_.request()));
      case HttpRequestReader::Status::error:
        context_.counters.http_errors++;
        log_message(LogLevel::info, description_ + ": bad HTTP request: " + reader_.error());
        return respond(HttpResponse{400, "text/plain", "bad request: " + reader_.error() + "\n", {}});
    }
  }
}

void HttpConnection::become_switch_port() {
  // The port must not watch the descriptor while our watcher exists (closing a libuv
  // poll handle unregisters the fd from epoll), and our watcher cannot be destroyed from
  // inside its own callback: finish the hand-over at the end of this turn, in flush().
  done_ = true;
  handing_over_ = true;
  watch_->watch(0);
  deadline_->stop();
  context_.peers.schedule_flush(*this);
}

void HttpConnection::flush() {
  if (!handing_over_) return;
  handing_over_ = false;
  watch_.reset();
  if (take_over_) return hand_over_socket();
  const int fd = fd_;
  fd_ = -1;
  auto port = std::make_unique<StreamPort>(context_, fd, fd, LengthPrefix::le16,
                                           "vsock " + description_, reader_.leftover());
  auto& ref = *port;
  context_.peers.add(std::move(port));
  context_.peers.retire(*this);
  ref.start();
}

void HttpConnection::hand_over_socket() {
  const int fd = fd_;
  fd_ = -1;
  auto take_over = std::move(take_over_);
  context_.peers.retire(*this);
  take_over(fd);
}

void HttpConnection::respond(const HttpResponse& response) {
  if (response.take_over && !reader_.leftover().empty()) {
    // Bytes sent before our "OK" would be lost in the hand-over: refuse instead.
    return respond(HttpResponse{400, "text/plain", "bad request: data before the tunnel was established\n", {}});
  }
  take_over_ = response.take_over;
  response_ = take_over_ ? response.body : serialize_http_response(response);
  response_sent_ = 0;
  watch_->watch(UV_WRITABLE);
  write_response();
}

void HttpConnection::write_response() {
  while (response_sent_ < response_.size()) {
    const ssize_t n = ::send(fd_, response_.data() + response_sent_, response_.size() - response_sent_,
                             MSG_NOSIGNAL);
    if (n >= 0) {
      response_sent_ += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // wait for UV_WRITABLE
    take_over_ = nullptr;  // the client is gone: nothing to hand over
    break;
  }
  if (take_over_ && response_sent_ == response_.size()) {
    // Same dance as /connect: the new owner watches the fd only after our watcher is gone.
    done_ = true;
    handing_over_ = true;
    watch_->watch(0);
    deadline_->stop();
    context_.peers.schedule_flush(*this);
    return;
  }
  finish();
}

void HttpConnection::finish() {
  if (done_) return;
  done_ = true;
  watch_->watch(0);
  deadline_->stop();
  context_.peers.retire(*this);
}

}  // namespace usernet
