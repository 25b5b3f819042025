// QMP client on a libuv loop: connects to QEMU's QMP unix socket (retrying while QEMU
// creates it), reads the greeting, negotiates capabilities, then sends commands with ids
// and delivers their replies and QEMU's asynchronous events (NETDEV_STREAM_CONNECTED,
// STOP, RESUME, SHUTDOWN...). Commands issued before the handshake is done are queued.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>

#include "hypervisor/qmp_protocol.hpp"
#include "netstack/base/uv_handles.hpp"

namespace usernet {

class QmpClient {
 public:
  struct Callbacks {
    std::function<void()> on_ready;                         // capabilities negotiated
    std::function<void(const QmpMessage&)> on_event;        // every event
    std::function<void(const std::string& why)> on_closed;  // connection lost or failed
  };
  /// Reply to one command: a result or an error message.
  using ReplyHandler = std::function<void(const QmpMessage&)>;

  QmpClient(uv_loop_t* loop, Callbacks callbacks);
  ~QmpClient();
  QmpClient(const QmpClient&) = delete;
  QmpClient& operator=(const QmpClient&) = delete;

  /// Connects to the socket at path; while it is missing or refused, retries every 20 ms
  /// until timeout_ms has passed (then on_closed reports the failure).
  void connect(const std::string& path, std::uint64_t timeout_ms);
  /// Uses an already connected stream socket (tests, inherited fds). Takes ownership.
  void open(int fd);

  /// Sends a command (arguments: a JSON object or null); reply gets the result or error.
  /// Returns the command's id. Queued until the handshake is done.
  std::uint64_t execute(const std::string& command, const nlohmann::json& arguments = nullptr,
                        ReplyHandler reply = {});

  bool ready() const { return ready_; }
  /// Closes the connection; pending replies are dropped and on_closed is not called.
  void close();

 private:
  struct Pending {
    std::string bytes;
    ReplyHandler reply;
  };
  static void on_connect(uv_connect_t* request, int status);
  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

  void start_connect();
  void start_reading();
  void handle_line(const std::string& line);
  void send_now(const std::string& bytes);
  void fail(const std::string& why);
  void release_pipe();

  uv_loop_t* loop_;
  Callbacks callbacks_;
  uv_pipe_t* pipe_ = nullptr;
  Timer retry_timer_;
  std::string path_;
  std::uint64_t deadline_ = 0;
  QmpLineSplitter splitter_;
  bool greeted_ = false;
  bool ready_ = false;
  std::uint64_t next_id_ = 1;
  std::uint64_t capabilities_id_ = 0;
  std::deque<std::pair<std::uint64_t, Pending>> queued_;  // before ready
  std::map<std::uint64_t, ReplyHandler> awaiting_;        // sent, reply not yet seen
  char read_buffer_[64 * 1024];
};

}  // namespace usernet
