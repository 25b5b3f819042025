// Who may send from an address on the segment. A frame whose ARP sender address or
// IPv4 source belongs to another MAC (a DHCP lease, a static lease, one of the gateway's
// own addresses) is refused, so no guest can answer ARP for, or take over, the address
// another guest or the gateway holds. IPv6 sources are checked against the gateway's
// own addresses only (SLAAC addresses have no owner table).
#pragma once

#include <optional>
#include <unordered_map>

#include "netstack/base/ethernet.hpp"
#include "netstack/base/ip_address.hpp"
#include "netstack/base/ipv4.hpp"

namespace usernet {

/// Answers "which MAC holds this address now?" (the DHCP server's leases). Kept this
/// narrow so the switch needs nothing of DHCP.
class AddressOwners {
 public:
  virtual ~AddressOwners() = default;
  /// The MAC `ip` is leased or statically assigned to; nullopt when nobody holds it.
  virtual std::optional<MacAddress> owner_of(Ipv4 ip) const = 0;
};

/// The IPv4 address a frame sends from: the ARP sender protocol address or the IPv4
/// source, looking through one 802.1Q tag. nullopt for other or truncated frames and for
/// 0.0.0.0 (ARP probes and DHCP clients have no address yet).
std::optional<Ipv4> frame_sender_ipv4(ByteSpan frame);
/// The address a frame sends from, either family: frame_sender_ipv4, or the IPv6 source
/// (nullopt for the unspecified source of duplicate address detection and for multicast).
std::optional<IpAddress> frame_sender(ByteSpan frame);

enum class SenderVerdict { allowed, ip_taken, ip_reserved };

class SenderIpPolicy {
 public:
  /// Only `mac` may ever send from `ip` (the gateway's addresses).
  void reserve(const IpAddress& ip, const MacAddress& mac) { reserved_[ip] = mac; }
  /// The lease lookup; null (the default) when there is no DHCP server. Not owned.
  void set_owners(const AddressOwners* owners) { owners_ = owners; }
  /// May a frame from MAC `source` send from `sender`?
  SenderVerdict check(const MacAddress& source, const IpAddress& sender) const;

 private:
  std::unordered_map<IpAddress, MacAddress, IpAddressHash> reserved_;
  const AddressOwners* owners_ = nullptr;
};

}  // namespace usernet
