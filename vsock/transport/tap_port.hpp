// A TAP device as a switch port (usernetd --tap: the slirp4netns/pasta use case).
#pragma once

#include <uv.h>

#include <memory>
#include <vector>

#include "netstack/switch/switch.hpp"
#include "netstack/base/uv_handles.hpp"
#include "vsock/transport/tap_device.hpp"

namespace usernet {

class TapPort : public SwitchPort {
 public:
  TapPort(uv_loop_t* loop, Switch& sw, TapDevice device);
  ~TapPort() override;
  TapPort(const TapPort&) = delete;
  TapPort& operator=(const TapPort&) = delete;

  bool send_frame(ByteSpan frame) override;
  std::string describe() const override { return "tap " + device_.name(); }
  PortId port_id() const { return port_id_; }

 private:
  void on_readable();

  Switch& switch_;
  TapDevice device_;
  PortId port_id_;
  std::vector<std::uint8_t> buffer_;
  PollWatcher watcher_;
};

}  // namespace usernet
