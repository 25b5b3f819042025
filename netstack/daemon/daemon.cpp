#include "netstack/daemon/daemon.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <stdexcept>

#include "netstack/api/api_guest_listener.hpp"
#include "netstack/api/api_routes.hpp"
#include "netstack/api/slirp4netns_api_server.hpp"
#include "netstack/base/memory_trimmer.hpp"
#include "netstack/base/uv_handles.hpp"
#include "netstack/daemon/notification_sender.hpp"
#include "netstack/daemon/pcap_writer.hpp"
#include "netstack/daemon/sandbox.hpp"
#include "netstack/services/gateway_dhcp.hpp"
#include "netstack/services/gateway_dns.hpp"
#include "netstack/services/host_resolver_follower.hpp"
#include "netstack/services/port_forwarder.hpp"
#include "netstack/services/virtual_network.hpp"
#include "netstack/ssh/ssh_forward.hpp"
#include "vsock/transport/tap_in_namespace.hpp"
#include "vsock/transport/tap_port.hpp"
#include "vsock/transport/transports.hpp"

namespace usernet {

namespace {

constexpr std::uint32_t kPcapSnapLength = 262144;
constexpr std::uint64_t kPcapFlushMs = 1000;

TransportOptions transport_options(const DaemonOptions& options, DaemonRole role) {
  TransportOptions t;
  t.max_frame = options.network.max_frame();
  if (role == DaemonRole::embedded) return t;  // the launcher attaches its NICs itself
  t.listen = options.listen;
  t.listen_qemu = options.listen_qemu;
  t.listen_vfkit = options.listen_vfkit;
  t.listen_bess = options.listen_bess;
  t.listen_stdio = options.listen_stdio;
  t.services = options.services;
  return t;
}

TapConfig guest_tap_config(const DaemonOptions& options) {
  const auto& n = options.network;
  TapConfig config;
  config.tx_queue_length = 5000;  // the guest's burst queue towards us
  if (options.configure) {
    config.mac = n.first_guest_mac;
    config.mtu = n.mtu;
    config.up = true;
    config.ipv4 = n.first_guest_ip;
    config.prefix_length = n.subnet.prefix_length;
    config.default_route = n.router();
    config.loopback_up = true;  // a fresh namespace's lo is down; slirp4netns -c brings it up
  }
  return config;
}

/// Counters of the transports and the capture, for /stats and /metrics.
void add_transport_stats(StatsSnapshot& s, const Transports& transports, const PcapWriter* pcap) {
  const auto& c = transports.counters();
  s.add("usernet_transport_peers", "Connected transport peers and HTTP clients", MetricType::gauge,
        transports.peer_count());
  s.add("usernet_transport_peers_total", "Peers accepted by the transports", MetricType::counter, c.peers_accepted);
  s.add("usernet_transport_drops_total", "Frames or peers dropped by the transports, by reason", MetricType::counter,
        c.protocol_errors, {{"reason", "protocol_error"}});
  s.add("usernet_transport_drops_total", "", MetricType::counter, c.oversize_datagrams, {{"reason", "oversize"}});
  s.add("usernet_transport_drops_total", "", MetricType::counter, c.queue_full_drops, {{"reason", "queue_full"}});
  s.add("usernet_api_requests_total", "HTTP API requests, by outcome", MetricType::counter, c.http_requests,
        {{"outcome", "handled"}});
  s.add("usernet_api_requests_total", "", MetricType::counter, c.http_errors, {{"outcome", "malformed"}});
  if (pcap != nullptr) {
    s.add("usernet_pcap_frames_total", "Frames written to the --pcap file", MetricType::counter, pcap->counters().frames);
    s.add("usernet_pcap_errors_total", "Write failures of the --pcap file", MetricType::counter, pcap->counters().errors);
  }
}

void add_guest_api_stats(StatsSnapshot& s, const ApiGuestListener& guest_api) {
  const auto& refused = guest_api.refusals();
  s.add("usernet_api_guest_connections", "Guest connections to the API on the gateway's port 80 open now",
        MetricType::gauge, guest_api.active());
  s.add("usernet_api_guest_refused_total", "Guest API connections reset at accept, by reason", MetricType::counter,
        refused.guest_limit, {{"reason", "guest_limit"}});
  s.add("usernet_api_guest_refused_total", "", MetricType::counter, refused.total_limit, {{"reason", "total_limit"}});
  s.add("usernet_api_guest_refused_total", "", MetricType::counter, refused.no_fds, {{"reason", "no_fds"}});
}

}  // namespace

/// --pcap: the writer, observing the switch, flushed once a second; stops observing first.
struct Daemon::Capture {
  Capture(uv_loop_t* loop, Switch& sw, std::unique_ptr<PcapWriter> pcap)
      : network_switch(sw), writer(std::move(pcap)), flusher(loop, [w = writer.get()] { w->flush(); }) {
    network_switch.set_observer([w = writer.get()](ByteSpan frame) { w->write(frame, pcap_now_us()); });
    flusher.start(kPcapFlushMs, kPcapFlushMs);
    flusher.unref();
  }
  ~Capture() { network_switch.set_observer(nullptr); }
  Switch& network_switch;
  std::unique_ptr<PcapWriter> writer;  // flushes and closes the file when it goes
  Timer flusher;
};

/// --pid-file: written once everything is open, removed when the daemon goes.
struct Daemon::PidFile {
  explicit PidFile(std::string file) : path(std::move(file)) { std::ofstream(path) << ::getpid() << "\n"; }
  ~PidFile() { std::remove(path.c_str()); }
  std::string path;
};

Daemon::Daemon(uv_loop_t* loop, const DaemonOptions& options, DaemonRole role)
    : loop_(loop), options_(options), role_(role) {
  notifications_ = std::make_unique<NotificationSender>(role == DaemonRole::standalone ? options.notification : "");
  try {
    build();
  } catch (const std::exception&) {
    notifications_->send(NotificationType::hypervisor_error);
    throw;
  }
}

Daemon::~Daemon() {
  // No port events while shutting down: detaching ports then is not a VM leaving.
  if (network_) network_->network_switch().set_port_event_observer(nullptr);
}

void Daemon::build() {
  if (role_ == DaemonRole::standalone) create_tap();  // first: the first guest's MAC may come from it
  network_ = std::make_unique<VirtualNetwork>(loop_, options_.network);
  if (options_.dhcp.enabled) {
    auto dhcp_options = options_.dhcp;
    if (options_.search_from_host) dhcp_options.search_domains = host_search_domains();
    dhcp_ = std::make_unique<GatewayDhcp>(*network_, make_dhcp_config(options_.network, dhcp_options));
  }
  if (!options_.ipv6.enabled && !options_.ipv6.off_reason.empty())
    spdlog::info("usernet: IPv6 off: {}", options_.ipv6.off_reason);
  if (options_.ipv6.enabled) {
    auto ipv6_options = options_.ipv6;
    ipv6_options.search_domains = options_.search_from_host ? host_search_domains() : options_.dhcp.search_domains;
    ipv6_ = std::make_unique<GatewayIpv6>(*network_, ipv6_options);
  }
  if (options_.dns.enabled) dns_ = std::make_unique<GatewayDns>(*network_, options_.dns);
  host_resolver_ = follow_host_resolver(loop_, options_.dns.resolv_conf,
                                        options_.dns.upstream.empty() ? dns_.get() : nullptr,
                                        options_.search_from_host ? dhcp_.get() : nullptr);
  forwarder_ = std::make_unique<PortForwarder>(*network_, options_.ipv6.enabled ? GuestIpv6::on : GuestIpv6::off);
  for (const auto& spec : options_.forwards)
    if (const Status added = forwarder_->add(spec); !added) throw std::runtime_error("--forward: " + added.error());
  if (role_ == DaemonRole::standalone) {
    for (const auto& spec : options_.ssh_forwards)
      ssh_forwards_.push_back(std::make_unique<SshForward>(loop_, *forwarder_, spec));
    add_default_ssh_forward();
    open_capture();
    open_tap();
  }
  transports_ = std::make_unique<Transports>(loop_, network_->network_switch(), network_->end_of_turn(),
                                             transport_options(options_, role_));
  if (role_ == DaemonRole::embedded) {
    spdlog::info("usernet: gateway {} subnet {} mtu {}", format_ipv4(options_.network.gateway_ip),
                 options_.network.subnet.to_string(), options_.network.mtu);
    return;
  }
  serve_api();
  serve_slirp4netns_api();
  trimmer_ = std::make_unique<MemoryTrimmer>(loop_);
  report_port_events();
}

/// gvproxy's default SSH forward: 127.0.0.1:PORT -> first guest :22. A failure is fatal
/// only when the port was asked for explicitly.
void Daemon::add_default_ssh_forward() {
  if (options_.ssh_port < 0) return;
  ForwardSpec spec;
  spec.local_ip = IpAddress::from_v4(make_ipv4(127, 0, 0, 1));
  spec.local_port = static_cast<std::uint16_t>(options_.ssh_port);
  spec.remote_ip = IpAddress::from_v4(options_.network.first_guest_ip);
  spec.remote_port = 22;
  for (const auto& existing : options_.forwards)
    if (existing.protocol == spec.protocol && existing.local() == spec.local()) return;  // --forward wins
  if (const Status added = forwarder_->add(spec); !added) {
    if (options_.ssh_port_given) throw std::runtime_error("--ssh-port: " + added.error());
    spdlog::warn("default SSH forward not available: {}", added.error());
  }
}

void Daemon::open_capture() {
  if (options_.pcap.empty()) return;
  auto writer = PcapWriter::open(options_.pcap, kPcapSnapLength);
  if (!writer) throw std::runtime_error(writer.error());
  capture_ = std::make_unique<Capture>(loop_, network_->network_switch(), std::move(*writer));
  spdlog::info("capturing frames to {}", options_.pcap);
}

/// Creates (or attaches to) the TAP before anything else runs: another namespace takes a
/// child process (tap_in_namespace.hpp says why), best forked while nothing else is open.
/// With --guest-mac=tap (a TAP its owner configured: RootlessKit) the first guest's DHCP
/// lease, and so the switch's address check, follow the TAP's own MAC.
void Daemon::create_tap() {
  if (options_.tap.empty()) return;
  tap_device_ = std::make_unique<TapDevice>(
      options_.netns.empty()
          ? TapDevice::open(options_.tap, guest_tap_config(options_))
          : open_tap_in_namespace(options_.tap, options_.netns, options_.userns, guest_tap_config(options_)));
  if (options_.guest_mac_from_tap) options_.network.first_guest_mac = tap_device_->mac();
}

void Daemon::open_tap() {
  if (!tap_device_) return;
  tap_ = std::make_unique<TapPort>(loop_, network_->network_switch(), std::move(*tap_device_));
  tap_device_.reset();
  spdlog::info("serving TAP {}{}{}", options_.tap, options_.netns.empty() ? "" : " in " + options_.netns,
               options_.userns.empty() ? "" : " (user namespace " + options_.userns + ")");
}

/// The HTTP API on the transports' endpoints and, for the guests, on the gateway's port 80.
void Daemon::serve_api() {
  const ExposeRules expose{
      options_.gvproxy_api ? LocalAddressMeaning::gvproxy : LocalAddressMeaning::loopback_default,
      options_.guest_expose};
  ApiServices services{{network_.get(), forwarder_.get(), dhcp_.get(), dns_.get(), {}, ipv6_.get()}, expose,
                       options_.gvproxy_api};
  services.services.extra = [this](StatsSnapshot& s) {
    add_transport_stats(s, *transports_, capture_ ? capture_->writer.get() : nullptr);
    if (guest_api_) add_guest_api_stats(s, *guest_api_);
  };
  api_ = std::make_unique<ApiRoutes>(std::move(services));
  transports_->set_http_handler(
      [routes = api_.get()](const HttpRequest& request) { return routes->handle(request, ApiCaller{}); });
  auto serve_guest = [transports = transports_.get(), routes = api_.get()](int fd, Ipv4 guest) {
    transports->serve_http(fd, "guest API " + format_ipv4(guest), [routes, guest](const HttpRequest& request) {
      return routes->handle(request, ApiCaller{true, guest});
    });
  };
  guest_api_ = std::make_unique<ApiGuestListener>(*network_, serve_guest);
}

/// --slirp4netns-api: slirp4netns's add/list/remove_hostfwd, on the port forwarder.
void Daemon::serve_slirp4netns_api() {
  if (options_.slirp4netns_api.empty()) return;
  HostForwardBackend backend{
      [forwarder = forwarder_.get()](const ForwardSpec& spec) { return forwarder->add(spec); },
      [forwarder = forwarder_.get()](const ForwardSpec& spec) { forwarder->remove(spec.protocol, spec.local()); }};
  auto server = Slirp4netnsApiServer::listen(
      loop_, options_.slirp4netns_api,
      std::make_unique<Slirp4netnsApi>(std::move(backend), options_.network.first_guest_ip));
  if (!server) throw std::runtime_error("--slirp4netns-api: " + server.error());
  slirp4netns_api_ = std::move(*server);
}

/// Every port but the gateway's is a VM (or a TAP peer); gvproxy reports those.
void Daemon::report_port_events() {
  if (!notifications_->enabled()) return;
  network_->network_switch().set_port_event_observer(
      [notifications = notifications_.get(), gateway = options_.network.gateway_mac](
          PortId, const MacAddress& mac, bool up) {
        if (mac == gateway) return;
        notifications->send(up ? NotificationType::connection_established : NotificationType::connection_closed,
                            mac);
      });
}

int Daemon::run() {
  if (!options_.pid_file.empty()) pid_file_ = std::make_unique<PidFile>(options_.pid_file);
  // Everything is open: drop what the loop does not need, before any thread starts.
  if (const Status sandboxed = apply_sandbox(plan_sandbox(options_)); !sandboxed) {
    spdlog::critical("cannot sandbox usernetd: {}", sandboxed.error());
    notifications_->send(NotificationType::hypervisor_error);
    return 1;
  }
  for (auto& ssh_forward : ssh_forwards_) ssh_forward->start();
  auto stop = [loop = loop_](int signum) {
    spdlog::info("signal {}: shutting down", signum);
    uv_stop(loop);
  };
  sigint_ = std::make_unique<SignalWatcher>(loop_, SIGINT, [stop] { stop(SIGINT); });
  sigterm_ = std::make_unique<SignalWatcher>(loop_, SIGTERM, [stop] { stop(SIGTERM); });
  watch_exit_fd();
  spdlog::info("usernetd {} ready: gateway {} subnet {} mtu {}", USERNET_VERSION,
               format_ipv4(options_.network.gateway_ip), options_.network.subnet.to_string(), options_.network.mtu);
  notifications_->send(NotificationType::ready);
  report_ready_fd();
  uv_run(loop_, UV_RUN_DEFAULT);
  return 0;
}

/// --exit-fd: the caller (podman) stops us by writing to or closing its end.
void Daemon::watch_exit_fd() {
  if (options_.exit_fd < 0) return;
  exit_watch_ = std::make_unique<PollWatcher>(loop_, options_.exit_fd, [loop = loop_](int, int) {
    spdlog::info("exit descriptor readable: shutting down");
    uv_stop(loop);
  });
  exit_watch_->watch(UV_READABLE | UV_DISCONNECT);
}

/// --ready-fd: "1" once every part is up (slirp4netns's protocol), then our end closes.
void Daemon::report_ready_fd() {
  if (options_.ready_fd < 0) return;
  ssize_t written = 0;
  do {
    written = ::write(options_.ready_fd, "1", 1);
  } while (written < 0 && errno == EINTR);
  if (written != 1) spdlog::warn("cannot write to the ready descriptor {}: {}", options_.ready_fd, std::strerror(errno));
  ::close(options_.ready_fd);
}

void Daemon::attach_stream_port(int fd, const std::string& description) {
  transports_->attach_stream(fd, description);
}

void Daemon::attach_datagram_port(int fd, const std::string& description) {
  transports_->attach_datagram(fd, description);
}

}  // namespace usernet
