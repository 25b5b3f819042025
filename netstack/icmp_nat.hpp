// ICMP echo NAT: guest pings to any address are re-sent through unprivileged ICMP
// datagram sockets (SOCK_DGRAM, IPPROTO_ICMP), and only the replies the host really got
// go back to the guest. Nothing answers → the guest sees nothing (no fake replies).
// Needs net.ipv4.ping_group_range to include our group; if it does not, pings are
// dropped and a warning is logged once.
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

struct IcmpNatCounters {
  std::uint64_t requests = 0;
  std::uint64_t replies = 0;
  std::uint64_t unavailable = 0;  // ping sockets not permitted
  std::uint64_t policy_refused = 0;
};

class IcmpNat {
 public:
  IcmpNat(uv_loop_t* loop, netif* gateway_netif, const AddressMap& addresses, std::uint64_t idle_timeout_ms);
  ~IcmpNat();
  IcmpNat(const IcmpNat&) = delete;
  IcmpNat& operator=(const IcmpNat&) = delete;

  /// An echo request (the whole ICMP message) from guest_ip to destination.
  void on_echo_request(Ipv4 guest_ip, Ipv4 destination, const std::uint8_t* message, std::size_t length);

  std::size_t active() const { return flows_.size(); }
  const IcmpNatCounters& counters() const { return counters_; }

 private:
  struct Flow;
  void on_reply(Flow& flow);
  void expire_idle();

  uv_loop_t* loop_;
  netif* netif_;
  const AddressMap& addresses_;
  std::uint64_t idle_timeout_ms_;
  std::unordered_map<FlowKey, std::unique_ptr<Flow>, FlowKeyHash> flows_;  // key: guest ip, echo id, dst
  Timer sweeper_;
  IcmpNatCounters counters_;
  bool warned_ = false;
};

}  // namespace usernet
