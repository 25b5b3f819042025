// Sorts every IPv4 packet from the guest network: traffic for the gateway's own services
// (as GatewayServices lists them) goes to lwIP (ICMP echo, TCP services) or to the UDP
// service registered for its port (DHCP, DNS); traffic for any other address goes to the
// TCP/UDP/ICMP NAT engines. IPv6 packets come already sorted (netstack/services/
// gateway_ipv6): those for the gateway to its services, the rest to the TCP/UDP engines.
#pragma once

#include <uv.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "netstack/base/address_map.hpp"
#include "netstack/base/end_of_turn.hpp"
#include "netstack/nat/flow_limits.hpp"
#include "netstack/nat/gateway_services.hpp"
#include "netstack/lwip/gateway.hpp"
#include "netstack/nat/icmp_nat.hpp"
#include "netstack/nat/tcp_nat.hpp"
#include "netstack/nat/udp_nat.hpp"
#include "netstack/base/uv_handles.hpp"

namespace usernet {

struct NatOptions {
  std::uint64_t tcp_connect_timeout_ms = 30000;
  std::uint64_t udp_idle_timeout_ms = 60000;
  std::uint64_t icmp_idle_timeout_ms = 30000;
  FlowCaps caps;  // --max-*-flows; 0: sized from the fd limit
};

struct NatCounters {
  std::uint64_t malformed = 0;       // bad IPv4 header
  std::uint64_t bad_tcp_header = 0;
  std::uint64_t bad_udp_header = 0;
  std::uint64_t foreign_source = 0;  // source outside the guest subnet
  std::uint64_t unsupported = 0;     // protocols and ICMP types we do not forward
  std::uint64_t ipv6_fragments = 0;  // IPv6 fragments (not reassembled yet)
  // Flows closed because their guest detached or came back on another port.
  std::uint64_t guest_left_tcp = 0;
  std::uint64_t guest_left_udp = 0;
  std::uint64_t guest_left_icmp = 0;
};

class Nat : public IpInterceptor {
 public:
  Nat(uv_loop_t* loop, EndOfTurn& end_of_turn, Gateway& gateway, const AddressMap& addresses,
      const GatewayServices& services, const NatOptions& options);

  bool intercept(pbuf* p, netif* input) override;
  /// An IPv6 packet from lwIP's IPv6 input hook (the Ipv6Receiver passed it on: a guest in
  /// the network's prefix to a foreign unicast address, or to a gateway address): to the
  /// gateway's own addresses, UDP to a registered service (DNS) and TCP to lwIP's
  /// listeners (or a reset); anything else, TCP, UDP and ping become host sockets.
  bool intercept_ipv6(pbuf* p, netif* input) override;
  /// The gateway's own IPv6 addresses (its link-local and global router addresses).
  void set_ipv6_gateway_addresses(std::vector<Ipv6> addresses) { ipv6_gateway_addresses_ = std::move(addresses); }

  /// The guest that sent from `guest` is gone (its port detached, or the address now
  /// comes from another port): its flows are closed and their fds freed. Deferred to the
  /// next loop turn, so it is safe from inside lwIP or switch callbacks.
  void guest_left(const IpAddress& guest);

  TcpNat& tcp() { return tcp_; }
  UdpNat& udp() { return udp_; }
  IcmpNat& icmp() { return icmp_; }
  const FlowLimits& limits() const { return limits_; }
  const NatCounters& counters() const { return counters_; }

 private:
  bool handle_for_gateway(pbuf* p, const IpHeader& ip);
  void handle_foreign(pbuf* p, const IpHeader& ip, netif* input);
  /// Packets for the gateway's own IPv6 addresses (intercept_ipv6's first branch).
  void deliver_ipv6_to_gateway(pbuf* p, const IpHeader& ip);
  void close_departed_guests();

  Gateway& gateway_;
  const GatewayServices& services_;
  FlowLimits limits_;  // before the engines: their flows hold slots of it
  TcpNat tcp_;
  UdpNat udp_;
  IcmpNat icmp_;
  std::vector<std::uint8_t> scratch_;  // flattens chained (reassembled) payloads
  std::vector<IpAddress> departed_;    // guests whose flows close on the next turn
  Timer departure_timer_;
  NatCounters counters_;
  std::vector<Ipv6> ipv6_gateway_addresses_;
};

}  // namespace usernet
