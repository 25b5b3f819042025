// What a port forward is: a host endpoint (TCP/UDP address or unix socket path) whose
// traffic goes to an ip:port inside the guest network. Text forms, shared by the
// command line (--forward) and the API (gvproxy's expose request):
//   [udp:|unix:]LOCAL=REMOTE   LOCAL: HOST:PORT, [IPV6]:PORT, :PORT (127.0.0.1) or a path
//                              for unix:
//                              REMOTE: IP:PORT, [IPV6]:PORT, or :PORT (the first guest's
//                              IPv4 address)
// Either side may be IPv4 or IPv6 independently: [::1]:8080=:80 reaches the guest's IPv4.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "netstack/base/ip_address.hpp"
#include "netstack/base/ipv4.hpp"
#include "netstack/base/result.hpp"

namespace usernet {

enum class ForwardProtocol { tcp, udp, unix_socket };

struct ForwardSpec {
  ForwardProtocol protocol = ForwardProtocol::tcp;
  IpAddress local_ip = IpAddress::from_v4(0);  // tcp/udp
  std::uint16_t local_port = 0;
  std::string local_path;      // unix
  IpAddress remote_ip = IpAddress::from_v4(0);
  std::uint16_t remote_port = 0;
  /// Listen on every host address, IPv6 and IPv4 alike (gvproxy's ":PORT", like Go's
  /// net.Listen); local_ip is then 0 and the bind falls back to 0.0.0.0 without IPv6.
  bool local_all_families = false;
  /// The forward's name in the API when it is not the canonical address: gvproxy mode
  /// keys forwards by `local` exactly as the client wrote it (":8080" and "0.0.0.0:8080"
  /// are two names).
  std::string local_name;
  /// The guest whose in-guest API request made this forward (0: the host made it).
  Ipv4 exposed_by_guest = 0;

  /// local_name, else "127.0.0.1:8080", "[::1]:8080" or the unix path: the key the API uses.
  std::string local() const;
  /// What is really bound: "[::]:8080", "127.0.0.1:8080" or the unix path (for logs).
  std::string bound_address() const;
  std::string remote() const;
  std::string protocol_name() const;
};

/// Parses "HOST:PORT", "[IPV6]:PORT" or ":PORT" (host defaults to `default_ip`); nullopt
/// if malformed.
std::optional<std::pair<IpAddress, std::uint16_t>> parse_host_port(std::string_view text, IpAddress default_ip);
/// Parses the --forward text form, or says why it is malformed.
Result<ForwardSpec> parse_forward(std::string_view text, Ipv4 default_guest);
/// Builds a spec from the API's fields (protocol "tcp", "udp" or "unix").
Result<ForwardSpec> make_forward(std::string_view protocol, std::string_view local, std::string_view remote,
                                 Ipv4 default_guest);
std::optional<ForwardProtocol> parse_forward_protocol(std::string_view text);

}  // namespace usernet
