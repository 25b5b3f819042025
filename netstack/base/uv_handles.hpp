// Small owners for libuv handles. libuv frees handles asynchronously (uv_close), which
// makes object lifetimes awkward; these wrappers heap-allocate the handle, detach it
// from the owner on destruction and let the close callback free it, so an owner can be
// destroyed at any time, even from inside its own callback.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>

namespace usernet {

/// Closes a heap-allocated libuv handle (or a struct that begins with one) and frees it
/// once libuv is done with it (libuv frees asynchronously). Clears `data` first, so no
/// callback can reach a gone owner.
template <typename Handle>
void close_and_free(Handle* handle) {
  auto* base = reinterpret_cast<uv_handle_t*>(handle);
  base->data = nullptr;
  uv_close(base, [](uv_handle_t* h) { delete reinterpret_cast<Handle*>(h); });
}

/// Watches a file descriptor for readability/writability (uv_poll_t).
/// Call close() (or destroy the watcher) before the descriptor closes: libuv's uv_close
/// unregisters the fd *number* from epoll, and a number closed earlier may already
/// belong to another watched socket, which would then silently stop being polled.
class PollWatcher {
 public:
  /// events: the UV_READABLE/UV_WRITABLE mask; status < 0 reports an error.
  using Callback = std::function<void(int status, int events)>;
  PollWatcher(uv_loop_t* loop, int fd, Callback callback);
  ~PollWatcher();
  PollWatcher(const PollWatcher&) = delete;
  PollWatcher& operator=(const PollWatcher&) = delete;

  /// Sets the watched events; 0 stops watching. Cheap when unchanged.
  void watch(int events);
  int events() const { return events_; }
  /// Stops watching for good and unregisters the descriptor; idempotent. Safe inside
  /// the watcher's own callback.
  void close();

 private:
  uv_poll_t* handle_;
  Callback callback_;
  int events_ = 0;
};

/// A host socket watched on the loop that owns its descriptor: the watch stops before
/// the descriptor closes (libuv must not poll a closed fd).
class WatchedSocket {
 public:
  WatchedSocket(uv_loop_t* loop, int fd, PollWatcher::Callback callback);
  ~WatchedSocket();
  WatchedSocket(const WatchedSocket&) = delete;
  WatchedSocket& operator=(const WatchedSocket&) = delete;

  int fd() const { return fd_; }
  void watch(int events) { watcher_.watch(events); }

 private:
  int fd_;
  PollWatcher watcher_;
};

/// A restartable one-shot or repeating timer (uv_timer_t).
class Timer {
 public:
  Timer(uv_loop_t* loop, std::function<void()> callback);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void start(std::uint64_t timeout_ms, std::uint64_t repeat_ms = 0);
  void stop();
  /// Keeps the loop from staying alive just for this timer.
  void unref();

 private:
  uv_timer_t* handle_;
  std::function<void()> callback_;
};

/// Calls back on each delivery of one signal (uv_signal_t) while it exists.
class SignalWatcher {
 public:
  SignalWatcher(uv_loop_t* loop, int signum, std::function<void()> callback);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  uv_signal_t* handle_;
  std::function<void()> callback_;
};

/// Runs `timer` a few times per idle timeout (at most every 250 ms) to expire idle
/// entries, without keeping the loop alive.
void start_idle_sweeper(Timer& timer, std::uint64_t idle_timeout_ms);

}  // namespace usernet
