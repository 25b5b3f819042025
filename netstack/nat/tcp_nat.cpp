#include "netstack/nat/tcp_nat.hpp"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "netstack/base/host_socket.hpp"
#include "netstack/base/uv_handles.hpp"

extern "C" {
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
}

namespace usernet {

namespace {
// After the SYN was replayed, the guest must complete the handshake within this time.
constexpr std::uint64_t kHandshakeTimeoutMs = 30000;
}  // namespace

/// A guest SYN waiting for its host connect (then for the guest's handshake).
struct TcpNat::PendingConnect {
  pbuf* syn = nullptr;  // owned until replayed
  IpHeader ip;
  TcpHeader tcp;
  netif* input = nullptr;
  int fd = -1;
  bool replayed = false;
  std::uint64_t sequence = 0;
  FlowSlot flow;       // the TCP flow and its fd, handed to the relay
  FlowSlot half_open;  // until the host connect finished
  std::unique_ptr<PollWatcher> watcher;
  std::unique_ptr<Timer> timer;

  ~PendingConnect() {
    watcher.reset();  // stop polling before the fd goes
    if (syn) pbuf_free(syn);
    if (fd >= 0) ::close(fd);
  }
};

TcpNat::TcpNat(uv_loop_t* loop, EndOfTurn& end_of_turn, const AddressMap& addresses, FlowLimits& limits,
               std::uint64_t connect_timeout_ms)
    : loop_(loop), addresses_(addresses), limits_(limits), connect_timeout_ms_(connect_timeout_ms),
      relays_(loop, end_of_turn) {}

TcpNat::~TcpNat() {
  pending_.clear();
  for (auto& [key, pcb] : listeners_) {
    tcp_arg(pcb, nullptr);
    tcp_accept(pcb, nullptr);
    tcp_close(pcb);
  }
}

void TcpNat::on_guest_segment(pbuf* p, const IpHeader& ip, const TcpHeader& tcp, netif* input) {
  const FlowKey key{ip.source, tcp.source_port, ip.destination, tcp.destination_port};
  auto it = pending_.find(key);
  if (it != pending_.end()) {
    PendingConnect& pending = *it->second;
    if (tcp.has(TcpHeader::kRst) && !pending.replayed) {
      pending_.erase(it);  // the guest gave up while we were connecting
      pbuf_free(p);
      return;
    }
    if (!pending.replayed) {  // SYN retransmission while connecting
      pbuf_free(p);
      return;
    }
    demux_.deliver(p, key, input);  // handshake in progress: lwIP's SYN_RCVD pcb handles it
    return;
  }
  const bool opening = tcp.has(TcpHeader::kSyn) && !tcp.has(TcpHeader::kAck) && !tcp.has(TcpHeader::kRst);
  if (opening) {
    start_connect(p, key, ip, tcp, input);
    return;
  }
  demux_.deliver(p, key, input);  // an established flow (or a stray segment lwIP will RST)
}

void TcpNat::start_connect(pbuf* p, const FlowKey& key, const IpHeader& ip, const TcpHeader& tcp,
                           netif* input) {
  auto destination = addresses_.to_host(key.remote_ip);
  if (!destination) {
    counters_.policy_refused++;
    send_tcp_reset_for(ip, tcp);
    pbuf_free(p);
    return;
  }
  FlowRefusal refusal = FlowRefusal::none;
  FlowSlot flow = limits_.acquire(FlowKind::tcp, key.guest_ip, true, refusal);
  if (!flow) return refuse(p, ip, tcp, FlowKind::tcp, refusal);
  FlowSlot half_open = limits_.acquire(FlowKind::half_open, key.guest_ip, false, refusal);
  // A guest at its half-open cap (a SYN flood, a scan) loses its oldest connect, not the
  // new one: the newest is most likely a connection someone is waiting for.
  if (!half_open && refusal == FlowRefusal::guest_limit && evict_oldest_half_open(key.guest_ip))
    half_open = limits_.acquire(FlowKind::half_open, key.guest_ip, false, refusal);
  if (!half_open) return refuse(p, ip, tcp, FlowKind::half_open, refusal);
  counters_.connects++;
  const int fd = start_tcp_connect(*destination, key.remote_port, addresses_.outbound());
  if (fd == -EMFILE || fd == -ENFILE) return refuse(p, ip, tcp, FlowKind::tcp, FlowRefusal::no_fds);
  if (fd < 0) {
    // Failed at once (e.g. ENETUNREACH from the routing table).
    if (-fd == ECONNREFUSED) {
      counters_.refused++;
      send_tcp_reset_for(ip, tcp);
    } else {
      counters_.unreachable++;
      send_unreachable_for(p, Unreachable::host);
    }
    pbuf_free(p);
    return;
  }
  auto pending = std::make_unique<PendingConnect>();
  pending->syn = p;
  pending->ip = ip;
  pending->tcp = tcp;
  pending->input = input;
  pending->fd = fd;
  pending->sequence = ++connect_sequence_;
  pending->flow = std::move(flow);
  pending->half_open = std::move(half_open);
  pending->watcher = std::make_unique<PollWatcher>(loop_, fd, [this, key](int status, int) {
    auto it = pending_.find(key);
    if (it == pending_.end()) return;
    // libuv reports a failed connect as a poll error; SO_ERROR says which failure it was.
    const int error = socket_error(it->second->fd);
    on_connect_result(key, error != 0 ? error : (status < 0 ? EIO : 0));
  });
  pending->watcher->watch(UV_WRITABLE);
  pending->timer = std::make_unique<Timer>(loop_, [this, key] { on_handshake_timeout(key); });
  pending->timer->start(connect_timeout_ms_);
  pending_.emplace(key, std::move(pending));
}

void TcpNat::on_connect_result(FlowKey key, int error) {
  auto it = pending_.find(key);
  PendingConnect& pending = *it->second;
  pending.watcher->watch(0);
  if (error != 0) {
    spdlog::debug("tcp {}: host connect failed: {}", key.to_string(), std::strerror(error));
    if (error == ECONNREFUSED || error == ECONNRESET) {
      counters_.refused++;
      send_tcp_reset_for(pending.ip, pending.tcp);
    } else if (error == ETIMEDOUT) {
      counters_.timed_out++;
      send_tcp_reset_for(pending.ip, pending.tcp);
    } else {
      counters_.unreachable++;
      send_unreachable_for(pending.syn, Unreachable::host);
    }
    pending_.erase(it);
    return;
  }
  if (!ensure_listener(key.remote_port, !key.remote_ip.is_v4())) {
    send_tcp_reset_for(pending.ip, pending.tcp);
    pending_.erase(it);
    return;
  }
  // Hand the held SYN to lwIP: the listener creates the pcb and answers SYN-ACK. A pcb
  // of an earlier connection on the same 4-tuple still in TIME_WAIT would capture it.
  if (demux_.in_time_wait(key) && drop_time_wait(key.remote_ip, key.remote_port, key.guest_ip, key.guest_port))
    counters_.time_wait_reused++;
  pending.replayed = true;
  pending.half_open.release();
  pending.timer->start(kHandshakeTimeoutMs);
  pbuf* syn = pending.syn;
  pending.syn = nullptr;
  demux_.deliver_opening(syn, key, pending.input);
}

void TcpNat::on_handshake_timeout(FlowKey key) {
  auto it = pending_.find(key);
  if (it == pending_.end()) return;
  PendingConnect& pending = *it->second;
  if (!pending.replayed) {
    counters_.timed_out++;
    spdlog::debug("tcp {}: host connect timed out", key.to_string());
    send_tcp_reset_for(pending.ip, pending.tcp);
  }
  pending_.erase(it);
}

void TcpNat::refuse(pbuf* p, const IpHeader& ip, const TcpHeader& tcp, FlowKind kind, FlowRefusal reason) {
  limits_.refused(kind, reason, ip.source);
  send_tcp_reset_for(ip, tcp);  // a clear "no", never a SYN-ACK we cannot back
  pbuf_free(p);
}

bool TcpNat::evict_oldest_half_open(const IpAddress& guest) {
  auto oldest = pending_.end();
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    const PendingConnect& pending = *it->second;
    if (it->first.guest_ip != guest || pending.replayed) continue;
    if (oldest == pending_.end() || pending.sequence < oldest->second->sequence) oldest = it;
  }
  if (oldest == pending_.end()) return false;
  PendingConnect& pending = *oldest->second;
  send_tcp_reset_for(pending.ip, pending.tcp);
  counters_.half_open_evicted++;
  pending_.erase(oldest);
  return true;
}

