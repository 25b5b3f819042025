#include "netstack/api/slirp4netns_api_server.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "netstack/base/accept_shedding.hpp"
#include "netstack/base/owner_only_bind.hpp"
#include "netstack/base/unique_fd.hpp"
#include "netstack/base/unix_address.hpp"

namespace usernet {

namespace {
constexpr std::uint64_t kClientTimeoutMs = 5000;  // a client that never finishes its request
constexpr std::size_t kMaxClients = 32;           // more wait in the listen backlog
}  // namespace

/// One connection: collects the request, answers once, and is finished.
class Slirp4netnsApiServer::Client {
 public:
  Client(Slirp4netnsApiServer& server, int fd)
      : server_(server),
        socket_(server.loop_, fd, [this](int status, int) { on_readable(status); }),
        timeout_(server.loop_, [this] { server_.finish(this); }) {
    socket_.watch(UV_READABLE);
    timeout_.start(kClientTimeoutMs);
  }

 private:
  void on_readable(int status) {
    std::array<char, 4096> chunk{};
    bool end = status < 0;
    while (!end) {
      const ssize_t n = ::recv(socket_.fd(), chunk.data(), chunk.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n <= 0) {
        end = true;  // the client shut its side: the request is complete
        break;
      }
      request_.append(chunk.data(), static_cast<std::size_t>(n));
      if (request_.size() > kSlirp4netnsMaxRequest) break;
    }
    if (request_.size() > kSlirp4netnsMaxRequest) return reply(Slirp4netnsApi::too_large());
    if (end || nlohmann::json::accept(request_)) return reply(server_.api_->answer(request_));
  }

  void reply(const std::string& text) {
    server_.requests_++;
    // A reply is one small write into an empty socket buffer; a client gone early is its loss.
    (void)::send(socket_.fd(), text.data(), text.size(), MSG_NOSIGNAL);
    ::shutdown(socket_.fd(), SHUT_RDWR);
    socket_.watch(0);
    timeout_.stop();
    server_.finish(this);
  }

  Slirp4netnsApiServer& server_;
  WatchedSocket socket_;
  Timer timeout_;
  std::string request_;
};

Result<std::unique_ptr<Slirp4netnsApiServer>> Slirp4netnsApiServer::listen(uv_loop_t* loop, const std::string& path,
                                                                           std::unique_ptr<Slirp4netnsApi> api) {
  const auto address = unix_address(path);
  if (!address) return Error{"API socket path " + path + " is too long (at most 107 bytes)"};
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return Error{std::string("socket: ") + std::strerror(errno)};
  ::unlink(path.c_str());  // slirp4netns replaces a stale socket file the same way
  if (bind_owner_only(fd.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof(*address)) != 0 ||
      ::listen(fd.get(), 16) != 0)
    return Error{"API socket " + path + ": " + std::strerror(errno)};
  return std::unique_ptr<Slirp4netnsApiServer>(new Slirp4netnsApiServer(loop, path, fd.release(), std::move(api)));
}

Slirp4netnsApiServer::Slirp4netnsApiServer(uv_loop_t* loop, std::string path, int listen_fd,
                                           std::unique_ptr<Slirp4netnsApi> api)
    : loop_(loop), path_(std::move(path)), api_(std::move(api)), reaper_(loop, [this] { finished_.clear(); }) {
  listener_ = std::make_unique<WatchedSocket>(loop, listen_fd, [this](int, int) { on_acceptable(); });
  listener_->watch(UV_READABLE);
  spdlog::info("slirp4netns API on {}", path_);
}

Slirp4netnsApiServer::~Slirp4netnsApiServer() {
  clients_.clear();
  finished_.clear();
  listener_.reset();
  ::unlink(path_.c_str());
}

void Slirp4netnsApiServer::on_acceptable() {
  while (clients_.size() < kMaxClients) {
    const int fd = accept_or_shed(listener_->fd(), SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == ECONNABORTED || errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) spdlog::warn("slirp4netns API: accept: {}", std::strerror(errno));
      break;
    }
    clients_.push_back(std::make_unique<Client>(*this, fd));
  }
  // At the cap, stop watching until a client finishes (they time out within seconds).
  listener_->watch(clients_.size() < kMaxClients ? UV_READABLE : 0);
}

void Slirp4netnsApiServer::finish(Client* client) {
  auto it = std::find_if(clients_.begin(), clients_.end(), [client](const auto& c) { return c.get() == client; });
  if (it == clients_.end()) return;
  finished_.push_back(std::move(*it));
  clients_.erase(it);
  reaper_.start(0);
  listener_->watch(UV_READABLE);
}

}  // namespace usernet
