// The composition root of usernetd and of usernet-vm's in-process network: builds the
// virtual network and every part wired to it from the parsed DaemonOptions, runs the loop
// until a signal, and tears everything down in one fixed order (the members' declaration
// order, reversed).
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "netstack/daemon/daemon_options.hpp"

namespace usernet {

class ApiGuestListener;
class ApiRoutes;
class GatewayDhcp;
class GatewayDns;
class MemoryTrimmer;
class NotificationSender;
class PortForwarder;
class ResolvConfWatcher;
class PollWatcher;
class SignalWatcher;
class Slirp4netnsApiServer;
class SshForward;
class TapDevice;
class TapPort;
class Transports;
class VirtualNetwork;

/// Which parts a program wants from the daemon.
enum class DaemonRole {
  /// usernetd: the network and its services, port and SSH forwards, the capture, the TAP,
  /// every listener with the HTTP API, the in-guest API, gvproxy's notifications, the pid
  /// file, the sandbox and the signals.
  standalone,
  /// usernet-vm: the network, DHCP, DNS and --forward port forwards; no listeners. The
  /// launcher attaches the VM's NICs in process and handles the signals itself.
  embedded,
};

class Daemon {
 public:
  /// Builds every part the role wants; throws std::runtime_error with a one-line message
  /// on bad settings (gvproxy's hypervisor_error notification has then been sent).
  Daemon(uv_loop_t* loop, const DaemonOptions& options, DaemonRole role);
  /// Parts go in reverse declaration order; their libuv handles close on the next loop
  /// run, which the caller owes before closing the loop.
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  /// standalone: writes the pid file, sandboxes the process, starts the SSH forwards,
  /// reports ready and runs the loop until SIGINT or SIGTERM. Returns the exit status
  /// (1: the sandbox could not be applied).
  int run();

  /// Attaches a connected socket as a switch port (takes the fd), framed as QEMU's stream
  /// netdev (4-byte big-endian length) or one frame per datagram.
  void attach_stream_port(int fd, const std::string& description);
  void attach_datagram_port(int fd, const std::string& description);

 private:
  struct Capture;
  struct PidFile;

  void build();
  void add_default_ssh_forward();
  void open_capture();
  void create_tap();
  void open_tap();
  void serve_api();
  void serve_slirp4netns_api();
  void report_port_events();
  void watch_exit_fd();
  void report_ready_fd();

  uv_loop_t* loop_;
  DaemonOptions options_;
  DaemonRole role_;

  // Declared in teardown order, last to go first:
  /// Removes the pid file after everything else has gone (written by run()).
  std::unique_ptr<PidFile> pid_file_;
  /// Outlives every part: a failed construction and port events are reported through it.
  std::unique_ptr<NotificationSender> notifications_;
  /// The switch, gateway and NAT every other part attaches to: goes last.
  std::unique_ptr<VirtualNetwork> network_;
  std::unique_ptr<GatewayDhcp> dhcp_;
  std::unique_ptr<GatewayIpv6> ipv6_;
  std::unique_ptr<GatewayDns> dns_;
  /// Feeds DNS and DHCP from /etc/resolv.conf, so it goes before them.
  std::unique_ptr<ResolvConfWatcher> host_resolver_;
  /// The TAP made (or found) at the start of build(), until open_tap() makes it a port.
  std::unique_ptr<TapDevice> tap_device_;
  std::unique_ptr<TapPort> tap_;
  /// Host listeners of the port forwards; the SSH forwards and the API use it.
  std::unique_ptr<PortForwarder> forwarder_;
  /// Opens and closes forwards on the forwarder: goes before it.
  std::unique_ptr<Slirp4netnsApiServer> slirp4netns_api_;
  /// Observes the switch; stops observing (and flushes) before the forwarder goes.
  std::unique_ptr<Capture> capture_;
  /// The HTTP routes: read the services above and the transports' counters below, and
  /// serve the transports' and the guest API's connections, so they outlive both.
  std::unique_ptr<ApiRoutes> api_;
  /// Their worker threads dial through the forwarder: they stop before the API and it.
  std::vector<std::unique_ptr<SshForward>> ssh_forwards_;
  /// Ports of the switch (listeners and the VM's NICs): they go before the services, so
  /// no frame from a guest arrives while those are torn down.
  std::unique_ptr<Transports> transports_;
  /// Hands its connections to the transports: goes before them.
  std::unique_ptr<ApiGuestListener> guest_api_;
  std::unique_ptr<MemoryTrimmer> trimmer_;
  /// They only stop the loop; nothing depends on them.
  std::unique_ptr<SignalWatcher> sigint_, sigterm_;
  std::unique_ptr<PollWatcher> exit_watch_;
};

}  // namespace usernet
