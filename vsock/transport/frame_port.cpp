#include "vsock/transport/frame_port.hpp"

#include <utility>

namespace usernet {

FramePort::FramePort(PortContext context, std::string description)
    : context_(context), description_(std::move(description)) {}

FramePort::~FramePort() {
  if (attached_ && !closed_) context_.sw.detach(id_);
}

void FramePort::attach(bool accepted) {
  id_ = context_.sw.attach(*this);
  attached_ = true;
  if (!accepted) return;
  context_.counters.peers_accepted++;
  log_message(LogLevel::info, description_ + ": connected");
}

void FramePort::close_port(const std::string& reason, LogLevel level) {
  if (closed_) return;
  closed_ = true;
  context_.counters.peers_closed++;
  context_.sw.detach(id_);
  stop_watching();
  log_message(level, description_ + ": " + reason);
  context_.peers.retire(*this);
}

}  // namespace usernet
