#include "netstack/api/expose_request.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "netstack/api/json_fields.hpp"
#include "netstack/base/port_number.hpp"

namespace usernet {

namespace {
using json = nlohmann::json;

HttpError bad_request(const std::string& message) { return {400, message}; }
HttpError failure(const std::string& message) { return {500, message}; }
HttpError forbidden(const std::string& message) { return {403, message}; }

/// Go's name of a JSON value's kind in "cannot unmarshal KIND into ...".
std::string go_kind(const json& value) {
  if (value.is_array()) return "array";
  if (value.is_object()) return "object";
  if (value.is_string()) return "string";
  if (value.is_boolean()) return "bool";
  return "number";
}

/// gvproxy's remote IP:PORT for a tcp/udp forward into the guest network; usernet also
/// takes [IPV6]:PORT (a guest's IPv6 address), which gvproxy refuses.
void read_remote(const std::string& remote, ForwardSpec& spec) {
  if (remote.starts_with('[')) {
    std::pair<std::string, std::string> host_port;
    try {
      host_port = split_host_port(remote);
    } catch (const HttpError&) {
      throw failure("invalid remote addr");
    }
    const auto ip = parse_ipv6(host_port.first);
    if (!ip) throw failure("invalid remote addr");
    spec.remote_port = parse_go_port(host_port.second);
    if (spec.remote_port == 0) throw failure("invalid remote port 0");
    spec.remote_ip = IpAddress::from_v6(*ip);
    return;
  }
  const auto colon = remote.find(':');
  if (colon == std::string::npos || remote.find(':', colon + 1) != std::string::npos)
    throw failure("invalid remote addr");
  const std::string port_text = remote.substr(colon + 1);
  spec.remote_port = parse_go_port(port_text);
  const auto ip = parse_ipv4(std::string_view(remote).substr(0, colon));
  if (!ip) throw failure("invalid remote addr");  // gvproxy itself crashes on this one
  if (spec.remote_port == 0) throw failure("invalid remote port 0");
  spec.remote_ip = IpAddress::from_v4(*ip);
}

/// The host address a tcp/udp forward listens on, as Go's net.Listen would read `local`.
void read_local(const std::string& local, const ExposeRules& rules, ForwardSpec& spec) {
  const std::string network = spec.protocol == ForwardProtocol::udp ? "udp" : "tcp";
  std::pair<std::string, std::string> host_port;
  try {
    host_port = split_host_port(local);
  } catch (const HttpError& e) {
    throw failure("listen " + network + ": " + e.what());
  }
  const auto& [host, port_text] = host_port;
  const auto port = parse_port(port_text);
  if (!port) throw failure("listen " + network + ": address " + local + ": the port must be a number from 1 to 65535");
  spec.local_port = *port;
  const bool gvproxy = rules.local_meaning == LocalAddressMeaning::gvproxy;
  if (host.empty() || host == "::") {
    if (!gvproxy && host.empty()) {
      spec.local_ip = IpAddress::from_v4(make_ipv4(127, 0, 0, 1));
    } else {
      spec.local_all_families = true;
      spec.local_ip = IpAddress::from_v4(0);
    }
  } else if (host == "localhost") {
    spec.local_ip = IpAddress::from_v4(make_ipv4(127, 0, 0, 1));
  } else if (auto ip = parse_ip_address(host)) {
    spec.local_ip = *ip;
  } else {
    throw failure("listen " + network + " " + local + ": usernet listens on IP addresses or localhost only");
  }
  spec.local_name = gvproxy ? local : std::string();
}

/// A unix forward's remote, gvproxy's "tcp://IP:PORT" (or usernet's bare IP:PORT).
void read_unix_remote(const std::string& remote, ForwardSpec& spec) {
  const auto scheme_end = remote.find("://");
  if (scheme_end == std::string::npos) return read_remote(remote, spec);  // usernet also takes a bare IP:PORT
  const std::string scheme = scheme_end == std::string::npos ? std::string() : remote.substr(0, scheme_end);
  if (scheme == "tcp") return read_remote(remote.substr(scheme_end + 3), spec);
  if (scheme == "ssh-tunnel") throw failure("remote protocol for unix forwarder is not implemented in usernet: ssh-tunnel");
  throw failure("remote protocol for unix forwarder is not implemented: " + scheme);
}
}  // namespace

std::uint16_t parse_go_port(const std::string& text) {
  unsigned long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec == std::errc::invalid_argument || end != text.data() + text.size())
    throw failure("strconv.ParseUint: parsing \"" + text + "\": invalid syntax");
  if (ec == std::errc::result_out_of_range || value > 65535)
    throw failure("strconv.ParseUint: parsing \"" + text + "\": value out of range");
  return static_cast<std::uint16_t>(value);
}

