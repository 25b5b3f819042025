// UDP NAT: one connected host socket per guest flow (guest ip:port, destination ip:port),
// IPv4 or IPv6.
// Replies come back from the original destination address. A flow idle for the timeout
// is closed; the next datagram simply opens a new flow (never a black hole).
#pragma once

#include <uv.h>

#include <cstdint>
#include <list>
#include <memory>
#include <unordered_map>

#include "netstack/base/address_map.hpp"
#include "netstack/base/flow_key.hpp"
#include "netstack/nat/flow_limits.hpp"
#include "netstack/base/uv_handles.hpp"

struct netif;

namespace usernet {

struct UdpNatCounters {
  std::uint64_t flows_opened = 0;
  std::uint64_t flows_expired = 0;
  std::uint64_t datagrams_to_host = 0;
  std::uint64_t datagrams_to_guest = 0;
  std::uint64_t send_failures = 0;      // host socket refused the datagram (full, error)
  std::uint64_t policy_refused = 0;
  std::uint64_t port_unreachable = 0;   // host reported ECONNREFUSED; guest got ICMP
  std::uint64_t flows_evicted = 0;      // least recently used flow closed for a new one at a cap
};

class UdpNat {
 public:
  UdpNat(uv_loop_t* loop, netif* gateway_netif, const AddressMap& addresses, FlowLimits& limits,
         std::uint64_t idle_timeout_ms);
  ~UdpNat();
  UdpNat(const UdpNat&) = delete;
  UdpNat& operator=(const UdpNat&) = delete;

  /// A datagram from the guest to a foreign address.
  void on_guest_datagram(const FlowKey& key, const std::uint8_t* payload, std::size_t length);

  /// Closes every flow of `guest`; returns how many.
  std::size_t close_guest(const IpAddress& guest);
  std::size_t active() const { return flows_.size(); }
  const UdpNatCounters& counters() const { return counters_; }

 private:
  struct Flow;
  Flow* open_flow(const FlowKey& key, std::size_t length);
  /// A slot for a new flow; at a cap or out of fds, the guest's least recently used flow
  /// makes room (a resolver with a new source port per query never piles up sockets).
  FlowSlot make_room(const IpAddress& guest);
  void close_flow(Flow& flow);
  void on_host_readable(Flow& flow);
  /// ICMP destination unreachable with `code`, quoting the guest's datagram headers.
  void send_unreachable(const FlowKey& key, std::size_t length, std::uint8_t code);
  void expire_idle();

  uv_loop_t* loop_;
  netif* netif_;
  const AddressMap& addresses_;
  FlowLimits& limits_;
  std::uint64_t idle_timeout_ms_;
  std::unordered_map<FlowKey, std::unique_ptr<Flow>, FlowKeyHash> flows_;
  std::unordered_map<IpAddress, std::list<Flow*>, IpAddressHash> by_guest_;  // each guest's flows, least recently used first
  Timer sweeper_;
  UdpNatCounters counters_;
};

}  // namespace usernet
