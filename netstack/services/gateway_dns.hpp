// Serves the DNS service (dns/) on the gateway: UDP 53 through the NAT's service table,
// TCP 53 through an lwIP listener (2-byte length framing, several queries per
// connection, answers in order of completion).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dns/resolv_conf.hpp"
#include "dns/service.hpp"
#include "netstack/lwip/gateway_tcp_listener.hpp"
#include "netstack/services/virtual_network.hpp"

struct tcp_pcb;

namespace usernet {

/// DNS settings from the command line.
struct DnsOptions {
  bool enabled = true;
  std::vector<std::string> upstream;  // IP[:PORT]; empty = the host's resolv.conf
  std::vector<std::string> zones;     // --dns-zone strings (dns/zones.hpp syntax)
  std::string resolv_conf = "/etc/resolv.conf";  // followed when `upstream` is empty
  std::size_t max_pending = dns::DnsService::kDefaultMaxPending;
  bool ipv6 = false;  // AAAA records for the gateway and host names (usernetd --ipv6)
  bool dns64 = false;  // AAAA synthesized in the network's NAT64 prefix (usernetd --dns64)
};

class GatewayDns {
 public:
  /// Throws std::runtime_error for a bad zone or upstream.
  GatewayDns(VirtualNetwork& network, const DnsOptions& options);
  ~GatewayDns();
  GatewayDns(const GatewayDns&) = delete;
  GatewayDns& operator=(const GatewayDns&) = delete;

  dns::DnsService& service() { return service_; }
  /// Takes the upstream servers from a (changed) resolv.conf; one without nameservers
  /// keeps the servers we had (it is often empty for a moment while being rewritten).
  void follow(const dns::ResolvConf& conf, const std::string& source);

 private:
  class TcpConnection;
  static std::int8_t on_accept(void* arg, tcp_pcb* pcb, std::int8_t err);
  void on_udp(const UdpRequest& request);

  VirtualNetwork& network_;
  dns::DnsService service_;
  std::optional<GatewayTcpListener> listener_;   // DNS over TCP on the gateway
  std::optional<GatewayTcpListener> listener6_;  // and on its IPv6 address
  std::vector<std::string> followed_servers_;  // from resolv.conf, as last applied
};

}  // namespace usernet
