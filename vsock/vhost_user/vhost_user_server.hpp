// The vhost-user unix socket on the libuv loop: accepts one front-end (QEMU) at a time,
// reads messages with their SCM_RIGHTS descriptors, feeds them to a vhost::Backend, sends
// replies, watches the kick eventfds and writes call eventfds. When the front-end goes
// away the back-end is reset (mappings, fds, queues dropped) and the next one is accepted.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "netstack/base/result.hpp"
#include "netstack/base/uv_handles.hpp"
#include "vsock/vhost_user/vhost_user_backend.hpp"

namespace usernet::vhost {

class Server : private KickWatcher {
 public:
  Server(uv_loop_t* loop, DeviceModel& model);
  ~Server() override;
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Listens on `path` (a stale socket file is replaced), or says why it cannot.
  Status listen(const std::string& path);
  /// Serves an already connected front-end socket (socketpair from a launcher or a test);
  /// takes ownership of `fd`. Any current front-end is dropped first.
  void adopt(int fd);
  /// Signals queue `index`'s driver (call eventfd).
  void notify(std::uint32_t index) { backend_.notify(index); }
  bool has_frontend() const { return frontend_fd_ >= 0; }
  /// Called after a front-end disconnected and the device was reset.
  void set_disconnect_handler(std::function<void()> handler) { on_disconnect_ = std::move(handler); }
  /// Messages refused or malformed so far (for tests and stats).
  std::uint64_t refused_messages() const { return refused_messages_; }

 private:
  void watch_kick(std::uint32_t index, int fd) override;
  void on_listener_readable();
  void on_frontend_readable();
  /// Reads one whole message; false when the front-end is gone or broke framing.
  bool read_message(IncomingMessage& message);
  void drop_frontend(const std::string& reason);

  uv_loop_t* loop_;
  Backend backend_;
  int listen_fd_ = -1;
  std::string listen_path_;
  std::unique_ptr<PollWatcher> listener_watch_;
  int frontend_fd_ = -1;
  std::unique_ptr<PollWatcher> frontend_watch_;
  std::map<std::uint32_t, std::unique_ptr<PollWatcher>> kick_watches_;
  std::map<std::uint32_t, int> kick_fds_;
  std::function<void()> on_disconnect_;
  std::uint64_t refused_messages_ = 0;
};

}  // namespace usernet::vhost
