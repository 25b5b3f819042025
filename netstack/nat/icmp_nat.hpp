// ICMP echo NAT: guest pings to any address are re-sent through unprivileged ICMP
// datagram sockets (SOCK_DGRAM, IPPROTO_ICMP or IPPROTO_ICMPV6), and only the replies the host really got
// go back to the guest. Nothing answers → the guest sees nothing (no fake replies).
// A reply goes back only for a request of its flow (same sequence and payload) not yet
// answered: another program on the host may ping with the identifier a flow has there,
// and the host's replies to it reach our socket as well.
// Ping sockets need net.ipv4.ping_group_range to include our group; where it does not,
// one shared raw socket per family is used if we have CAP_NET_RAW (each flow gets its
// own identifier on it); otherwise pings are dropped and a warning naming the sysctl is
// logged once.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <unordered_map>

#include "netstack/base/address_map.hpp"
#include "netstack/nat/flow_limits.hpp"
#include "netstack/base/flow_key.hpp"
#include "netstack/nat/icmp_raw_socket.hpp"
#include "netstack/base/uv_handles.hpp"

struct netif;

namespace usernet {

struct IcmpNatCounters {
  std::uint64_t requests = 0;
  std::uint64_t replies = 0;
  std::uint64_t unavailable = 0;  // neither a ping socket nor the raw socket could be had
  std::uint64_t policy_refused = 0;
  std::uint64_t flows_evicted = 0;  // closed to make room for a new flow of the same guest
  // Replies to no unanswered request of their flow (another program's ping): dropped.
  std::uint64_t unmatched_replies = 0;
};

class IcmpNat {
 public:
  IcmpNat(uv_loop_t* loop, netif* gateway_netif, const AddressMap& addresses, FlowLimits& limits,
          std::uint64_t idle_timeout_ms);
  ~IcmpNat();
  IcmpNat(const IcmpNat&) = delete;
  IcmpNat& operator=(const IcmpNat&) = delete;

  /// An echo request (the whole ICMP or ICMPv6 message) from guest_ip to destination.
  void on_echo_request(const IpAddress& guest_ip, const IpAddress& destination, const std::uint8_t* message,
                       std::size_t length);

  /// Closes every echo flow of `guest`; returns how many.
  std::size_t close_guest(const IpAddress& guest);
  std::size_t active() const { return flows_.size(); }
  const IcmpNatCounters& counters() const { return counters_; }

 private:
  struct Flow;
  /// A flow on a ping socket, else (ping sockets not permitted) on the raw socket.
  std::unique_ptr<Flow> open_flow(const IpAddress& guest_ip, std::uint16_t guest_id, const IpAddress& destination,
                                  const IpAddress& real);
  /// The raw socket of `family`, opened on first use; null when not permitted.
  RawIcmpSocket* raw_socket(IcmpFamily family);
  /// A slot under the ICMP caps; at the guest's cap its least recently used flow closes.
  /// `family`: the host side's, whose raw socket (if open) needs no descriptor per flow.
  FlowSlot make_room(const IpAddress& guest, IcmpFamily family);
  void on_reply(Flow& flow);
  void on_raw_reply(const RawEchoReply& reply);
  void relay_reply(Flow& flow, std::uint8_t* message, std::size_t length);
  void warn_unavailable(int ping_error);
  void expire_idle();

  uv_loop_t* loop_;
  netif* netif_;
  const AddressMap& addresses_;
  FlowLimits& limits_;
  std::uint64_t idle_timeout_ms_;
  std::unordered_map<FlowKey, std::unique_ptr<Flow>, FlowKeyHash> flows_;  // key: guest ip, echo id, dst
  Timer sweeper_;
  IcmpNatCounters counters_;
  bool warned_ = false;
  std::unique_ptr<RawIcmpSocket> raw_[2];  // by IcmpFamily
  int raw_error_[2] = {0, 0};              // why that raw socket could not be opened
  std::unordered_map<std::uint16_t, Flow*> raw_flows_;  // by identifier on the raw socket
  std::uint16_t next_raw_id_ = 1;
};

}  // namespace usernet