ExposeFields decode_expose_fields(std::string_view body, std::string_view go_type) {
  const auto first = std::find_if_not(body.begin(), body.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
  if (first == body.end()) throw bad_request("EOF");
  json value;
  try {
    value = json::parse(body);
  } catch (const json::parse_error& e) {
    // nlohmann counts bytes from 1; past the end means the value was cut short.
    if (e.byte > body.size()) throw bad_request("unexpected EOF");
    // Go names the first character of the bad token; nlohmann quotes what it read, which
    // may start with the structural characters before that token.
    const std::string what = e.what();
    const auto quoted = what.find("last read: '");
    char c = body[e.byte == 0 ? 0 : std::min<std::size_t>(e.byte, body.size()) - 1];
    if (quoted != std::string::npos) {
      const std::string token = what.substr(quoted + 12, what.find('\'', quoted + 12) - (quoted + 12));
      const auto start = token.find_first_not_of("{[,: \t\r\n");
      if (!token.empty()) c = token[start == std::string::npos ? 0 : start];
    }
    std::string shown = std::isprint(static_cast<unsigned char>(c)) ? std::string(1, c) : "\\x" + std::to_string(c & 0xff);
    throw bad_request("invalid character '" + shown + "' looking for beginning of value");
  }
  ExposeFields fields;
  if (value.is_null()) return fields;
  if (!value.is_object())
    throw bad_request("json: cannot unmarshal " + go_kind(value) + " into Go value of type types." + std::string(go_type));
  auto read = [&](std::string_view key, std::string_view go_field_type, std::string& out) {
    const json* field = find_field(value, key);
    if (field == nullptr || field->is_null()) return;
    if (!field->is_string())
      throw bad_request("json: cannot unmarshal " + go_kind(*field) + " into Go struct field " + std::string(go_type) + "." +
                        std::string(key) + " of type " + std::string(go_field_type));
    out = field->get<std::string>();
  };
  read("local", "string", fields.local);
  read("remote", "string", fields.remote);
  read("protocol", "types.TransportProtocol", fields.protocol);
  if (fields.protocol.empty()) fields.protocol = "tcp";
  return fields;
}

std::pair<std::string, std::string> split_host_port(std::string_view address) {
  const std::string text(address);
  auto error = [&](const char* why) {
    return bad_request(text.empty() ? std::string(why) : "address " + text + ": " + why);
  };
  const auto last_colon = text.rfind(':');
  if (last_colon == std::string::npos) throw error("missing port in address");
  std::string host;
  std::size_t after_open = 0, after_close = 0;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos) throw error("missing ']' in address");
    if (close + 1 == text.size()) throw error("missing port in address");
    if (close + 1 != last_colon) throw error(text[close + 1] == ':' ? "too many colons in address" : "missing port in address");
    host = text.substr(1, close - 1);
    after_open = 1;
    after_close = close + 1;
  } else {
    host = text.substr(0, last_colon);
    if (host.find(':') != std::string::npos) throw error("too many colons in address");
  }
  if (text.find('[', after_open) != std::string::npos) throw error("unexpected '[' in address");
  if (text.find(']', after_close) != std::string::npos) throw error("unexpected ']' in address");
  return {host, text.substr(last_colon + 1)};
}

void check_guest_may_expose(const ApiCaller& caller, const ExposeRules& rules) {
  if (caller.from_guest && rules.guest_policy == GuestExposePolicy::refused)
    throw forbidden("exposing ports from the guest is disabled (--guest-expose)");
}

std::string complete_remote(const std::string& remote, const ApiCaller& caller) {
  const auto [host, port] = split_host_port(remote);
  if (!host.empty()) return remote;
  // gvproxy takes the host of the HTTP peer; on the host's unix-socket API that is "@".
  if (!caller.from_guest) split_host_port("@");
  return format_ipv4(caller.guest_ip) + remote;
}

std::string forward_name(ForwardProtocol protocol, const std::string& local, const ExposeRules& rules) {
  if (protocol == ForwardProtocol::unix_socket || rules.local_meaning == LocalAddressMeaning::gvproxy) return local;
  ForwardSpec spec;
  spec.protocol = protocol;
  try {
    read_local(local, rules, spec);
  } catch (const HttpError&) {
    return local;  // not an address: no forward can have this name
  }
  return spec.local();
}

ForwardSpec build_exposed_forward(const ExposeFields& request, const ApiCaller& caller, const ExposeRules& rules) {
  const auto protocol = parse_forward_protocol(request.protocol);
  if (!protocol) throw failure("unknown protocol " + request.protocol);
  ForwardSpec spec;
  spec.protocol = *protocol;
  if (spec.protocol == ForwardProtocol::unix_socket) {
    if (caller.from_guest) throw forbidden("a guest may not expose unix sockets on the host");
    read_unix_remote(request.remote, spec);
    if (request.local.empty() || request.local.front() != '/')
      throw failure("listen unix " + request.local + ": usernet needs an absolute socket path");
    spec.local_path = request.local;
    return spec;
  }
  read_remote(request.remote, spec);
  read_local(request.local, rules, spec);
  if (caller.from_guest) {
    if (rules.guest_policy == GuestExposePolicy::loopback_only) {
      if (spec.local_all_families) {  // ":P" from a guest held to loopback: 127.0.0.1:P
        spec.local_all_families = false;
        spec.local_ip = IpAddress::from_v4(make_ipv4(127, 0, 0, 1));
      } else if (!spec.local_ip.is_loopback()) {
        throw forbidden("a guest may only expose ports on the host's 127.0.0.1 or ::1 (loopback only)");
      }
    }
    spec.exposed_by_guest = caller.guest_ip;
  }
  return spec;
}

void check_guest_may_unexpose(const ForwardSpec& forward, const ApiCaller& caller) {
  if (caller.from_guest && forward.exposed_by_guest == 0)
    throw forbidden("a guest may only unexpose the forwards guests exposed");
}

}  // namespace usernet
