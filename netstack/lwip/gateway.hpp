// The gateway: lwIP's one netif, attached to the switch as a port. It owns the gateway
// IP and MAC, answers ARP for the host alias, and hands every IPv4 packet to an
// interceptor (the NAT) before lwIP's own address filter sees it. IPv6 frames go to an
// Ipv6Receiver (neighbour and router discovery, DHCPv6), which passes the rest back
// through input_ipv6 into lwIP, whose IPv6 input hook hands them to the interceptor too;
// lwIP's IPv6 output finds guest MACs in a table learnt from those frames (lwIP's own
// neighbour discovery is never used).
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "netstack/base/address_map.hpp"
#include "netstack/base/ethernet.hpp"
#include "netstack/base/ip_address.hpp"
#include "netstack/base/ipv4.hpp"
#include "netstack/base/ipv6.hpp"
#include "netstack/switch/switch.hpp"

struct pbuf;
struct netif;
struct ip6_addr;

namespace usernet {

/// Gets first look at every IP packet the gateway receives (LWIP_HOOK_IP4_INPUT and
/// LWIP_HOOK_IP6_INPUT).
class IpInterceptor {
 public:
  virtual ~IpInterceptor() = default;
  /// Returns true if it took the packet (and its ownership); false lets lwIP process it.
  virtual bool intercept(pbuf* p, netif* input) = 0;
  /// The same for IPv6 packets (never router or neighbour discovery, which the
  /// Ipv6Receiver keeps).
  virtual bool intercept_ipv6(pbuf* p, netif* input) = 0;
};

/// Gets every IPv6 frame addressed to the gateway's MAC or to an IPv6 multicast group
/// (router/neighbour discovery and DHCPv6 work on frames; the rest goes on to the NAT).
class Ipv6Receiver {
 public:
  virtual ~Ipv6Receiver() = default;
  virtual void receive_ipv6(ByteSpan frame) = 0;
  /// Sends a neighbour solicitation for `target`: lwIP has a packet for a guest address
  /// never seen as a source (e.g. a port forward to a SLAAC address before the guest spoke).
  virtual void solicit_neighbor(const Ipv6& target) = 0;
};

/// Gateway counters.
struct GatewayCounters {
  std::uint64_t frames_in = 0;
  std::uint64_t frames_out = 0;
  std::uint64_t not_for_us = 0;   // unicast frames for other MACs (flooded to us)
  std::uint64_t arp_answered = 0;  // ARP replies for virtual addresses
  std::uint64_t no_memory = 0;
  std::uint64_t truncated = 0;     // ARP/IPv4 frames too short for their header
  std::uint64_t ipv6_ignored = 0;  // IPv6 frames while no IPv6 service runs
  std::uint64_t ipv6_no_neighbor = 0;  // IPv6 output dropped: no neighbour known, none to ask
  std::uint64_t ipv6_neighbor_queued = 0;  // IPv6 output held while its neighbour was solicited
  std::uint64_t oversize = 0;      // IPv6 packets longer than a pbuf holds (jumbograms)
};

class Gateway : public SwitchPort {
 public:
  Gateway(Switch& sw, Ipv4Subnet subnet, Ipv4 address, MacAddress mac, unsigned mtu,
          const AddressMap& addresses);
  ~Gateway() override;
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  bool send_frame(ByteSpan frame) override;
  std::string describe() const override { return "gateway"; }

  void set_interceptor(IpInterceptor* interceptor) { interceptor_ = interceptor; }
  void set_ipv6_receiver(Ipv6Receiver* receiver) { ipv6_receiver_ = receiver; }
  /// An IPv6 packet (no Ethernet header) the Ipv6Receiver did not keep: into lwIP's IPv6
  /// input, whose hook gives it to the interceptor.
  void input_ipv6(ByteSpan packet);
  /// Sends a frame the gateway built (not through lwIP) to the guests.
  void transmit(ByteSpan frame);
  /// Remembers the MAC an IPv6 source address sent from (where lwIP's IPv6 output goes)
  /// and sends what waited for it; the Ipv6Receiver calls it for every frame it parsed.
  void learn_ipv6_neighbor(const Ipv6& source, const MacAddress& mac);
  /// Called by the lwIP input hook.
  static Gateway* from_netif(netif* n);
  IpInterceptor* interceptor() const { return interceptor_; }

  netif* lwip_netif() { return netif_.get(); }
  Ipv4 address() const { return address_; }
  const Ipv4Subnet& subnet() const { return subnet_; }
  const MacAddress& mac() const { return mac_; }
  unsigned mtu() const { return mtu_; }
  PortId port_id() const { return port_id_; }
  const GatewayCounters& counters() const { return counters_; }

 private:
  static std::int8_t link_output(netif* n, pbuf* p);  // lwIP err_t
  static std::int8_t netif_init(netif* n);
  /// lwIP's IPv6 output: the destination's MAC from the table below, or a multicast MAC;
  /// for an unknown neighbour the packet waits (the newest one per address) while the
  /// Ipv6Receiver solicits it, as lwIP's ARP queues for IPv4.
  static std::int8_t output_ipv6(netif* n, pbuf* p, const ip6_addr* destination);
  std::int8_t queue_for_neighbor(pbuf* p, const Ipv6& destination);
  std::int8_t send_ipv6(pbuf* p, const MacAddress& destination);

  struct PbufFree {
    void operator()(pbuf* p) const;
  };
  using PbufHandle = std::unique_ptr<pbuf, PbufFree>;

  Switch& switch_;
  Ipv4Subnet subnet_;
  Ipv4 address_;
  MacAddress mac_;
  unsigned mtu_;
  const AddressMap& addresses_;
  std::unique_ptr<netif> netif_;
  PortId port_id_ = 0;
  IpInterceptor* interceptor_ = nullptr;
  Ipv6Receiver* ipv6_receiver_ = nullptr;
  std::vector<std::uint8_t> gather_;  // flattens chained output pbufs
  std::unordered_map<IpAddress, MacAddress, IpAddressHash> ipv6_neighbors_;
  std::unordered_map<IpAddress, PbufHandle, IpAddressHash> awaiting_neighbor_;
  GatewayCounters counters_;
};

}  // namespace usernet
