#include "vsock/transport/tap_port.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "netstack/base/log.hpp"

namespace usernet {

namespace {
constexpr int kFramesPerWakeup = 64;  // bounded so one busy port cannot starve the loop
}

TapPort::TapPort(uv_loop_t* loop, Switch& sw, TapDevice device)
    : switch_(sw), device_(std::move(device)), port_id_(sw.attach(*this)),
      buffer_(65536), watcher_(loop, device_.fd(), [this](int, int) { on_readable(); }) {
  watcher_.watch(UV_READABLE);
}

TapPort::~TapPort() {
  watcher_.watch(0);
  switch_.detach(port_id_);
}

bool TapPort::send_frame(ByteSpan frame) {
  // The kernel takes a TAP write whole or not at all; a full queue is a counted drop.
  for (;;) {
    const ssize_t n = ::write(device_.fd(), frame.data(), frame.size());
    if (n >= 0) return true;
    if (errno == EINTR) continue;
    return false;
  }
}

void TapPort::on_readable() {
  for (int i = 0; i < kFramesPerWakeup; ++i) {
    const ssize_t n = ::read(device_.fd(), buffer_.data(), buffer_.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      log_message(LogLevel::error, "tap " + device_.name() + ": read: " + std::strerror(errno));
      watcher_.watch(0);
      return;
    }
    switch_.receive(port_id_, ByteSpan(buffer_.data(), static_cast<std::size_t>(n)));
  }
}

}  // namespace usernet
