// usernet-forwarder: the guest agent. Opens (or attaches to) a TAP device, connects to
// usernetd (or gvproxy) over vsock or a unix socket, sends gvforwarder's
// `POST /connect`, and relays frames both ways with the 2-byte little-endian framing.
// Reconnects every second while the host is away. Without -preexisting it sets the MAC,
// brings the link up and runs the guest's DHCP client, as gvforwarder does.
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "netstack/base/ethernet.hpp"
#include "vsock/forwarder/forwarder_options.hpp"
#include "vsock/transport/socket_address.hpp"
#include "vsock/transport/tap_device.hpp"
#include "vsock/forwarder/tap_stream_relay.hpp"
#include "netstack/base/log.hpp"
#include "vsock/transport/transport_url.hpp"

extern char** environ;

namespace {

using namespace usernet;

volatile std::sig_atomic_t g_stop_signal = 0;

// SIGINT/SIGTERM end the forwarder after the current session.
void on_stop_signal(int signal_number) { g_stop_signal = signal_number; }

// A DHCP client child process (udhcpc or dhclient), stopped when the session ends.
class DhcpClient {
 public:
  // Starts udhcpc if present (busybox), else dhclient; the same commands as gvforwarder.
  explicit DhcpClient(const std::string& iface) {
    std::vector<std::vector<std::string>> candidates = {{"udhcpc", "-f", "-q", "-i", iface, "-v"},
                                                        {"dhclient", "-4", "-d", "-v", iface}};
    for (const auto& argv : candidates) {
      std::vector<char*> raw;
      for (const auto& a : argv) raw.push_back(const_cast<char*>(a.c_str()));
      raw.push_back(nullptr);
      if (posix_spawnp(&pid_, raw[0], nullptr, nullptr, raw.data(), environ) == 0) {
        log_message(LogLevel::info, "started DHCP client " + argv[0] + " on " + iface);
        name_ = argv[0];
        return;
      }
      pid_ = -1;
    }
    log_message(LogLevel::warn, "no DHCP client (udhcpc, dhclient) found; configure " + iface + " yourself");
  }
  ~DhcpClient() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  DhcpClient(const DhcpClient&) = delete;
  DhcpClient& operator=(const DhcpClient&) = delete;

  // An error once the client exited non-zero; success while it runs or after it succeeded.
  Status status() {
    if (pid_ <= 0) return {};
    int wait_status = 0;
    if (waitpid(pid_, &wait_status, WNOHANG) != pid_) return {};
    pid_ = -1;
    if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) return {};
    return Error{"dhcp error: " + name_ + " exited with status " +
                 std::to_string(WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status))};
  }

 private:
  pid_t pid_ = -1;
  std::string name_;
};

// Logs one frame in -debug mode: direction, size, addresses, EtherType.
void trace_frame(std::string_view source, const std::uint8_t* data, std::size_t size) {
  const ByteSpan frame(data, size);
  if (size < kEthernetHeaderSize) return;
  char type[8];
  std::snprintf(type, sizeof type, "%04x", frame_ethertype(frame));
  log_message(LogLevel::debug, std::string(source) + " frame " + std::to_string(size) + " bytes " +
                                     format_mac(frame_source(frame)) + " -> " +
                                     format_mac(frame_destination(frame)) + " type 0x" + type);
}

// One connection: dial, POST, open the TAP, relay until something fails.
std::string run_session(const ForwarderOptions& options, const TransportUrl& url) {
  log_message(LogLevel::info, "dialing " + options.url);
  const int stream = connect_stream(url);
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{stream};
  // vsock URLs carry the request path (gvforwarder sends none without one); unix URLs
  // always ask for /connect.
  const std::string path = url.scheme == UrlScheme::vsock ? url.http_path : "/connect";
  if (!path.empty()) {
    const std::string request = connect_request(path);
    if (send(stream, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size()))
      return "cannot send the connect request: " + errno_text(errno);
  }
  set_nonblocking(stream);
  enlarge_socket_buffers(stream, kRelaySocketBuffer);

  TapConfig config;
  if (!options.preexisting) {
    if (!options.mac.empty()) config.mac = parse_mac(options.mac);
    config.up = true;
  }
  log_message(LogLevel::info, "opening TAP " + options.iface);
  TapDevice tap = TapDevice::open(options.iface, config);

  std::optional<DhcpClient> dhcp;
  if (!options.preexisting) dhcp.emplace(options.iface);
  RelayCounters counters;
  RelayHooks hooks;
  hooks.check = [&]() -> Status {
    if (g_stop_signal) return Error{"stopping on signal " + std::to_string(g_stop_signal)};
    if (dhcp) return dhcp->status();
    return {};
  };
  if (options.debug) hooks.trace = trace_frame;
  log_message(LogLevel::info, "relaying frames between " + options.iface + " and the host");
  return relay_tap_and_stream(tap.fd(), stream, counters, hooks);
}

// True (after logging) if an interface named in -stop-if-exist is present.
bool blocked_by_existing_interface(const ForwarderOptions& options) {
  for (const auto& name : options.stop_if_exist) {
    if (interface_exists(name)) {
      log_message(LogLevel::info, "interface " + name + " prevented this program to run");
      return true;
    }
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  ForwarderOptions options;
  try {
    options = parse_forwarder_options(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "usernet-forwarder: %s\n%s", e.what(), forwarder_usage().c_str());
    return 2;
  }
  if (options.help) {
    std::fputs(forwarder_usage().c_str(), stdout);
    return 0;
  }
  if (options.version) {
    std::printf("usernet-forwarder version %s\n", USERNET_VERSION);
    return 0;
  }
  set_log_threshold(options.debug ? LogLevel::debug : LogLevel::info);
  if (blocked_by_existing_interface(options)) return 0;

  const TransportUrl url = parse_transport_url(options.url);
  if (url.scheme != UrlScheme::vsock && url.scheme != UrlScheme::unix_stream) {
    std::fprintf(stderr, "usernet-forwarder: -url must be vsock:// or unix://, not %s\n", options.url.c_str());
    return 2;
  }
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  while (!g_stop_signal) {
    try {
      log_message(LogLevel::info, "session ended: " + run_session(options, url));
    } catch (const std::exception& e) {
      log_message(LogLevel::error, e.what());
    }
    if (!g_stop_signal) sleep(1);
  }
  return 0;
}
