#include "dns/upstream_resolver.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <stdexcept>

#include "netstack/base/port_number.hpp"
#include "netstack/base/uv_handles.hpp"

namespace usernet::dns {

namespace {

constexpr std::uint16_t kDnsPort = 53;

bool is_address(int family, const std::string& text) {
  unsigned char buffer[sizeof(in6_addr)];
  return inet_pton(family, text.c_str(), buffer) == 1;
}

}  // namespace

Result<std::string> upstream_servers_csv(const std::vector<std::string>& servers) {
  std::string csv;
  for (const std::string& entry : servers) {
    std::string host = entry;
    std::optional<std::uint16_t> port = kDnsPort;
    bool ipv6 = false;
    if (!entry.empty() && entry.front() == '[') {
      auto close = entry.find(']');
      if (close == std::string::npos) return Error{"upstream '" + entry + "': missing ']'"};
      host = entry.substr(1, close - 1);
      ipv6 = true;
      if (close + 1 < entry.size()) {
        port = entry[close + 1] == ':' ? parse_port(std::string_view(entry).substr(close + 2)) : std::nullopt;
      }
    } else if (entry.find(':') != entry.rfind(':')) {
      ipv6 = true;  // several colons: a bare IPv6 address
    } else if (auto colon = entry.find(':'); colon != std::string::npos) {
      host = entry.substr(0, colon);
      port = parse_port(std::string_view(entry).substr(colon + 1));
    }
    if (!port || !is_address(ipv6 ? AF_INET6 : AF_INET, host))
      return Error{"upstream '" + entry + "': want IP, IP:PORT or [IPv6]:PORT"};
    if (!csv.empty()) csv += ',';
    csv += ipv6 ? "[" + host + "]:" + std::to_string(*port) : host + ":" + std::to_string(*port);
  }
  return csv;
}

// A watched c-ares socket; `handle` first so the uv_poll_t* converts back to the Poll*.
struct UpstreamResolver::Poll {
  uv_poll_t handle;
  UpstreamResolver* owner;
  ares_socket_t fd;
};

// One query in flight: who to tell.
struct QueryContext {
  UpstreamResolver* owner;
  UpstreamResolver::Callback callback;
};

UpstreamResolver::UpstreamResolver(uv_loop_t* loop, std::vector<std::string> servers, UpstreamOptions options)
    : loop_(loop), reserve_(options.reserved_fds) {
  auto csv = upstream_servers_csv(servers);
  if (!csv) throw std::invalid_argument(csv.error());
  if (int status = ares_library_init(ARES_LIB_INIT_ALL); status != ARES_SUCCESS) {
    throw std::runtime_error(std::string("c-ares init: ") + ares_strerror(status));
  }
  ares_options ares{};
  ares.sock_state_cb = &UpstreamResolver::on_socket_state;
  ares.sock_state_cb_data = this;
  ares.timeout = options.timeout_ms;
  ares.tries = options.tries;
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  int status = ares_init_options(&channel_, &ares, mask);
  if (status == ARES_SUCCESS && !servers.empty()) status = ares_set_servers_ports_csv(channel_, csv->c_str());
  if (status != ARES_SUCCESS) {
    if (channel_ != nullptr) ares_destroy(channel_);
    ares_library_cleanup();
    throw std::runtime_error(std::string("c-ares setup: ") + ares_strerror(status));
  }
  // c-ares calls these instead of the plain system calls (its sockets come from reserve_).
  static const ares_socket_functions socket_functions = {&UpstreamResolver::open_socket,
                                                         &UpstreamResolver::close_socket,
                                                         &UpstreamResolver::connect_socket,
                                                         &UpstreamResolver::receive_from,
                                                         &UpstreamResolver::send_vector};
  ares_set_socket_functions(channel_, &socket_functions, this);
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  deferred_ = new uv_idle_t;
  uv_idle_init(loop_, deferred_);
  deferred_->data = this;
}

UpstreamResolver::~UpstreamResolver() {
  *alive_ = false;
  destroying_ = true;
  ares_destroy(channel_);  // answers pending queries with ARES_EDESTRUCTION (dropped)
  for (auto& [fd, poll] : polls_) close_and_free(poll);
  polls_.clear();
  close_and_free(timer_);
  close_and_free(deferred_);
  ares_library_cleanup();
}

void UpstreamResolver::resolve(std::span<const std::uint8_t> query, Callback callback) {
  ++pending_;
  auto* context = new QueryContext{this, std::move(callback)};
  ares_send(channel_, query.data(), static_cast<int>(query.size()), &UpstreamResolver::on_answer, context);
  // ares_send may have answered at once (bad query); never call back from inside resolve().
  if (!completions_.empty()) uv_idle_start(deferred_, &UpstreamResolver::on_deferred);
  schedule_timeout();
}

Status UpstreamResolver::set_servers(const std::vector<std::string>& servers) {
  auto csv = upstream_servers_csv(servers);
  if (!csv) return Error{csv.error()};
  int status = ares_set_servers_ports_csv(channel_, csv->c_str());
  if (status == ARES_ENOTIMP) {
    // Older c-ares refuses while queries are in flight: fail them (clients retry) and switch.
    ares_cancel(channel_);
    status = ares_set_servers_ports_csv(channel_, csv->c_str());
  }
  if (!completions_.empty()) uv_idle_start(deferred_, &UpstreamResolver::on_deferred);
  schedule_timeout();
  if (status != ARES_SUCCESS) return Error{std::string("c-ares: ") + ares_strerror(status)};
  return {};
}

ares_socket_t UpstreamResolver::open_socket(int domain, int type, int protocol, void* data) {
  int fd = static_cast<UpstreamResolver*>(data)->reserve_.open_socket(domain, type, protocol);
  return fd < 0 ? ARES_SOCKET_BAD : fd;
}

int UpstreamResolver::close_socket(ares_socket_t fd, void* data) {
  auto* self = static_cast<UpstreamResolver*>(data);
  self->watch_socket(fd, false, false);  // unregister the fd before its number is free
  return self->reserve_.close_socket(fd);
}

int UpstreamResolver::connect_socket(ares_socket_t fd, const sockaddr* address, ares_socklen_t length, void*) {
  return ::connect(fd, address, length);
}

ares_ssize_t UpstreamResolver::receive_from(ares_socket_t fd, void* buffer, std::size_t length, int flags,
                                            sockaddr* from, ares_socklen_t* from_length, void*) {
  return ::recvfrom(fd, buffer, length, flags, from, from_length);
}

ares_ssize_t UpstreamResolver::send_vector(ares_socket_t fd, const iovec* vector, int count, void*) {
  return ::writev(fd, vector, count);
}

void UpstreamResolver::on_answer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  std::unique_ptr<QueryContext> context(static_cast<QueryContext*>(arg));
  UpstreamResolver* self = context->owner;
  if (self->destroying_) return;
  --self->pending_;
  std::optional<std::vector<std::uint8_t>> answer;
  if (status == ARES_SUCCESS && abuf != nullptr && alen > 0) answer.emplace(abuf, abuf + alen);
  self->completions_.push_back(Completion{std::move(context->callback), std::move(answer)});
}

