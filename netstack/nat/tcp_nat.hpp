// TCP NAT: guest connections to any address become host sockets. A guest SYN is held
// while the host socket connects; only on success is it given to lwIP (which answers
// SYN-ACK), so the guest sees the real outcome: refused → RST, unreachable → ICMP
// host unreachable, timeout → RST.
#pragma once

#include <uv.h>

#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>
#include <utility>

#include "netstack/base/address_map.hpp"
#include "netstack/base/end_of_turn.hpp"
#include "netstack/base/flow_key.hpp"
#include "netstack/nat/flow_limits.hpp"
#include "netstack/lwip/lwip_packet_io.hpp"
#include "netstack/nat/tcp_demux.hpp"
#include "netstack/nat/tcp_relay.hpp"

struct tcp_pcb;

namespace usernet {

struct TcpNatCounters {
  std::uint64_t connects = 0;
  std::uint64_t refused = 0;
  std::uint64_t unreachable = 0;
  std::uint64_t timed_out = 0;
  std::uint64_t policy_refused = 0;  // e.g. link-local without --allow-link-local
  std::uint64_t time_wait_reused = 0;  // a new SYN replaced a TIME_WAIT pcb
  std::uint64_t half_open_evicted = 0;  // oldest connect of a guest at its half-open cap, reset
};

class TcpNat {
 public:
  TcpNat(uv_loop_t* loop, EndOfTurn& end_of_turn, const AddressMap& addresses, FlowLimits& limits,
         std::uint64_t connect_timeout_ms);
  ~TcpNat();
  TcpNat(const TcpNat&) = delete;
  TcpNat& operator=(const TcpNat&) = delete;

  /// A guest TCP segment to a foreign address (p->payload at the IP header). Takes p.
  void on_guest_segment(pbuf* p, const IpHeader& ip, const TcpHeader& tcp, netif* input);

  /// Closes every connection of `guest`, pending or relayed; returns how many.
  std::size_t close_guest(const IpAddress& guest);
  std::size_t pending() const { return pending_.size(); }
  std::size_t active() const { return relays_.active(); }
  const TcpNatCounters& counters() const { return counters_; }
  TcpRelayGroup& relays() { return relays_; }

 private:
  struct PendingConnect;
  void start_connect(pbuf* p, const FlowKey& key, const IpHeader& ip, const TcpHeader& tcp, netif* input);
  void on_connect_result(FlowKey key, int error);
  void on_handshake_timeout(FlowKey key);
  bool ensure_listener(std::uint16_t port, bool v6);
  /// Resets the guest's oldest connect still waiting for the host; false if it has none.
  bool evict_oldest_half_open(const IpAddress& guest);
  void refuse(pbuf* p, const IpHeader& ip, const TcpHeader& tcp, FlowKind kind, FlowRefusal reason);
  static std::int8_t on_accept(void* arg, tcp_pcb* pcb, std::int8_t err);

  uv_loop_t* loop_;
  const AddressMap& addresses_;
  FlowLimits& limits_;
  std::uint64_t connect_timeout_ms_;
  std::uint64_t connect_sequence_ = 0;  // orders pending connects, oldest first
  std::unordered_map<FlowKey, std::unique_ptr<PendingConnect>, FlowKeyHash> pending_;
  using ListenerKey = std::pair<std::uint16_t, bool>;  // port, IPv6
  std::map<ListenerKey, tcp_pcb*> listeners_;
  TcpDemux demux_;  // outlives the relays: their pcbs report their destruction to it
  TcpRelayGroup relays_;
  TcpNatCounters counters_;
};

}  // namespace usernet