std::size_t TcpNat::close_guest(const IpAddress& guest) {
  // A replayed SYN's pcb, accepted later, finds no pending entry and is aborted.
  const std::size_t pending = std::erase_if(pending_, [&](const auto& item) { return item.first.guest_ip == guest; });
  return pending + relays_.abandon_guest(guest);
}

bool TcpNat::ensure_listener(std::uint16_t port, bool v6) {
  // One catch-all per family and port: lwIP matches a listener's family before its address.
  const ListenerKey listener_key{port, v6};
  if (listeners_.contains(listener_key)) return true;
  tcp_pcb* pcb = tcp_new_ip_type(v6 ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4);
  if (pcb == nullptr) return false;
  ip_set_option(pcb, SOF_REUSEADDR);
  if (tcp_bind(pcb, v6 ? IP6_ADDR_ANY : IP4_ADDR_ANY, port) != ERR_OK) {
    spdlog::warn("tcp NAT: cannot bind catch-all listener on port {}", port);
    tcp_close(pcb);
    return false;
  }
  tcp_pcb* listener = tcp_listen_with_backlog(pcb, TCP_DEFAULT_LISTEN_BACKLOG);
  if (listener == nullptr) {
    tcp_close(pcb);
    return false;
  }
  tcp_arg(listener, this);
  tcp_accept(listener, &TcpNat::on_accept);
  demux_.watch_listener(listener);
  listeners_.emplace(listener_key, listener);
  return true;
}

err_t TcpNat::on_accept(void* arg, tcp_pcb* pcb, err_t err) {
  auto* self = static_cast<TcpNat*>(arg);
  if (self == nullptr || err != ERR_OK || pcb == nullptr) return ERR_VAL;
  const FlowKey key = flow_key_of(pcb);
  auto it = self->pending_.find(key);
  if (it == self->pending_.end() || !it->second->replayed) {
    // A connection nobody asked the host for (e.g. to the gateway's own address).
    tcp_abort(pcb);
    return ERR_ABRT;
  }
  const int fd = it->second->fd;
  it->second->fd = -1;
  FlowSlot flow = std::move(it->second->flow);
  self->pending_.erase(it);
  self->relays_.add(pcb, fd, key.to_string(), std::move(flow));
  return ERR_OK;
}

}  // namespace usernet
