// usernetd: the host daemon. Parses options, builds the virtual network and its ports,
// runs the loop until SIGINT/SIGTERM.
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <unistd.h>

#include "netstack/daemon_options.hpp"
#include "netstack/gateway_dhcp.hpp"
#include "netstack/gateway_dns.hpp"
#include "netstack/memory_trimmer.hpp"
#include "netstack/port_forwarder.hpp"
#include "netstack/virtual_network.hpp"
#include "vsock/tap_port.hpp"
#include "vsock/transport_log.hpp"
#include "vsock/transports.hpp"

namespace {

void setup_logging(const usernet::DaemonOptions& options) {
  if (!options.log_file.empty())
    spdlog::set_default_logger(spdlog::basic_logger_mt("usernetd", options.log_file));
  else if (options.listen_stdio)  // stdout carries frames
    spdlog::set_default_logger(spdlog::stderr_color_mt("usernetd"));
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  // The transports log through their own sink (vsock/ stays free of spdlog).
  usernet::set_transport_log_sink([](usernet::LogLevel level, const std::string& message) {
    static constexpr spdlog::level::level_enum kLevels[] = {spdlog::level::debug, spdlog::level::info,
                                                            spdlog::level::warn, spdlog::level::err};
    spdlog::log(kLevels[static_cast<int>(level)], "{}", message);
  });
}

usernet::TransportOptions transport_options(const usernet::DaemonOptions& options) {
  usernet::TransportOptions t;
  t.listen = options.listen;
  t.listen_qemu = options.listen_qemu;
  t.listen_vfkit = options.listen_vfkit;
  t.listen_bess = options.listen_bess;
  t.listen_stdio = options.listen_stdio;
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

/// The search domains of the host's resolver (what guests should search too).
std::vector<std::string> host_search_domains() {
  std::ifstream file("/etc/resolv.conf");
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  return usernet::search_domains_from_resolv_conf(text);
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = usernet::parse_daemon_options(argc, argv);
  using Action = usernet::ParsedDaemonOptions::Action;
  if (parsed.action == Action::print_and_exit) {
    std::fputs(parsed.message.c_str(), stdout);
    return 0;
  }
  if (parsed.action == Action::fail) {
    std::fprintf(stderr, "usernetd: %s (see --help)\n", parsed.message.c_str());
    return 2;
  }
  const auto& options = parsed.options;
  setup_logging(options);
  std::signal(SIGPIPE, SIG_IGN);  // a closed host socket must be an error code, not death

  uv_loop_t* loop = uv_default_loop();
  std::optional<usernet::VirtualNetwork> network;
  std::unique_ptr<usernet::TapPort> tap;
  std::unique_ptr<usernet::GatewayDhcp> dhcp;
  std::unique_ptr<usernet::GatewayDns> dns;
  std::unique_ptr<usernet::PortForwarder> forwarder;
  std::optional<usernet::Transports> transports;
  std::optional<usernet::MemoryTrimmer> trimmer;
  try {
    network.emplace(loop, options.network);
    if (options.dhcp.enabled) {
      auto dhcp_options = options.dhcp;
      if (options.search_from_host) dhcp_options.search_domains = host_search_domains();
      dhcp = std::make_unique<usernet::GatewayDhcp>(*network, usernet::make_dhcp_config(options.network, dhcp_options));
    }
    if (options.dns.enabled) dns = std::make_unique<usernet::GatewayDns>(*network, options.dns);
    forwarder = std::make_unique<usernet::PortForwarder>(*network);
    for (const auto& spec : options.forwards)
      if (auto error = forwarder->add(spec)) throw std::runtime_error("--forward: " + *error);
    if (!options.tap.empty()) {
      auto device = usernet::TapDevice::open(options.tap, options.netns, guest_tap_config(options));
      tap = std::make_unique<usernet::TapPort>(loop, network->network_switch(), std::move(device));
      spdlog::info("serving TAP {}{}", options.tap, options.netns.empty() ? "" : " in " + options.netns);
    }
    transports.emplace(loop, network->network_switch(), network->end_of_turn(), transport_options(options));
    trimmer.emplace(loop);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  if (!options.pid_file.empty()) {
    std::ofstream(options.pid_file) << getpid() << "\n";
  }

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
  uv_run(loop, UV_RUN_DEFAULT);

  // Tear down in reverse order, then let libuv run the close callbacks.
  trimmer.reset();
  transports.reset();
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
