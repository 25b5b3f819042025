#include "netstack/services/port_forwarder.hpp"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "netstack/base/accept_shedding.hpp"
#include "netstack/base/host_socket.hpp"
#include "netstack/lwip/lwip_packet_io.hpp"
#include "netstack/base/owner_only_bind.hpp"
#include "netstack/base/unix_address.hpp"
#include "netstack/base/uv_handles.hpp"

extern "C" {
#include "lwip/tcp.h"
}

#include "netstack/lwip/lwip_address.hpp"

namespace usernet {

namespace {
// Gateway-side UDP ports for forwarded datagrams: below lwIP's TCP ephemeral range.
constexpr std::uint16_t kUdpPortFirst = 30000;
constexpr std::uint16_t kUdpPortLast = 39999;
constexpr std::uint64_t kUdpIdleMs = 60000;

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

/// A socket of `type` bound to the forward's TCP/UDP address, or why not.
/// A forward on every address binds [::] dual-stack, or 0.0.0.0 where IPv6 is missing.
Result<int> bind_inet_socket(int type, const ForwardSpec& spec) {
  int fd = -1;
  int rc = -1;
  if (spec.local_all_families) {
    fd = ::socket(AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
      const int off = 0, one = 1;
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
      if (type == SOCK_STREAM) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in6 any{};
      any.sin6_family = AF_INET6;
      any.sin6_addr = in6addr_any;
      any.sin6_port = htons(spec.local_port);
      rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&any), sizeof any);
    } else if (errno != EAFNOSUPPORT) {
      return Error{errno_text("socket")};
    }
  }
  if (fd < 0) {  // one address, or the IPv4 wildcard on a host without IPv6
    const SocketAddress local = make_socket_address(spec.local_ip, spec.local_port);
    fd = ::socket(local.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return Error{errno_text("socket")};
    const int one = 1;
    if (type == SOCK_STREAM) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // "[::]:P" means IPv6 alone here; the all-families form is ":P".
    if (local.family() == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    rc = ::bind(fd, local.get(), local.length);
  }
  if (rc != 0) {
    Error failure{errno_text(spec.bound_address())};
    ::close(fd);
    return failure;
  }
  return fd;
}

/// A listening socket for a TCP or unix forward, or why not.
Result<int> open_stream_listener(const ForwardSpec& spec) {
  int fd;
  if (spec.protocol == ForwardProtocol::unix_socket) {
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return Error{errno_text("socket")};
    const auto sun = unix_address(spec.local_path);
    if (!sun) {
      ::close(fd);
      return Error{spec.local_path + ": path too long"};
    }
    if (bind_owner_only(fd, reinterpret_cast<const sockaddr*>(&*sun), sizeof *sun) != 0) {
      Error failure{errno_text(spec.local_path)};
      ::close(fd);
      return failure;
    }
  } else {
    const Result<int> bound = bind_inet_socket(SOCK_STREAM, spec);
    if (!bound) return bound;
    fd = *bound;
  }
  // The kernel's largest backlog (net.core.somaxconn), as Go's net package and so gvproxy
  // take: a burst of clients larger than a short queue overflows it, and with SYN cookies a
  // client whose handshake is dropped at a full queue waits for data that never comes.
  if (::listen(fd, SOMAXCONN) != 0) {
    Error failure{errno_text(spec.bound_address())};
    ::close(fd);
    return failure;
  }
  return fd;
}

}  // namespace

/// A host client waiting for its connection into the guest.
struct PortForwarder::Connecting {
  PortForwarder* owner;
  tcp_pcb* pcb;
  int fd;
  std::string label;
};

/// Accepts host connections (TCP or unix) and connects each into the guest.
class PortForwarder::StreamForward {
 public:
  StreamForward(PortForwarder& owner, ForwardSpec spec, int fd)
      : owner_(owner), spec_(std::move(spec)), socket_(owner.network_.loop(), fd, [this](int, int) { on_accept(); }) {
    socket_.watch(UV_READABLE);
  }
  ~StreamForward() {
    if (spec_.protocol == ForwardProtocol::unix_socket) ::unlink(spec_.local_path.c_str());
  }
  const ForwardSpec& spec() const { return spec_; }

