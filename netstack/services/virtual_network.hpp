// One virtual Ethernet segment with its gateway: the object usernetd and usernet-vm
// embed. It owns the switch, lwIP (gateway netif) and the NAT; transports attach ports
// to switch(), services register on services().
#pragma once

#include <uv.h>

#include <map>
#include <memory>
#include <optional>

#include "netstack/base/address_map.hpp"
#include "netstack/base/end_of_turn.hpp"
#include "netstack/base/ethernet.hpp"
#include "netstack/lwip/gateway.hpp"
#include "netstack/base/ipv4.hpp"
#include "netstack/base/ipv6.hpp"
#include "netstack/base/result.hpp"
#include "netstack/lwip/lwip_runtime.hpp"
#include "netstack/nat/gateway_services.hpp"
#include "netstack/nat/nat.hpp"
#include "netstack/switch/switch.hpp"

namespace usernet {

/// The RFC 6052 well-known prefix NAT64 and DNS64 use.
inline const Ipv6Prefix kNat64WellKnownPrefix{*parse_ipv6("64:ff9b::"), 96};

/// Addresses and limits of a virtual network (gvproxy-compatible defaults).
struct NetworkConfig {
  Ipv4Subnet subnet{make_ipv4(192, 168, 127, 0), 24};
  Ipv4 gateway_ip = make_ipv4(192, 168, 127, 1);
  MacAddress gateway_mac{0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xdd};
  Ipv4 host_alias = make_ipv4(192, 168, 127, 254);  // reaches the host's 127.0.0.1
  /// The default router guests are told about (DHCP option 3, --configure): the gateway
  /// unless set. slirp4netns's layout routes through 10.0.2.2 (its host alias) while DHCP
  /// and DNS answer at 10.0.2.3 (the gateway).
  std::optional<Ipv4> router_ip;
  /// The host aliases reach the host's loopback; off (slirp4netns --disable-host-loopback),
  /// they are gateway addresses that forward nothing.
  bool host_loopback = true;
  Ipv4 first_guest_ip = make_ipv4(192, 168, 127, 2);
  MacAddress first_guest_mac{0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xee};
  // IPv6 (usernetd --ipv6): the guests' SLAAC prefix, the gateway's address in it (also the
  // DNS server) and the host alias that reaches the host's ::1.
  Ipv6Prefix ipv6_prefix{*parse_ipv6("fd00::"), 64};
  Ipv6 ipv6_gateway_ip = *parse_ipv6("fd00::1");
  Ipv6 ipv6_host_alias = *parse_ipv6("fd00::254");
  /// NAT64 (usernetd --nat64): guests' IPv6 to this /96 leaves as IPv4 host sockets.
  std::optional<Ipv6Prefix> nat64_prefix;
  unsigned mtu = 1500;
  bool allow_link_local = false;
  std::map<Ipv4, Ipv4> extra_translations;  // more virtual → real mappings
  bool nat_disabled = false;                 // refuse every NAT destination (fuzzing)
  OutboundAddresses outbound;                // --outbound-addr, --outbound-addr6
  NatOptions nat;

  std::size_t max_frame() const { return mtu + kEthernetHeaderSize; }
  Ipv4 router() const { return router_ip.value_or(gateway_ip); }
};

/// Checks a configuration; an error names the bad field.
Status validate(const NetworkConfig& config);

class VirtualNetwork {
 public:
  VirtualNetwork(uv_loop_t* loop, const NetworkConfig& config);
  ~VirtualNetwork();
  VirtualNetwork(const VirtualNetwork&) = delete;
  VirtualNetwork& operator=(const VirtualNetwork&) = delete;

  uv_loop_t* loop() const { return loop_; }
  const NetworkConfig& config() const { return config_; }
  EndOfTurn& end_of_turn() { return end_of_turn_; }
  Switch& network_switch() { return switch_; }
  Gateway& gateway() { return gateway_; }
  Nat& nat() { return nat_; }
  GatewayServices& services() { return services_; }
  const AddressMap& addresses() const { return addresses_; }

 private:
  static AddressMap make_address_map(const NetworkConfig& config);

  uv_loop_t* loop_;
  NetworkConfig config_;
  EndOfTurn end_of_turn_;
  LwipRuntime lwip_;
  AddressMap addresses_;
  Switch switch_;
  Gateway gateway_;
  GatewayServices services_;  // before the Nat, which reads it
  Nat nat_;
};

}  // namespace usernet
