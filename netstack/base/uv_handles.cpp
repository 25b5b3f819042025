#include "netstack/base/uv_handles.hpp"

#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace usernet {

PollWatcher::PollWatcher(uv_loop_t* loop, int fd, Callback callback)
    : handle_(new uv_poll_t), callback_(std::move(callback)) {
  const int rc = uv_poll_init(loop, handle_, fd);
  if (rc != 0) {
    delete handle_;
    throw std::runtime_error(std::string("uv_poll_init: ") + uv_strerror(rc));
  }
  handle_->data = this;
}

PollWatcher::~PollWatcher() { close(); }

void PollWatcher::close() {
  if (handle_ == nullptr) return;
  close_and_free(handle_);
  handle_ = nullptr;
  events_ = 0;
}

void PollWatcher::watch(int events) {
  if (handle_ == nullptr || events == events_) return;
  events_ = events;
  if (events == 0) {
    uv_poll_stop(handle_);
    return;
  }
  uv_poll_start(handle_, events, [](uv_poll_t* h, int status, int ev) {
    if (auto* self = static_cast<PollWatcher*>(h->data)) self->callback_(status, ev);
  });
}

WatchedSocket::WatchedSocket(uv_loop_t* loop, int fd, PollWatcher::Callback callback)
    : fd_(fd), watcher_(loop, fd, std::move(callback)) {}

WatchedSocket::~WatchedSocket() {
  watcher_.close();
  ::close(fd_);
}

void start_idle_sweeper(Timer& timer, std::uint64_t idle_timeout_ms) {
  const std::uint64_t period = std::max<std::uint64_t>(idle_timeout_ms / 4, 250);
  timer.start(period, period);
  timer.unref();
}

Timer::Timer(uv_loop_t* loop, std::function<void()> callback)
    : handle_(new uv_timer_t), callback_(std::move(callback)) {
  uv_timer_init(loop, handle_);
  handle_->data = this;
}

Timer::~Timer() { close_and_free(handle_); }

void Timer::start(std::uint64_t timeout_ms, std::uint64_t repeat_ms) {
  uv_timer_start(
      handle_,
      [](uv_timer_t* h) {
        if (auto* self = static_cast<Timer*>(h->data)) self->callback_();
      },
      timeout_ms, repeat_ms);
}

void Timer::stop() { uv_timer_stop(handle_); }

void Timer::unref() { uv_unref(reinterpret_cast<uv_handle_t*>(handle_)); }

SignalWatcher::SignalWatcher(uv_loop_t* loop, int signum, std::function<void()> callback)
    : handle_(new uv_signal_t), callback_(std::move(callback)) {
  uv_signal_init(loop, handle_);
  handle_->data = this;
  uv_signal_start(
      handle_,
      [](uv_signal_t* h, int) {
        if (auto* self = static_cast<SignalWatcher*>(h->data)) self->callback_();
      },
      signum);
}

SignalWatcher::~SignalWatcher() { close_and_free(handle_); }

}  // namespace usernet
