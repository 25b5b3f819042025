// Port forwarding from the host into the guest network: a host TCP listener, UDP socket
// or unix socket whose traffic goes to a guest ip:port. Connections and datagrams enter
// the guest from the gateway's address; TCP uses the same relay (back-pressure,
// half-close) as the NAT path.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "netstack/base/result.hpp"
#include "netstack/services/forward_spec.hpp"
#include "netstack/nat/tcp_relay.hpp"
#include "netstack/services/virtual_network.hpp"

namespace usernet {

struct PortForwardCounters {
  std::uint64_t accepted = 0;
  std::uint64_t shed = 0;  ///< closed at once: the process had no descriptor left
  std::uint64_t guest_refused = 0;  // the guest did not accept the connection
  std::uint64_t udp_to_guest = 0;
  std::uint64_t udp_to_host = 0;
};

/// Whether the guest network runs IPv6 (GatewayIpv6), so forwards may reach guests' IPv6 addresses.
enum class GuestIpv6 { off, on };

class PortForwarder {
 public:
  PortForwarder(VirtualNetwork& network, GuestIpv6 guest_ipv6);
  ~PortForwarder();
  PortForwarder(const PortForwarder&) = delete;
  PortForwarder& operator=(const PortForwarder&) = delete;

  /// Opens the host side; on failure an error sentence (e.g. the address is in use, or the
  /// guest side is IPv6 while the guest network has none).
  Status add(const ForwardSpec& spec);
  /// Closes a forward by protocol and local address; false if there is none.
  bool remove(ForwardProtocol protocol, const std::string& local);
  /// The forward with this protocol and local name, or null.
  const ForwardSpec* find(ForwardProtocol protocol, const std::string& local) const;
  std::vector<ForwardSpec> list() const;
  const PortForwardCounters& counters() const { return counters_; }
  TcpRelayGroup& relays() { return relays_; }
  /// Connects a host stream socket (taking its ownership; non-blocking) to ip:port in the
  /// guest network from the gateway's address of that family and relays it once the guest
  /// accepts; the socket is reset if the guest refuses (or is IPv6 on an IPv4-only network). Port forwards, the API's /tunnel and the SSH
  /// forwards use this. Loop thread only, like every lwIP call.
  void connect_into_guest(int client_fd, const IpAddress& remote_ip, std::uint16_t remote_port, std::string label);
  std::size_t connecting() const { return connecting_.size(); }

 private:
  class StreamForward;
  class DatagramForward;
  struct Connecting;
  std::uint16_t allocate_udp_port();
  /// The gateway's own address in the family of `guest`: the source of what enters the guest.
  IpAddress gateway_address_for(const IpAddress& guest) const;

  VirtualNetwork& network_;
  GuestIpv6 guest_ipv6_;
  TcpRelayGroup relays_;
  std::map<std::pair<ForwardProtocol, std::string>, std::unique_ptr<StreamForward>> streams_;
  std::map<std::pair<ForwardProtocol, std::string>, std::unique_ptr<DatagramForward>> datagrams_;
  std::vector<Connecting*> connecting_;
  std::uint16_t next_udp_port_ = 0;
  PortForwardCounters counters_;
};

}  // namespace usernet
