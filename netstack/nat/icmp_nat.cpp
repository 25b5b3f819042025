#include "netstack/nat/icmp_nat.hpp"

#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <string_view>
#include <vector>

#include "netstack/base/host_socket.hpp"
#include "netstack/base/icmp.hpp"
#include "netstack/lwip/lwip_packet_io.hpp"

namespace usernet {

namespace {
constexpr std::size_t kMaxUnanswered = 64;  // per flow: pings nobody answers cannot pile up

/// Tells a flow's echo requests apart: the sequence number and a hash of the payload.
struct EchoTag {
  std::uint16_t sequence = 0;
  std::size_t payload_hash = 0;
  bool operator==(const EchoTag&) const = default;
};

/// The tag of an echo request or reply (a whole ICMP message of at least kIcmpHeaderSize bytes).
EchoTag tag_of(const std::uint8_t* message, std::size_t length) {
  const std::string_view payload(reinterpret_cast<const char*>(message) + kIcmpHeaderSize, length - kIcmpHeaderSize);
  return {static_cast<std::uint16_t>((message[6] << 8) | message[7]), std::hash<std::string_view>{}(payload)};
}
}  // namespace

struct IcmpNat::Flow {
  IpAddress guest_ip;
  IpAddress destination;
  IpAddress real;  // where the host sends it (the destination, or a translation)
  std::uint16_t guest_id = 0;
  std::uint64_t last_active = 0;
  FlowSlot slot;  // released after the socket closes (members go in reverse order)
  std::unique_ptr<WatchedSocket> socket;  // the ping socket; null on the raw socket
  std::uint16_t raw_id = 0;
  std::unordered_map<std::uint16_t, Flow*>* raw_flows = nullptr;  // set while listed there
  std::deque<EchoTag> unanswered;  // requests sent, oldest first, until their reply comes