 private:
  void on_accept() {
    for (int i = 0; i < 64; ++i) {
      const int client = accept_or_shed(socket_.fd(), SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (client < 0 && errno == ECONNABORTED) {  // shed: no descriptor left for it
        owner_.counters_.shed++;
        if (shedding_warning_due()) spdlog::warn("{}", shedding_warning("forward " + spec_.local()));
        continue;
      }
      if (client < 0) return;
      if (spec_.protocol == ForwardProtocol::tcp) tune_tcp_socket(client);
      owner_.counters_.accepted++;
      owner_.connect_into_guest(client, spec_.remote_ip, spec_.remote_port, spec_.local() + " -> " + spec_.remote());
    }
  }
  PortForwarder& owner_;
  ForwardSpec spec_;
  WatchedSocket socket_;
};

/// Relays datagrams of host clients to the guest; one gateway-side port per client.
class PortForwarder::DatagramForward {
 public:
  DatagramForward(PortForwarder& owner, ForwardSpec spec, int fd)
      : owner_(owner), spec_(std::move(spec)),
        socket_(owner.network_.loop(), fd, [this](int, int) { on_host_datagram(); }),
        sweeper_(owner.network_.loop(), [this] { expire(); }) {
    socket_.watch(UV_READABLE);
    start_idle_sweeper(sweeper_, kUdpIdleMs);
  }
  ~DatagramForward() {
    for (auto& [client, session] : sessions_) owner_.network_.services().remove_udp_service(session.gateway_port);
  }
  const ForwardSpec& spec() const { return spec_; }

 private:
  struct Session {
    sockaddr_storage client;
    socklen_t client_length;
    std::uint16_t gateway_port;
    std::uint64_t last_active;
  };
  /// A host client's address bytes (IPv4, or IPv6 on a dual-stack forward).
  using ClientKey = std::string;

  void on_host_datagram() {
    std::uint8_t buffer[65536];
    for (int i = 0; i < 64; ++i) {
      sockaddr_storage from{};
      socklen_t len = sizeof from;
      const ssize_t n = ::recvfrom(socket_.fd(), buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 0) return;
      const ClientKey key(reinterpret_cast<const char*>(&from), len);
      auto it = sessions_.find(key);
      if (it == sessions_.end()) {
        const std::uint16_t port = owner_.allocate_udp_port();
        if (port == 0) continue;
        it = sessions_.emplace(key, Session{from, len, port, 0}).first;
        owner_.network_.services().add_udp_service(port, [this, key](const UdpRequest& r) { on_guest_datagram(key, r); });
      }
      it->second.last_active = uv_now(owner_.network_.loop());
      if (send_udp_to_guest(owner_.network_.gateway().lwip_netif(), owner_.gateway_address_for(spec_.remote_ip),
                            it->second.gateway_port, spec_.remote_ip, spec_.remote_port,
                            ByteSpan(buffer, static_cast<std::size_t>(n))))
        owner_.counters_.udp_to_guest++;
    }
  }

  void on_guest_datagram(const ClientKey& key, const UdpRequest& request) {
    auto it = sessions_.find(key);
    if (it == sessions_.end() || request.source != spec_.remote_ip || request.source_port != spec_.remote_port)
      return;
    it->second.last_active = uv_now(owner_.network_.loop());
    const Session& session = it->second;
    if (::sendto(socket_.fd(), request.payload.data(), request.payload.size(), 0,
                 reinterpret_cast<const sockaddr*>(&session.client), session.client_length) >= 0)
      owner_.counters_.udp_to_host++;
  }

  void expire() {
    const std::uint64_t now = uv_now(owner_.network_.loop());
    std::erase_if(sessions_, [&](auto& item) {
      if (now - item.second.last_active < kUdpIdleMs) return false;
      owner_.network_.services().remove_udp_service(item.second.gateway_port);
      return true;
    });
  }

