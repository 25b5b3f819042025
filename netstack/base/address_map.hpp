// Where a guest flow really goes: virtual addresses (the host alias) map to real ones
// (127.0.0.1, ::1), and some destinations are refused by policy.
#pragma once

#include <map>
#include <optional>
#include <set>

#include "netstack/base/host_socket.hpp"
#include "netstack/base/ip_address.hpp"
#include "netstack/base/ipv4.hpp"
#include "netstack/base/ipv6.hpp"

namespace usernet {

class AddressMap {
 public:
  /// Maps a virtual destination (e.g. 192.168.127.254) to a real one (e.g. 127.0.0.1).
  void add_translation(Ipv4 virtual_address, Ipv4 real_address);
  /// Another address of the gateway (answered by ARP) that forwards nothing: the router
  /// address when it is not the gateway's, a host alias without host loopback.
  void add_gateway_alias(Ipv4 address) { gateway_aliases_.insert(address); }
  /// The same for IPv6 (fd00::254 → ::1).
  void add_translation(const Ipv6& virtual_address, const Ipv6& real_address);
  /// The guests' own IPv6 prefix: its addresses are on the link, never reached through the host.
  void set_guest_prefix(const Ipv6Prefix& prefix) { guest_prefix_ = prefix; }
  /// NAT64 (RFC 6146 with the RFC 6052 prefix, e.g. 64:ff9b::/96): an IPv6 destination in
  /// `prefix` is the IPv4 address in its last 32 bits, under the IPv4 rules and
  /// translations (64:ff9b::192.168.127.254 reaches 127.0.0.1). The guests' IPv4 subnet
  /// is refused there except through a translation: its addresses are on the link.
  void set_nat64(const Ipv6Prefix& prefix, const Ipv4Subnet& guest_subnet);
  /// Link-local 169.254.0.0/16 (cloud metadata services) is refused unless allowed.
  void set_allow_link_local(bool allow) { allow_link_local_ = allow; }
  /// The source addresses host sockets for guest flows bind to.
  void set_outbound(const OutboundAddresses& outbound) { outbound_ = outbound; }
  const OutboundAddresses& outbound() const { return outbound_; }
  /// Refuses every destination (fuzzing and tests that must not open host sockets).
  void set_deny_all(bool deny) { deny_all_ = deny; }

  /// The address a host socket should use for a guest destination; nullopt if refused.
  std::optional<Ipv4> to_host(Ipv4 destination) const;
  /// Either family: IPv6 refuses link-local fe80::/10 (unless allowed), loopback,
  /// multicast, unspecified, IPv4-compatible ::/96 and the guests' own prefix, except
  /// through a translation; a NAT64 destination becomes IPv4. (An IPv4-mapped address is IPv4 here: callers taking IPv6
  /// packets refuse those destinations themselves.)
  std::optional<IpAddress> to_host(const IpAddress& destination) const;
  /// True if the gateway must answer ARP for this address (translated virtual addresses).
  bool is_virtual(Ipv4 address) const {
    return translations_.contains(address) || gateway_aliases_.contains(address);
  }
  const std::map<Ipv4, Ipv4>& translations() const { return translations_; }

 private:
  std::map<Ipv4, Ipv4> translations_;
  std::set<Ipv4> gateway_aliases_;
  std::map<Ipv6, Ipv6> translations6_;
  std::optional<Ipv6Prefix> guest_prefix_;
  std::optional<Ipv6Prefix> nat64_prefix_;
  Ipv4Subnet guest_subnet_;
  bool allow_link_local_ = false;
  bool deny_all_ = false;
  OutboundAddresses outbound_;
};

}  // namespace usernet
