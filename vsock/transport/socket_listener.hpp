// A listening socket (unix stream, TCP, vsock or unix seqpacket) that accepts every
// pending connection on readability and hands each descriptor to a callback.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "netstack/base/uv_handles.hpp"
#include "vsock/transport/transport_url.hpp"
#include "vsock/transport/unix_socket_path.hpp"

namespace usernet {

/// Opens a socket bound to the URL (for unix URLs the path is claimed first, see
/// UnixSocketPath). Returns the descriptor; throws std::runtime_error naming the URL.
int open_bound_socket(const TransportUrl& url, std::optional<UnixSocketPath>& path_owner);

class SocketListener {
 public:
  using OnAccept = std::function<void(int fd)>;
  /// Binds and listens; throws std::runtime_error naming the URL on failure.
  SocketListener(uv_loop_t* loop, TransportUrl url, OnAccept on_accept);
  ~SocketListener();
  SocketListener(const SocketListener&) = delete;
  SocketListener& operator=(const SocketListener&) = delete;

  const TransportUrl& url() const { return url_; }
  /// The TCP port actually bound (useful with tcp://...:0).
  std::uint16_t bound_port() const;

 private:
  void accept_pending();

  TransportUrl url_;
  OnAccept on_accept_;
  std::optional<UnixSocketPath> path_;
  int fd_ = -1;
  std::unique_ptr<PollWatcher> watch_;
  std::unique_ptr<Timer> pause_;  // re-arms accepting after running out of descriptors
};

}  // namespace usernet
