// What the stream and datagram ports share: a switch port the PeerSet owns, with its
// description, its switch id, and one way to close (stop watching, detach, count, log,
// retire at the end of the turn).
#pragma once

#include <string>

#include "netstack/base/log.hpp"
#include "vsock/transport/port_context.hpp"

namespace usernet {

class FramePort : public Peer, public SwitchPort {
 public:
  ~FramePort() override;
  FramePort(const FramePort&) = delete;
  FramePort& operator=(const FramePort&) = delete;

  std::string describe() const final { return description_; }
  PortId id() const { return id_; }

 protected:
  FramePort(PortContext context, std::string description);

  /// Attaches to the switch. Derived constructors call it last: a constructor that throws
  /// must not leave the switch a dangling port. `accepted`: count and log a new peer.
  void attach(bool accepted);
  /// Closes the port once: stop_watching(), detach, count, log `reason` at `level`, retire.
  /// Safe from inside the port's own callbacks (it is destroyed at the end of the turn).
  void close_port(const std::string& reason, LogLevel level = LogLevel::info);
  /// The derived port stops its descriptor watchers (they die with it, later).
  virtual void stop_watching() = 0;
  bool closed() const { return closed_; }

  PortContext context_;
  const std::string description_;

 private:
  PortId id_ = 0;
  bool attached_ = false;
  bool closed_ = false;
};

}  // namespace usernet
