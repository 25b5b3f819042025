#include "netstack/nat/udp_nat.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "netstack/base/byte_order.hpp"
#include "netstack/base/host_socket.hpp"
#include "netstack/base/icmp.hpp"
#include "netstack/lwip/lwip_packet_io.hpp"

namespace usernet {

namespace {
constexpr unsigned kBatch = 16;             // datagrams per recvmmsg
constexpr std::size_t kDatagramMax = 65536;  // largest UDP payload over IPv4 fits
}  // namespace

struct UdpNat::Flow {
  FlowKey key;
  std::uint64_t last_active = 0;
  std::uint16_t last_length = 0;  // of the last guest datagram, to quote in ICMP errors
  FlowSlot slot;
  std::list<Flow*>::iterator in_guest_order;
  std::unique_ptr<WatchedSocket> socket;
};

UdpNat::UdpNat(uv_loop_t* loop, netif* gateway_netif, const AddressMap& addresses, FlowLimits& limits,
               std::uint64_t idle_timeout_ms)
    : loop_(loop), netif_(gateway_netif), addresses_(addresses), limits_(limits), idle_timeout_ms_(idle_timeout_ms),
      sweeper_(loop, [this] { expire_idle(); }) {
  start_idle_sweeper(sweeper_, idle_timeout_ms_);
}

UdpNat::~UdpNat() = default;

FlowSlot UdpNat::make_room(const IpAddress& guest) {
  FlowRefusal refusal = FlowRefusal::none;
  for (;;) {
    FlowSlot slot = limits_.acquire(FlowKind::udp, guest, true, refusal);
    if (slot) return slot;
    auto it = by_guest_.find(guest);
    if (refusal == FlowRefusal::total_limit || it == by_guest_.end() || it->second.empty()) break;
    counters_.flows_evicted++;
    close_flow(*it->second.front());
  }
  limits_.refused(FlowKind::udp, refusal, guest);
  return {};
}

UdpNat::Flow* UdpNat::open_flow(const FlowKey& key, std::size_t length) {
  auto destination = addresses_.to_host(key.remote_ip);
  if (!destination) {
    counters_.policy_refused++;
    return nullptr;
  }
  FlowSlot slot = make_room(key.guest_ip);
  if (!slot) {
    send_unreachable(key, length, prohibited_code(key.guest_ip.is_v4()));
    return nullptr;
  }
  const SocketAddress to = make_socket_address(*destination, key.remote_port);
  const int fd = ::socket(to.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == EMFILE || errno == ENFILE) {
      limits_.refused(FlowKind::udp, FlowRefusal::no_fds, key.guest_ip);
      send_unreachable(key, length, prohibited_code(key.guest_ip.is_v4()));
    } else {
      spdlog::warn("udp {}: socket: {}", key.to_string(), std::strerror(errno));
    }
    return nullptr;
  }
  if (!bind_outbound(fd, *destination, addresses_.outbound()) || ::connect(fd, to.get(), to.length) != 0) {
    spdlog::debug("udp {}: bind or connect: {}", key.to_string(), std::strerror(errno));
    ::close(fd);
    return nullptr;
  }
  auto flow = std::make_unique<Flow>();
  flow->key = key;
  flow->slot = std::move(slot);
  Flow* raw = flow.get();
  auto& order = by_guest_[key.guest_ip];
  flow->in_guest_order = order.insert(order.end(), raw);
  flow->socket = std::make_unique<WatchedSocket>(loop_, fd, [this, raw](int, int) { on_host_readable(*raw); });
  flow->socket->watch(UV_READABLE);
  counters_.flows_opened++;
  flows_.emplace(key, std::move(flow));
  return raw;
}

void UdpNat::close_flow(Flow& flow) {
  auto order = by_guest_.find(flow.key.guest_ip);
  order->second.erase(flow.in_guest_order);
  if (order->second.empty()) by_guest_.erase(order);
  flows_.erase(flow.key);
}

std::size_t UdpNat::close_guest(const IpAddress& guest) {
  const auto order = by_guest_.find(guest);
  if (order == by_guest_.end()) return 0;
  const std::vector<Flow*> flows(order->second.begin(), order->second.end());
  for (Flow* flow : flows) close_flow(*flow);
  return flows.size();
}

