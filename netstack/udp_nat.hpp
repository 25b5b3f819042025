// UDP NAT: one connected host socket per guest flow (guest ip:port, destination ip:port).
// Replies come back from the original destination address. A flow idle for the timeout
// is closed; the next datagram simply opens a new flow (never a black hole).
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <unordered_map>

#include "netstack/address_map.hpp"
#include "netstack/flow_key.hpp"
#include "netstack/uv_handles.hpp"

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
};

class UdpNat {
 public:
  UdpNat(uv_loop_t* loop, netif* gateway_netif, const AddressMap& addresses, std::uint64_t idle_timeout_ms);
  ~UdpNat();
  UdpNat(const UdpNat&) = delete;
  UdpNat& operator=(const UdpNat&) = delete;

  /// A datagram from the guest to a foreign address.
  void on_guest_datagram(const FlowKey& key, const std::uint8_t* payload, std::size_t length);

  std::size_t active() const { return flows_.size(); }
  const UdpNatCounters& counters() const { return counters_; }

 private:
  struct Flow;
  Flow* open_flow(const FlowKey& key);
  void on_host_readable(Flow& flow);
  void expire_idle();

  uv_loop_t* loop_;
  netif* netif_;
  const AddressMap& addresses_;
  std::uint64_t idle_timeout_ms_;
  std::unordered_map<FlowKey, std::unique_ptr<Flow>, FlowKeyHash> flows_;
  Timer sweeper_;
  UdpNatCounters counters_;
};

}  // namespace usernet
