#include "netstack/icmp_nat.hpp"

#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "netstack/host_socket.hpp"
#include "netstack/lwip_packet_io.hpp"

namespace usernet {

namespace {
enum class IcmpType : std::uint8_t { echo_reply = 0, echo_request = 8 };
constexpr std::size_t kIcmpHeader = 8;
}  // namespace

struct IcmpNat::Flow {
  Ipv4 guest_ip = 0;
  Ipv4 destination = 0;
  std::uint16_t guest_id = 0;
  std::uint64_t last_active = 0;
  std::unique_ptr<WatchedSocket> socket;
};

IcmpNat::IcmpNat(uv_loop_t* loop, netif* gateway_netif, const AddressMap& addresses,
                 std::uint64_t idle_timeout_ms)
    : loop_(loop), netif_(gateway_netif), addresses_(addresses), idle_timeout_ms_(idle_timeout_ms),
      sweeper_(loop, [this] { expire_idle(); }) {
  start_idle_sweeper(sweeper_, idle_timeout_ms_);
}

IcmpNat::~IcmpNat() = default;

void IcmpNat::on_echo_request(Ipv4 guest_ip, Ipv4 destination, const std::uint8_t* message,
                              std::size_t length) {
  if (length < kIcmpHeader) return;
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
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
    if (fd < 0) {
      counters_.unavailable++;
      if (!warned_) {
        warned_ = true;
        spdlog::warn("ICMP echo forwarding unavailable ({}); allow it with "
                     "sysctl net.ipv4.ping_group_range", std::strerror(errno));
      }
      return;
    }
    const sockaddr_in sin = make_sockaddr(*real, 0);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) != 0) {
      ::close(fd);
      return;
    }
    auto flow = std::make_unique<Flow>();
    flow->guest_ip = guest_ip;
    flow->destination = destination;
    flow->guest_id = guest_id;
    Flow* raw = flow.get();
    flow->socket = std::make_unique<WatchedSocket>(loop_, fd, [this, raw](int, int) { on_reply(*raw); });
    flow->socket->watch(UV_READABLE);
    it = flows_.emplace(key, std::move(flow)).first;
  }
  Flow& flow = *it->second;
  flow.last_active = uv_now(loop_);
  // The kernel sets the identifier (our socket's) and the checksum.
  std::vector<std::uint8_t> request(message, message + length);
  request[2] = request[3] = 0;
  (void)::send(flow.socket->fd(), request.data(), request.size(), 0);
}

void IcmpNat::on_reply(Flow& flow) {
  std::uint8_t buffer[65536];
  for (;;) {
    const ssize_t n = ::recv(flow.socket->fd(), buffer, sizeof buffer, 0);
    if (n < 0) return;  // EAGAIN, or an ICMP error for this socket: nothing to relay
    if (static_cast<std::size_t>(n) < kIcmpHeader || buffer[0] != static_cast<std::uint8_t>(IcmpType::echo_reply))
      continue;
    buffer[4] = static_cast<std::uint8_t>(flow.guest_id >> 8);
    buffer[5] = static_cast<std::uint8_t>(flow.guest_id);
    flow.last_active = uv_now(loop_);
    if (send_icmp_to_guest(netif_, flow.destination, flow.guest_ip, ByteSpan(buffer, static_cast<std::size_t>(n))))
      counters_.replies++;
  }
}

void IcmpNat::expire_idle() {
  const std::uint64_t now = uv_now(loop_);
  std::erase_if(flows_, [&](const auto& item) { return now - item.second->last_active >= idle_timeout_ms_; });
}

}  // namespace usernet
