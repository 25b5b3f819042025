// usernetd: the host daemon. Parses options, builds the virtual network and its ports,
// runs the loop until SIGINT/SIGTERM.
#include <spdlog/spdlog.h>
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <unistd.h>

#include "netstack/api/api_guest_listener.hpp"
#include "netstack/daemon/notification_sender.hpp"
#include "netstack/api/api_routes.hpp"
#include "netstack/daemon/daemon_options.hpp"
#include "netstack/base/fd_budget.hpp"
#include "netstack/base/log_setup.hpp"
#include "netstack/services/gateway_dhcp.hpp"
#include "netstack/services/gateway_dns.hpp"
#include "netstack/services/host_resolver_follower.hpp"
#include "netstack/daemon/gvproxy_compat.hpp"
#include "netstack/base/memory_trimmer.hpp"
#include "netstack/daemon/pcap_writer.hpp"
#include "netstack/services/port_forwarder.hpp"
#include "netstack/daemon/sandbox.hpp"
#include "netstack/ssh/ssh_forward.hpp"
#include "netstack/services/virtual_network.hpp"
#include "vsock/transport/tap_port.hpp"
#include "vsock/transport/transports.hpp"

namespace {

usernet::TransportOptions transport_options(const usernet::DaemonOptions& options) {
  usernet::TransportOptions t;
  t.listen = options.listen;
  t.listen_qemu = options.listen_qemu;
  t.listen_vfkit = options.listen_vfkit;
  t.listen_bess = options.listen_bess;
  t.listen_stdio = options.listen_stdio;
  t.services = options.services;
  t.max_frame = options.network.max_frame();
  return t;
}

usernet::TapConfig guest_tap_config(const usernet::DaemonOptions& options) {
  const auto& n = options.network;
  usernet::TapConfig config;
  config.tx_queue_length = 5000;  // the guest's burst queue towards us
  if (options.configure) {
    config.mac = n.first_guest_mac;
    config.mtu = n.mtu;
    config.up = true;
    config.ipv4 = n.first_guest_ip;
    config.prefix_length = n.subnet.prefix_length;
    config.default_route = n.gateway_ip;
  }
  return config;
}

/// gvproxy's default SSH forward: 127.0.0.1:PORT -> first guest :22. A failure is fatal
/// only when the port was asked for explicitly.
void add_ssh_forward(const usernet::DaemonOptions& options, usernet::PortForwarder& forwarder) {
  if (options.ssh_port < 0) return;
  usernet::ForwardSpec spec;
  spec.local_ip = usernet::make_ipv4(127, 0, 0, 1);
  spec.local_port = static_cast<std::uint16_t>(options.ssh_port);
  spec.remote_ip = options.network.first_guest_ip;
  spec.remote_port = 22;
  for (const auto& existing : options.forwards)
    if (existing.protocol == spec.protocol && existing.local() == spec.local()) return;  // --forward wins
  if (auto error = forwarder.add(spec)) {
    if (options.ssh_port_given) throw std::runtime_error("--ssh-port: " + *error);
    spdlog::warn("default SSH forward not available: {}", *error);
  }
}

/// Counters of the transports and the capture, for /stats and /metrics.
void add_transport_stats(usernet::StatsSnapshot& s, const usernet::Transports& transports,
                         const usernet::PcapWriter* pcap) {
  using usernet::MetricType;
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

void add_guest_api_stats(usernet::StatsSnapshot& s, const usernet::ApiGuestListener& guest_api) {
  using usernet::MetricType;
  const auto& refused = guest_api.refusals();
  s.add("usernet_api_guest_connections", "Guest connections to the API on the gateway's port 80 open now",
        MetricType::gauge, guest_api.active());
  s.add("usernet_api_guest_refused_total", "Guest API connections reset at accept, by reason", MetricType::counter,
        refused.guest_limit, {{"reason", "guest_limit"}});
  s.add("usernet_api_guest_refused_total", "", MetricType::counter, refused.total_limit, {{"reason", "total_limit"}});
  s.add("usernet_api_guest_refused_total", "", MetricType::counter, refused.no_fds, {{"reason", "no_fds"}});
}

/// gvproxy's command line when started as `gvproxy`, else ours; argv without the program name.
std::vector<std::string> command_line(int argc, char** argv, int& exit_code, bool& as_gvproxy) {
  std::vector<std::string> args(argv + 1, argv + argc);
  exit_code = -1;
  as_gvproxy = argc >= 1 && usernet::invoked_as_gvproxy(argv[0]);
  if (!as_gvproxy) return args;
  auto translated = usernet::translate_gvproxy_command_line(args);
  using GvAction = usernet::GvproxyTranslation::Action;
  if (translated.action == GvAction::print_and_exit) {
    std::fputs(translated.message.c_str(), stdout);
    exit_code = 0;
  } else if (translated.action == GvAction::fail) {
    std::fprintf(stderr, "gvproxy: %s\n", translated.message.c_str());
    exit_code = translated.exit_code;
  }
  return translated.args;
}

}  // namespace

int main(int argc, char** argv) {
  int early_exit = -1;
  bool as_gvproxy = false;
  const auto args = command_line(argc, argv, early_exit, as_gvproxy);
  if (early_exit >= 0) return early_exit;
  std::vector<const char*> argv2{argc > 0 ? argv[0] : "usernetd"};
  for (const auto& arg : args) argv2.push_back(arg.c_str());
  auto parsed = usernet::parse_daemon_options(static_cast<int>(argv2.size()), argv2.data());
  using Action = usernet::ParsedDaemonOptions::Action;
  if (parsed.action == Action::print_and_exit) {
    std::fputs(parsed.message.c_str(), stdout);
    return 0;
  }
  if (parsed.action == Action::fail) {
    // gvproxy refuses a configuration it cannot use with log.Fatal: status 1.
    if (as_gvproxy) std::fprintf(stderr, "gvproxy: %s\n", parsed.message.c_str());
    else std::fprintf(stderr, "usernetd: %s (see --help)\n", parsed.message.c_str());
    return as_gvproxy ? 1 : 2;
  }
  const auto& options = parsed.options;
  // stdout carries frames with --listen-stdio.
  usernet::configure_logging({"usernetd", options.log_level, options.log_file, options.listen_stdio, false});
  usernet::raise_fd_limit("usernetd");  // before the NAT sizes its flow caps from it
  std::signal(SIGPIPE, SIG_IGN);  // a closed host socket must be an error code, not death

  uv_loop_t* loop = uv_default_loop();
  std::optional<usernet::VirtualNetwork> network;
  std::unique_ptr<usernet::TapPort> tap;
  std::unique_ptr<usernet::GatewayDhcp> dhcp;
  std::unique_ptr<usernet::GatewayDns> dns;
  std::unique_ptr<usernet::ResolvConfWatcher> host_resolver;
  std::unique_ptr<usernet::PortForwarder> forwarder;
  std::vector<std::unique_ptr<usernet::SshForward>> ssh_forwards;
  std::unique_ptr<usernet::PcapWriter> pcap;
  std::optional<usernet::Timer> pcap_flusher;
  std::unique_ptr<usernet::ApiRoutes> api;
  std::optional<usernet::Transports> transports;
  std::unique_ptr<usernet::ApiGuestListener> guest_api;
  std::optional<usernet::MemoryTrimmer> trimmer;
  usernet::NotificationSender notifications(options.notification);
  try {
    network.emplace(loop, options.network);
    if (options.dhcp.enabled) {
      auto dhcp_options = options.dhcp;
      if (options.search_from_host) dhcp_options.search_domains = usernet::host_search_domains();
      dhcp = std::make_unique<usernet::GatewayDhcp>(*network, usernet::make_dhcp_config(options.network, dhcp_options));
    }
    if (options.dns.enabled) dns = std::make_unique<usernet::GatewayDns>(*network, options.dns);
    host_resolver = usernet::follow_host_resolver(loop, options.dns.resolv_conf,
                                                  options.dns.upstream.empty() ? dns.get() : nullptr,
                                                  options.search_from_host ? dhcp.get() : nullptr);
    forwarder = std::make_unique<usernet::PortForwarder>(*network);
    for (const auto& spec : options.forwards)
      if (auto error = forwarder->add(spec)) throw std::runtime_error("--forward: " + *error);
    for (const auto& spec : options.ssh_forwards)
      ssh_forwards.push_back(std::make_unique<usernet::SshForward>(loop, *forwarder, spec));
    add_ssh_forward(options, *forwarder);
    if (!options.pcap.empty()) {
      std::string error;
      pcap = usernet::PcapWriter::open(options.pcap, 262144, error);
      if (!pcap) throw std::runtime_error(error);
      network->network_switch().set_observer(
          [writer = pcap.get()](usernet::ByteSpan frame) { writer->write(frame, usernet::pcap_now_us()); });
      pcap_flusher.emplace(loop, [writer = pcap.get()] { writer->flush(); });
      pcap_flusher->start(1000, 1000);
      pcap_flusher->unref();
      spdlog::info("capturing frames to {}", options.pcap);
    }
    if (!options.tap.empty()) {
      auto device = usernet::TapDevice::open(options.tap, options.netns, guest_tap_config(options));
      tap = std::make_unique<usernet::TapPort>(loop, network->network_switch(), std::move(device));
      spdlog::info("serving TAP {}{}", options.tap, options.netns.empty() ? "" : " in " + options.netns);
    }
    transports.emplace(loop, network->network_switch(), network->end_of_turn(), transport_options(options));
    const usernet::ExposeRules expose{
        options.gvproxy_api ? usernet::LocalAddressMeaning::gvproxy : usernet::LocalAddressMeaning::loopback_default,
        options.guest_expose};
    usernet::ApiServices services{{&*network, forwarder.get(), dhcp.get(), dns.get(), {}}, expose, options.gvproxy_api};
    services.services.extra = [&transports, &pcap, &guest_api](usernet::StatsSnapshot& s) {
      add_transport_stats(s, *transports, pcap.get());
      if (guest_api) add_guest_api_stats(s, *guest_api);
    };
    api = std::make_unique<usernet::ApiRoutes>(std::move(services));
    transports->set_http_handler([routes = api.get()](const usernet::HttpRequest& request) {
      return routes->handle(request, usernet::ApiCaller{});
    });
    auto serve_guest = [&transports, routes = api.get()](int fd, usernet::Ipv4 guest) {
      transports->serve_http(fd, "guest API " + usernet::format_ipv4(guest),
                             [routes, guest](const usernet::HttpRequest& request) {
                               return routes->handle(request, usernet::ApiCaller{true, guest});
                             });
    };
    guest_api = std::make_unique<usernet::ApiGuestListener>(*network, serve_guest);
    trimmer.emplace(loop);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    notifications.send(usernet::NotificationType::hypervisor_error);
    return 1;
  }
  if (notifications.enabled()) {
    // Every port but the gateway's is a VM (or a TAP peer); gvproxy reports those.
    network->network_switch().set_port_event_observer(
        [&notifications, gateway = options.network.gateway_mac](usernet::PortId, const usernet::MacAddress& mac,
                                                               bool up) {
          if (mac == gateway) return;
          notifications.send(up ? usernet::NotificationType::connection_established
                                : usernet::NotificationType::connection_closed,
                             mac);
        });
  }
  if (!options.pid_file.empty()) {
    std::ofstream(options.pid_file) << getpid() << "\n";
  }
  // Everything is open: drop what the loop does not need, before any thread starts.
  if (auto error = usernet::apply_sandbox(usernet::plan_sandbox(options)); !error.empty()) {
    spdlog::critical("cannot sandbox usernetd: {}", error);
    notifications.send(usernet::NotificationType::hypervisor_error);
    return 1;
  }
  for (auto& ssh_forward : ssh_forwards) ssh_forward->start();

  uv_signal_t sigint, sigterm;
  auto stop = [](uv_signal_t* handle, int signum) {
    spdlog::info("signal {}: shutting down", signum);
    uv_stop(handle->loop);
  };
  uv_signal_init(loop, &sigint);
  uv_signal_init(loop, &sigterm);
  uv_signal_start(&sigint, stop, SIGINT);
  uv_signal_start(&sigterm, stop, SIGTERM);

  spdlog::info("usernetd {} ready: gateway {} subnet {} mtu {}", USERNET_VERSION,
               usernet::format_ipv4(options.network.gateway_ip), options.network.subnet.to_string(),
               options.network.mtu);
  notifications.send(usernet::NotificationType::ready);
  uv_run(loop, UV_RUN_DEFAULT);

  // No port events while shutting down: detaching ports then is not a VM leaving.
  network->network_switch().set_port_event_observer(nullptr);
  // Tear down in reverse order, then let libuv run the close callbacks.
  trimmer.reset();
  guest_api.reset();
  transports.reset();
  ssh_forwards.clear();
  api.reset();
  if (pcap) network->network_switch().set_observer(nullptr);
  pcap_flusher.reset();
  pcap.reset();  // flushes and closes the capture
  forwarder.reset();
  tap.reset();
  dns.reset();
  dhcp.reset();
  network.reset();
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigterm), nullptr);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  if (!options.pid_file.empty()) std::remove(options.pid_file.c_str());
  return 0;
}
