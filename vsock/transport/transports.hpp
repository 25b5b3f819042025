// usernetd's frame transports: every listener the command line asks for, and every
// peer that connects through them, each peer a port of the switch.
//   listen_qemu  unix:///p | tcp://ip:port        4-byte big-endian length (many VMs)
//   listen_vfkit unixgram:///p                    one frame per datagram, optional VFKT
//   listen_bess  unixpacket:///p                  one frame per packet
//   listen       unix:///p | tcp://ip:port | vsock://:port
//                HTTP; POST /connect → 2-byte little-endian framing; other requests go to
//                the pluggable HTTP handler (404 by default)
//   services     unix:///p | tcp://ip:port         the same HTTP API without /connect
//   listen_stdio 2-byte little-endian framing on stdin/stdout
// Unix sockets of the HTTP endpoints are created mode 0600 (the API is unauthenticated).
#pragma once

#include <uv.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "netstack/base/end_of_turn.hpp"
#include "netstack/switch/switch.hpp"
#include "vsock/transport/http_connection.hpp"
#include "vsock/transport/port_context.hpp"
#include "vsock/transport/unix_socket_path.hpp"

namespace usernet {

struct TransportOptions {
  std::vector<std::string> listen, listen_qemu, listen_vfkit, listen_bess;
  std::vector<std::string> services;  // HTTP API endpoints without /connect
  bool listen_stdio = false;
  std::size_t max_frame = 1514;
};

class SocketListener;
class DatagramPort;

class Transports {
 public:
  /// Opens every listener; throws std::runtime_error with a one-line message naming the
  /// URL on a bad URL or a path in use (listeners opened so far are closed again).
  Transports(uv_loop_t* loop, Switch& sw, EndOfTurn& end_of_turn, TransportOptions options);
  /// Stops listeners, disconnects peers, unlinks the unix socket paths.
  ~Transports();
  Transports(const Transports&) = delete;
  Transports& operator=(const Transports&) = delete;

  /// Replaces the handler for HTTP requests other than POST /connect.
  void set_http_handler(HttpHandler handler);
  /// Serves HTTP (without /connect) on an already connected socket with its own handler;
  /// used for the in-guest API, whose connections arrive through lwIP.
  void serve_http(int fd, std::string description, HttpHandler handler);
  /// Attaches an already connected socket as a switch port (takes the fd): a stream with
  /// QEMU's 4-byte big-endian length framing, or one frame per datagram/packet.
  void attach_stream(int fd, std::string description);
  void attach_datagram(int fd, std::string description);
  const TransportCounters& counters() const { return counters_; }
  /// Live peers (ports and HTTP connections being read).
  std::size_t peer_count() const { return peers_.size(); }
  /// The TCP ports bound by tcp:// listeners, in option order (for tcp://...:0).
  std::vector<std::uint16_t> tcp_ports() const;

 private:
  PortContext context();
  void add_http(const std::string& text, bool allow_connect);
  void add_qemu(const std::string& text);
  void add_vfkit(const std::string& text);
  void add_bess(const std::string& text);
  void add_stdio();

  uv_loop_t* loop_;
  Switch& sw_;
  TransportOptions options_;
  TransportCounters counters_;
  HttpHandler http_handler_ = not_found_handler;
  PeerSet peers_;
  std::vector<std::unique_ptr<SocketListener>> listeners_;
  std::vector<std::unique_ptr<std::optional<UnixSocketPath>>> datagram_paths_;  // vfkit sockets
};

}  // namespace usernet