void UpstreamResolver::on_socket_state(void* data, ares_socket_t fd, int readable, int writable) {
  static_cast<UpstreamResolver*>(data)->watch_socket(fd, readable != 0, writable != 0);
}

void UpstreamResolver::watch_socket(ares_socket_t fd, bool readable, bool writable) {
  auto found = polls_.find(fd);
  if (!readable && !writable) {
    // c-ares is about to close the socket: stop watching before the fd goes away.
    if (found != polls_.end()) {
      close_and_free(found->second);
      polls_.erase(found);
    }
    return;
  }
  if (destroying_) return;
  Poll* poll = nullptr;
  if (found == polls_.end()) {
    poll = new Poll{{}, this, fd};
    if (uv_poll_init_socket(loop_, &poll->handle, fd) != 0) {
      delete poll;  // c-ares times the query out and tries the next server
      return;
    }
    polls_.emplace(fd, poll);
  } else {
    poll = found->second;
  }
  int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
  uv_poll_start(&poll->handle, events, &UpstreamResolver::on_poll);
}

void UpstreamResolver::on_poll(uv_poll_t* handle, int status, int events) {
  auto* poll = reinterpret_cast<Poll*>(handle);
  UpstreamResolver* self = poll->owner;
  // On a socket error let c-ares read and write so that it sees the error itself.
  bool readable = status < 0 || (events & UV_READABLE) != 0;
  bool writable = status < 0 || (events & UV_WRITABLE) != 0;
  ares_socket_t fd = poll->fd;  // `poll` may be freed during processing
  ares_process_fd(self->channel_, readable ? fd : ARES_SOCKET_BAD, writable ? fd : ARES_SOCKET_BAD);
  self->deliver_completions();
}

void UpstreamResolver::on_timer(uv_timer_t* handle) {
  auto* self = static_cast<UpstreamResolver*>(handle->data);
  ares_process_fd(self->channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  self->deliver_completions();
}

void UpstreamResolver::on_deferred(uv_idle_t* handle) {
  auto* self = static_cast<UpstreamResolver*>(handle->data);
  uv_idle_stop(handle);
  self->deliver_completions();
}

void UpstreamResolver::deliver_completions() {
  // A callback may destroy this object; `alive` outlives it and tells us to stop.
  std::shared_ptr<bool> alive = alive_;
  while (!completions_.empty()) {
    std::vector<Completion> batch;
    batch.swap(completions_);
    for (auto& completion : batch) {
      completion.callback(std::move(completion.answer));
      if (!*alive) return;
    }
  }
  schedule_timeout();
}

void UpstreamResolver::schedule_timeout() {
  timeval wait{};
  if (ares_timeout(channel_, nullptr, &wait) == nullptr) {
    uv_timer_stop(timer_);
    return;
  }
  auto ms = static_cast<std::uint64_t>(wait.tv_sec) * 1000 + static_cast<std::uint64_t>(wait.tv_usec) / 1000;
  uv_timer_start(timer_, &UpstreamResolver::on_timer, ms, 0);
}

}  // namespace usernet::dns
