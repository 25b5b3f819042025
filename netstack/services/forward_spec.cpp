#include "netstack/services/forward_spec.hpp"

#include <tuple>

#include "netstack/base/port_number.hpp"

namespace usernet {

std::string ForwardSpec::local() const { return local_name.empty() ? bound_address() : local_name; }

std::string ForwardSpec::bound_address() const {
  if (protocol == ForwardProtocol::unix_socket) return local_path;
  if (local_all_families) return "[::]:" + std::to_string(local_port);
  return local_ip.with_port(local_port);
}

std::string ForwardSpec::remote() const { return remote_ip.with_port(remote_port); }

std::string ForwardSpec::protocol_name() const {
  switch (protocol) {
    case ForwardProtocol::tcp: return "tcp";
    case ForwardProtocol::udp: return "udp";
    case ForwardProtocol::unix_socket: return "unix";
  }
  return "tcp";
}

std::optional<ForwardProtocol> parse_forward_protocol(std::string_view text) {
  if (text.empty() || text == "tcp") return ForwardProtocol::tcp;
  if (text == "udp") return ForwardProtocol::udp;
  if (text == "unix") return ForwardProtocol::unix_socket;
  return std::nullopt;
}

std::optional<std::pair<IpAddress, std::uint16_t>> parse_host_port(std::string_view text, IpAddress default_ip) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  IpAddress ip = default_ip;
  if (colon > 0) {
    std::string_view host = text.substr(0, colon);
    const bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
    if (bracketed) host = host.substr(1, host.size() - 2);
    // An IPv6 address must be bracketed ("[::1]:80"): bare, its last group reads as a port.
    if (bracketed) {
      auto parsed = parse_ipv6(host);
      if (!parsed) return std::nullopt;
      ip = IpAddress::from_v6(*parsed);
    } else {
      auto parsed = parse_ipv4(host);
      if (!parsed) return std::nullopt;
      ip = IpAddress::from_v4(*parsed);
    }
  }
  const auto port_text = text.substr(colon + 1);
  const auto port = parse_port(port_text);
  if (!port) return std::nullopt;
  return std::make_pair(ip, *port);
}

Result<ForwardSpec> make_forward(std::string_view protocol, std::string_view local, std::string_view remote,
                                 Ipv4 default_guest) {
  ForwardSpec spec;
  auto proto = parse_forward_protocol(protocol);
  if (!proto) return Error{"protocol must be tcp, udp or unix"};
  spec.protocol = *proto;
  if (spec.protocol == ForwardProtocol::unix_socket) {
    if (local.empty() || local.front() != '/') return Error{"a unix forward needs an absolute socket path as local"};
    spec.local_path = std::string(local);
  } else {
    auto hp = parse_host_port(local, IpAddress::from_v4(make_ipv4(127, 0, 0, 1)));
    if (!hp) return Error{"local '" + std::string(local) + "' is not HOST:PORT or [IPV6]:PORT"};
    std::tie(spec.local_ip, spec.local_port) = *hp;
  }
  auto rp = parse_host_port(remote, IpAddress::from_v4(default_guest));
  if (!rp) return Error{"remote '" + std::string(remote) + "' is not IP:PORT or [IPV6]:PORT"};
  std::tie(spec.remote_ip, spec.remote_port) = *rp;
  return spec;
}

Result<ForwardSpec> parse_forward(std::string_view text, Ipv4 default_guest) {
  std::string_view protocol = "tcp";
  for (std::string_view prefix : {"udp:", "tcp:", "unix:"}) {
    if (text.starts_with(prefix)) {
      protocol = prefix.substr(0, prefix.size() - 1);
      text.remove_prefix(prefix.size());
      break;
    }
  }
  const auto eq = text.rfind('=');
  if (eq == std::string_view::npos) return Error{"expected [udp:|unix:]LOCAL=REMOTE"};
  return make_forward(protocol, text.substr(0, eq), text.substr(eq + 1), default_guest);
}

}  // namespace usernet