void UdpNat::on_guest_datagram(const FlowKey& key, const std::uint8_t* payload, std::size_t length) {
  auto it = flows_.find(key);
  Flow* flow = it != flows_.end() ? it->second.get() : open_flow(key, length);
  if (flow == nullptr) return;
  flow->last_active = uv_now(loop_);
  auto& order = by_guest_[key.guest_ip];
  order.splice(order.end(), order, flow->in_guest_order);
  flow->last_length = static_cast<std::uint16_t>(std::min<std::size_t>(length, 0xffff - 8));
  if (::send(flow->socket->fd(), payload, length, 0) < 0) {
    counters_.send_failures++;
    return;
  }
  counters_.datagrams_to_host++;
}

void UdpNat::send_unreachable(const FlowKey& k, std::size_t length, std::uint8_t code) {
  // The quoted packet: the guest's IP and UDP headers (payload lengths as sent, body not kept).
  const bool v6 = !k.guest_ip.is_v4();
  const std::size_t ip_header = v6 ? 40 : 20;
  const auto udp_length = static_cast<std::uint16_t>(8 + std::min<std::size_t>(length, 0xffff - 8 - ip_header));
  std::vector<std::uint8_t> message = {unreachable_type(!v6), code, 0, 0, 0, 0, 0, 0};
  if (v6) {
    message.insert(message.end(), {0x60, 0, 0, 0});
    append_be16(message, udp_length);
    message.insert(message.end(), {17, 64});
    message.insert(message.end(), k.guest_ip.v6().begin(), k.guest_ip.v6().end());
    message.insert(message.end(), k.remote_ip.v6().begin(), k.remote_ip.v6().end());
  } else {
    message.insert(message.end(), {0x45, 0});
    append_be16(message, static_cast<std::uint16_t>(20 + udp_length));
    message.insert(message.end(), {0, 0, 0, 0, 64, 17, 0, 0});
    append_be32(message, k.guest_ip.v4());
    append_be32(message, k.remote_ip.v4());
  }
  append_be16(message, k.guest_port);
  append_be16(message, k.remote_port);
  append_be16(message, udp_length);
  append_be16(message, 0);
  send_icmp_to_guest(netif_, k.remote_ip, k.guest_ip, message);
}

void UdpNat::on_host_readable(Flow& flow) {
  static std::vector<std::uint8_t> buffers(kBatch * kDatagramMax);
  mmsghdr messages[kBatch];
  iovec iov[kBatch];
  for (unsigned i = 0; i < kBatch; ++i) {
    iov[i] = iovec{buffers.data() + i * kDatagramMax, kDatagramMax};
    messages[i] = mmsghdr{};
    messages[i].msg_hdr.msg_iov = &iov[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }
  const int n = ::recvmmsg(flow.socket->fd(), messages, kBatch, MSG_DONTWAIT, nullptr);
  if (n < 0) {
    if (errno == ECONNREFUSED) {
      // The destination answered "port unreachable": tell the guest the same way.
      counters_.port_unreachable++;
      send_unreachable(flow.key, flow.last_length, port_unreachable_code(flow.key.guest_ip.is_v4()));
    }
    return;
  }
  flow.last_active = uv_now(loop_);
  auto& order = by_guest_[flow.key.guest_ip];
  order.splice(order.end(), order, flow.in_guest_order);
  for (int i = 0; i < n; ++i) {
    const ByteSpan payload(buffers.data() + static_cast<std::size_t>(i) * kDatagramMax, messages[i].msg_len);
    if (send_udp_to_guest(netif_, flow.key.remote_ip, flow.key.remote_port, flow.key.guest_ip,
                          flow.key.guest_port, payload))
      counters_.datagrams_to_guest++;
  }
}

void UdpNat::expire_idle() {
  const std::uint64_t now = uv_now(loop_);
  std::vector<Flow*> expired;
  for (const auto& [guest, order] : by_guest_)
    for (Flow* flow : order) {  // least recently used first: stop at the first live one
      if (now - flow->last_active < idle_timeout_ms_) break;
      expired.push_back(flow);
    }
  for (Flow* flow : expired) close_flow(*flow);
  counters_.flows_expired += expired.size();
}

}  // namespace usernet