  PortForwarder& owner_;
  ForwardSpec spec_;
  WatchedSocket socket_;
  Timer sweeper_;
  std::map<ClientKey, Session> sessions_;
};

PortForwarder::PortForwarder(VirtualNetwork& network, GuestIpv6 guest_ipv6)
    : network_(network), guest_ipv6_(guest_ipv6), relays_(network.loop(), network.end_of_turn()) {}

IpAddress PortForwarder::gateway_address_for(const IpAddress& guest) const {
  return guest.is_v4() ? IpAddress::from_v4(network_.gateway().address())
                       : IpAddress::from_v6(network_.config().ipv6_gateway_ip);
}

PortForwarder::~PortForwarder() {
  for (Connecting* c : connecting_) {
    tcp_arg(c->pcb, nullptr);
    tcp_err(c->pcb, nullptr);
    tcp_abort(c->pcb);
    ::close(c->fd);
    delete c;
  }
}

Status PortForwarder::add(const ForwardSpec& spec) {
  const auto key = std::make_pair(spec.protocol, spec.local());
  if (streams_.contains(key) || datagrams_.contains(key)) return Error{spec.local() + ": already forwarded"};
  if (!spec.remote_ip.is_v4() && guest_ipv6_ == GuestIpv6::off)
    return Error{spec.remote() + ": the guest network has IPv6 off (--no-ipv6)"};
  if (spec.protocol == ForwardProtocol::udp) {
    const Result<int> fd = bind_inet_socket(SOCK_DGRAM, spec);
    if (!fd) return Error{fd.error()};
    datagrams_.emplace(key, std::make_unique<DatagramForward>(*this, spec, *fd));
  } else {
    const Result<int> fd = open_stream_listener(spec);
    if (!fd) return Error{fd.error()};
    streams_.emplace(key, std::make_unique<StreamForward>(*this, spec, *fd));
  }
  spdlog::info("forwarding {} {} -> {}", spec.protocol_name(), spec.bound_address(), spec.remote());
  return {};
}

bool PortForwarder::remove(ForwardProtocol protocol, const std::string& local) {
  const auto key = std::make_pair(protocol, local);
  return streams_.erase(key) + datagrams_.erase(key) > 0;
}

const ForwardSpec* PortForwarder::find(ForwardProtocol protocol, const std::string& local) const {
  const auto key = std::make_pair(protocol, local);
  if (auto it = streams_.find(key); it != streams_.end()) return &it->second->spec();
  if (auto it = datagrams_.find(key); it != datagrams_.end()) return &it->second->spec();
  return nullptr;
}

std::vector<ForwardSpec> PortForwarder::list() const {
  std::vector<ForwardSpec> out;
  for (const auto& [key, forward] : streams_) out.push_back(forward->spec());
  for (const auto& [key, forward] : datagrams_) out.push_back(forward->spec());
  // gvproxy's /all order: by local, then by protocol.
  std::sort(out.begin(), out.end(), [](const ForwardSpec& a, const ForwardSpec& b) {
    return std::make_pair(a.local(), a.protocol_name()) < std::make_pair(b.local(), b.protocol_name());
  });
  return out;
}

std::uint16_t PortForwarder::allocate_udp_port() {
  const unsigned span = kUdpPortLast - kUdpPortFirst + 1;
  for (unsigned i = 0; i < span; ++i) {
    const auto port = static_cast<std::uint16_t>(kUdpPortFirst + (next_udp_port_++ % span));
    if (!network_.services().has_udp_service(port)) return port;
  }
  return 0;
}

void PortForwarder::connect_into_guest(int client_fd, const IpAddress& remote_ip, std::uint16_t remote_port,
                                       std::string label) {
  if (!remote_ip.is_v4() && guest_ipv6_ == GuestIpv6::off) {
    close_with_reset(client_fd);
    return;
  }
  tcp_pcb* pcb = tcp_new_ip_type(remote_ip.is_v4() ? IPADDR_TYPE_V4 : IPADDR_TYPE_V6);
  const ip_addr_t local = to_lwip_address(gateway_address_for(remote_ip));
  const ip_addr_t remote = to_lwip_address(remote_ip);
  if (pcb == nullptr || tcp_bind(pcb, &local, 0) != ERR_OK) {
    if (pcb) tcp_abort(pcb);
    ::close(client_fd);
    return;
  }
  auto* c = new Connecting{this, pcb, client_fd, std::move(label)};
  connecting_.push_back(c);
  tcp_arg(pcb, c);
  tcp_err(pcb, [](void* arg, err_t) {
    // The guest refused or never answered; lwIP already freed the pcb.
    auto* failed = static_cast<Connecting*>(arg);
    failed->owner->counters_.guest_refused++;
    close_with_reset(failed->fd);
    std::erase(failed->owner->connecting_, failed);
    delete failed;
  });
  const err_t err = tcp_connect(pcb, &remote, remote_port, [](void* arg, tcp_pcb* connected, err_t) -> err_t {
    auto* done = static_cast<Connecting*>(arg);
    tcp_arg(connected, nullptr);
    tcp_err(connected, nullptr);
    std::erase(done->owner->connecting_, done);
    done->owner->relays_.add(connected, done->fd, done->label);
    delete done;
    return ERR_OK;
  });
  if (err != ERR_OK) {
    tcp_arg(pcb, nullptr);
    tcp_err(pcb, nullptr);
    tcp_abort(pcb);
    ::close(client_fd);
    std::erase(connecting_, c);
    delete c;
  }
}

}  // namespace usernet
