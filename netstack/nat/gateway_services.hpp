// The registry of the gateway's own services: which UDP ports are served on the gateway
// address (DHCP, DNS, UDP port forwards' return paths) and by whom, and which TCP ports lwIP
// serves there (DNS over TCP, the in-guest API). The Nat consults it for every packet to
// the gateway; the services register here, not with the Nat.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <unordered_map>

#include "netstack/base/ethernet.hpp"
#include "netstack/base/ip_address.hpp"

namespace usernet {

/// A datagram for a UDP service on the gateway.
struct UdpRequest {
  IpAddress source;
  std::uint16_t source_port = 0;
  IpAddress destination;  // the gateway (either family), or an IPv4 broadcast address
  std::uint16_t destination_port = 0;
  ByteSpan payload;
};

class GatewayServices {
 public:
  using UdpService = std::function<void(const UdpRequest&)>;

  /// Serves UDP `port` on the gateway addresses (and on broadcast, for DHCP).
  void add_udp_service(std::uint16_t port, UdpService service) { udp_[port] = std::move(service); }
  void remove_udp_service(std::uint16_t port) { udp_.erase(port); }
  bool has_udp_service(std::uint16_t port) const { return udp_.contains(port); }
  /// The service of UDP `port`, or nullptr.
  const UdpService* udp_service(std::uint16_t port) const {
    auto it = udp_.find(port);
    return it == udp_.end() ? nullptr : &it->second;
  }
  /// TCP ports lwIP serves on the gateway address; SYNs to other gateway ports get RST.
  void add_tcp_service_port(std::uint16_t port) { tcp_ports_.insert(port); }
  bool has_tcp_service_port(std::uint16_t port) const { return tcp_ports_.contains(port); }

 private:
  std::unordered_map<std::uint16_t, UdpService> udp_;
  std::set<std::uint16_t> tcp_ports_;
};

}  // namespace usernet