  ~Flow() {
    if (raw_flows) raw_flows->erase(raw_id);
  }
};

IcmpNat::IcmpNat(uv_loop_t* loop, netif* gateway_netif, const AddressMap& addresses, FlowLimits& limits,
                 std::uint64_t idle_timeout_ms)
    : loop_(loop), netif_(gateway_netif), addresses_(addresses), limits_(limits), idle_timeout_ms_(idle_timeout_ms),
      sweeper_(loop, [this] { expire_idle(); }) {
  start_idle_sweeper(sweeper_, idle_timeout_ms_);
}

IcmpNat::~IcmpNat() { flows_.clear(); }

void IcmpNat::on_echo_request(const IpAddress& guest_ip, const IpAddress& destination, const std::uint8_t* message,
                              std::size_t length) {
  if (length < kIcmpHeaderSize) return;
  counters_.requests++;
  const auto guest_id = static_cast<std::uint16_t>((message[4] << 8) | message[5]);
  const FlowKey key{guest_ip, guest_id, destination, 0};
  auto it = flows_.find(key);
  if (it == flows_.end()) {
    auto real = addresses_.to_host(destination);
    if (!real) {
      counters_.policy_refused++;
      return;
    }
    FlowSlot slot = make_room(guest_ip, icmp_family_of(*real));
    if (!slot) return;
    auto flow = open_flow(guest_ip, guest_id, destination, *real);
    if (!flow) return;
    flow->slot = std::move(slot);
    it = flows_.emplace(key, std::move(flow)).first;
  }
  Flow& flow = *it->second;
  flow.last_active = uv_now(loop_);
  flow.unanswered.push_back(tag_of(message, length));
  if (flow.unanswered.size() > kMaxUnanswered) flow.unanswered.pop_front();
  std::vector<std::uint8_t> request(message, message + length);
  // NAT64 sends an ICMPv6 echo as an ICMP one (RFC 7915 §4.2): the type is the host family's.
  request[0] = echo_request_type(flow.real.is_v4());
  if (flow.socket) {
    // The kernel sets the identifier (our socket's) and the checksum.
    request[2] = request[3] = 0;
    (void)::send(flow.socket->fd(), request.data(), request.size(), 0);
    return;
  }
  request[4] = static_cast<std::uint8_t>(flow.raw_id >> 8);
  request[5] = static_cast<std::uint8_t>(flow.raw_id);
  (void)raw_socket(icmp_family_of(flow.real))->send_echo(flow.real, request);
}

std::unique_ptr<IcmpNat::Flow> IcmpNat::open_flow(const IpAddress& guest_ip, std::uint16_t guest_id,
                                                  const IpAddress& destination, const IpAddress& real) {
  auto flow = std::make_unique<Flow>();
  flow->guest_ip = guest_ip;
  flow->destination = destination;
  flow->real = real;
  flow->guest_id = guest_id;
  const SocketAddress to = make_socket_address(real, 0);
  const int protocol = real.is_v4() ? static_cast<int>(IPPROTO_ICMP) : static_cast<int>(IPPROTO_ICMPV6);
  const int fd = ::socket(to.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd >= 0) {
    if (!bind_outbound(fd, real, addresses_.outbound()) || ::connect(fd, to.get(), to.length) != 0) {
      ::close(fd);
      return nullptr;
    }
    Flow* raw = flow.get();
    flow->socket = std::make_unique<WatchedSocket>(loop_, fd, [this, raw](int, int) { on_reply(*raw); });
    flow->socket->watch(UV_READABLE);
    return flow;
  }
  const int ping_error = errno;
  if (ping_error == EMFILE || ping_error == ENFILE) {
    limits_.refused(FlowKind::icmp, FlowRefusal::no_fds, guest_ip);
    return nullptr;
  }
  const bool not_permitted = ping_error == EACCES || ping_error == EPERM;
  // Every identifier in use: a 65 536th concurrent flow waits for one to expire.
  if (!not_permitted || raw_socket(icmp_family_of(real)) == nullptr || raw_flows_.size() > 0xffff) {
    counters_.unavailable++;
    warn_unavailable(ping_error);
    return nullptr;
  }
  while (raw_flows_.contains(next_raw_id_)) ++next_raw_id_;
  flow->raw_id = next_raw_id_++;
  raw_flows_.emplace(flow->raw_id, flow.get());
  flow->raw_flows = &raw_flows_;
  return flow;
}

FlowSlot IcmpNat::make_room(const IpAddress& guest, IcmpFamily family) {
  FlowRefusal refusal = FlowRefusal::none;
  for (;;) {
    // On the raw socket flows share one fd; a ping socket is one fd per flow.
    FlowSlot slot = limits_.acquire(FlowKind::icmp, guest, raw_[static_cast<std::size_t>(family)] == nullptr, refusal);
    if (slot) return slot;
    if (refusal == FlowRefusal::total_limit) break;
    // A linear look for the guest's oldest flow: the caps keep the table to about a thousand.
    auto oldest = flows_.end();
    for (auto it = flows_.begin(); it != flows_.end(); ++it)
      if (it->second->guest_ip == guest && (oldest == flows_.end() || it->second->last_active < oldest->second->last_active))
        oldest = it;
    if (oldest == flows_.end()) break;
    counters_.flows_evicted++;
    flows_.erase(oldest);
  }
  limits_.refused(FlowKind::icmp, refusal, guest);  // the request is dropped; the guest's ping times out
  return {};
}

RawIcmpSocket* IcmpNat::raw_socket(IcmpFamily family) {
  const auto index = static_cast<std::size_t>(family);
  if (raw_[index]) return raw_[index].get();
  if (raw_error_[index] != 0) return nullptr;  // tried once: capabilities do not come back
  raw_[index] =
      RawIcmpSocket::open(loop_, family, [this](const RawEchoReply& reply) { on_raw_reply(reply); }, raw_error_[index]);
  if (raw_[index])
    spdlog::info("ICMP echo: ping sockets are not permitted (net.ipv4.ping_group_range); "
                 "forwarding through a raw {} socket", family == IcmpFamily::v4 ? "ICMP" : "ICMPv6");
  return raw_[index].get();
}

void IcmpNat::warn_unavailable(int ping_error) {
  if (warned_) return;
  warned_ = true;
  const int raw_error = raw_error_[0] != 0 ? raw_error_[0] : raw_error_[1];
  if (raw_error != 0)
    spdlog::warn("ICMP echo forwarding unavailable: ping sockets are not permitted ({}) and a raw ICMP socket "
                 "needs CAP_NET_RAW ({}); allow ping sockets with: sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"",
                 std::strerror(ping_error), std::strerror(raw_error));
  else
    spdlog::warn("ICMP echo forwarding unavailable: {}", std::strerror(ping_error));
}

void IcmpNat::on_reply(Flow& flow) {
  std::uint8_t buffer[65536];
  for (;;) {
    const ssize_t n = ::recv(flow.socket->fd(), buffer, sizeof buffer, 0);
    if (n < 0) return;  // EAGAIN, or an ICMP error for this socket: nothing to relay
    const std::uint8_t reply_type = echo_reply_type(flow.real.is_v4());
    if (static_cast<std::size_t>(n) < kIcmpHeaderSize || buffer[0] != reply_type) continue;
    relay_reply(flow, buffer, static_cast<std::size_t>(n));
  }
}

void IcmpNat::on_raw_reply(const RawEchoReply& reply) {
  const auto it = raw_flows_.find(reply.identifier);
  // The raw socket sees every echo reply the host gets: only ours, from where we sent.
  if (it == raw_flows_.end() || it->second->real != reply.source) return;
  std::vector<std::uint8_t> message(reply.message.begin(), reply.message.end());
  relay_reply(*it->second, message.data(), message.size());
}

void IcmpNat::relay_reply(Flow& flow, std::uint8_t* message, std::size_t length) {
  // Our identifier is not ours alone on the host: a reply to another program's ping with
  // it reaches this socket too, and must not reach the guest.
  const auto request = std::find(flow.unanswered.begin(), flow.unanswered.end(), tag_of(message, length));
  if (request == flow.unanswered.end()) {
    counters_.unmatched_replies++;
    return;
  }
  flow.unanswered.erase(request);
  message[0] = echo_reply_type(flow.destination.is_v4());  // the guest's family (NAT64)
  message[4] = static_cast<std::uint8_t>(flow.guest_id >> 8);
  message[5] = static_cast<std::uint8_t>(flow.guest_id);
  flow.last_active = uv_now(loop_);
  if (send_icmp_to_guest(netif_, flow.destination, flow.guest_ip, ByteSpan(message, length))) counters_.replies++;
}

std::size_t IcmpNat::close_guest(const IpAddress& guest) {
  return std::erase_if(flows_, [&](const auto& item) { return item.second->guest_ip == guest; });
}

void IcmpNat::expire_idle() {
  const std::uint64_t now = uv_now(loop_);
  std::erase_if(flows_, [&](const auto& item) { return now - item.second->last_active >= idle_timeout_ms_; });
}

}  // namespace usernet
