#include "vsock/transport/transports.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <stdexcept>

#include "vsock/transport/datagram_port.hpp"
#include "vsock/transport/socket_address.hpp"
#include "vsock/transport/socket_listener.hpp"
#include "vsock/transport/stream_port.hpp"
#include "vsock/transport/transport_url.hpp"

namespace usernet {

namespace {
constexpr int kVfkitSendBuffer = 1 << 20;     // as vfkit/gvproxy: 1 MiB
constexpr int kVfkitReceiveBuffer = 4 << 20;  // and 4 MiB

TransportUrl parse_expecting(const std::string& text, std::initializer_list<UrlScheme> allowed,
                             const std::string& flag) {
  TransportUrl url = parse_transport_url(text);
  for (UrlScheme scheme : allowed)
    if (url.scheme == scheme) return url;
  throw std::runtime_error("bad URL '" + text + "' for " + flag + ": scheme " +
                           std::string(scheme_name(url.scheme)) + " is not supported there");
}
}  // namespace

Transports::Transports(uv_loop_t* loop, Switch& sw, EndOfTurn& end_of_turn, TransportOptions options)
    : loop_(loop), sw_(sw), options_(std::move(options)), peers_(loop, end_of_turn) {
  // A peer that vanishes mid-write must give EPIPE, not kill the daemon (stdio may be a
  // pipe, where MSG_NOSIGNAL does not apply).
  std::signal(SIGPIPE, SIG_IGN);
  for (const auto& text : options_.listen) add_http(text, true);
  for (const auto& text : options_.services) add_http(text, false);
  for (const auto& text : options_.listen_qemu) add_qemu(text);
  for (const auto& text : options_.listen_vfkit) add_vfkit(text);
  for (const auto& text : options_.listen_bess) add_bess(text);
  if (options_.listen_stdio) add_stdio();
}

Transports::~Transports() = default;

PortContext Transports::context() { return PortContext{loop_, sw_, peers_, counters_, options_.max_frame}; }

void Transports::set_http_handler(HttpHandler handler) {
  http_handler_ = handler ? std::move(handler) : HttpHandler(not_found_handler);
}

std::vector<std::uint16_t> Transports::tcp_ports() const {
  std::vector<std::uint16_t> ports;
  for (const auto& listener : listeners_)
    if (listener->url().scheme == UrlScheme::tcp) ports.push_back(listener->bound_port());
  return ports;
}

void Transports::add_http(const std::string& text, bool allow_connect) {
  const TransportUrl url = parse_expecting(text, {UrlScheme::unix_stream, UrlScheme::tcp, UrlScheme::vsock},
                                           allow_connect ? "--listen" : "--services");
  // gvforwarder dialing unix:///P posts to P itself; accept that as /connect too.
  const std::string alias =
      allow_connect && url.scheme == UrlScheme::unix_stream ? url.path : std::string();
  auto on_accept = [this, text, alias, allow_connect](int fd) {
    auto connection = std::make_unique<HttpConnection>(context(), fd, text, http_handler_, alias, allow_connect);
    auto& ref = *connection;
    peers_.add(std::move(connection));
    ref.start();
  };
  // The API has no authentication: its unix socket is born 0600 (no window for others).
  const mode_t old_mask = ::umask(0177);
  try {
    listeners_.push_back(std::make_unique<SocketListener>(loop_, url, on_accept));
  } catch (...) {
    ::umask(old_mask);
    throw;
  }
  ::umask(old_mask);
}

void Transports::serve_http(int fd, std::string description, HttpHandler handler) {
  auto connection = std::make_unique<HttpConnection>(context(), fd, std::move(description), std::move(handler),
                                                     std::string(), false);
  auto& ref = *connection;
  peers_.add(std::move(connection));
  ref.start();
}

void Transports::add_qemu(const std::string& text) {
  const TransportUrl url = parse_expecting(text, {UrlScheme::unix_stream, UrlScheme::tcp}, "--listen-qemu");
  listeners_.push_back(
      std::make_unique<SocketListener>(loop_, url, [this, text](int fd) { attach_stream(fd, "qemu " + text); }));
}

void Transports::attach_stream(int fd, std::string description) {
  auto port = std::make_unique<StreamPort>(context(), fd, fd, LengthPrefix::be32, std::move(description));
  auto& ref = *port;
  peers_.add(std::move(port));
  ref.start();
}

void Transports::attach_datagram(int fd, std::string description) {
  auto port = std::make_unique<DatagramPort>(context(), fd, DatagramPort::Mode::connected, std::move(description));
  auto& ref = *port;
  peers_.add(std::move(port));
  ref.start();
}

void Transports::add_bess(const std::string& text) {
  const TransportUrl url = parse_expecting(text, {UrlScheme::unixpacket}, "--listen-bess");
  listeners_.push_back(
      std::make_unique<SocketListener>(loop_, url, [this, text](int fd) { attach_datagram(fd, "bess " + text); }));
}

void Transports::add_vfkit(const std::string& text) {
  const TransportUrl url = parse_expecting(text, {UrlScheme::unixgram}, "--listen-vfkit");
  auto path = std::make_unique<std::optional<UnixSocketPath>>();
  const int fd = open_bound_socket(url, *path);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kVfkitSendBuffer, sizeof kVfkitSendBuffer);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kVfkitReceiveBuffer, sizeof kVfkitReceiveBuffer);
  datagram_paths_.push_back(std::move(path));
  auto port = std::make_unique<DatagramPort>(context(), fd, DatagramPort::Mode::learn_peer, "vfkit " + text);
  auto& ref = *port;
  peers_.add(std::move(port));
  ref.start();
}

void Transports::add_stdio() {
  const int in = dup(STDIN_FILENO);
  const int out = dup(STDOUT_FILENO);
  if (in < 0 || out < 0) {
    if (in >= 0) ::close(in);
    if (out >= 0) ::close(out);
    throw std::runtime_error("cannot use stdio: dup failed");
  }
  auto port = std::make_unique<StreamPort>(context(), in, out, LengthPrefix::le16, "stdio");
  auto& ref = *port;
  peers_.add(std::move(port));
  ref.start();
}

}  // namespace usernet
