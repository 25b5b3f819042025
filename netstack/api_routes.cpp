#include "netstack/api_routes.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>

#include "dns/zones.hpp"
#include "netstack/gateway_dhcp.hpp"
#include "netstack/gateway_dns.hpp"
#include "netstack/port_forwarder.hpp"
#include "netstack/virtual_network.hpp"

namespace usernet {

namespace {
using json = nlohmann::json;

/// A client mistake: answered 400 with this one-line reason.
struct BadRequest : std::runtime_error {
  using std::runtime_error::runtime_error;
};

HttpResponse ok(std::string body = {}, std::string type = "text/plain") {
  return HttpResponse{200, std::move(type), std::move(body), {}};
}
HttpResponse plain(unsigned status, const std::string& line) { return HttpResponse{status, "text/plain", line + "\n", {}}; }
HttpResponse json_reply(const json& value) {
  return ok(value.dump(-1, ' ', false, json::error_handler_t::replace) + "\n", "application/json");
}

/// The request body as a JSON object, or BadRequest.
json parse_object(const HttpRequest& request) {
  json body = json::parse(request.body, nullptr, false);
  if (body.is_discarded()) throw BadRequest("invalid JSON body");
  if (!body.is_object()) throw BadRequest("the JSON body must be an object");
  return body;
}

/// Go's encoding/json matches keys case-insensitively; so do we. nullptr if absent.
const json* find_field(const json& object, std::string_view key) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string& k = it.key();
    if (k.size() == key.size() && std::equal(k.begin(), k.end(), key.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }))
      return &it.value();
  }
  return nullptr;
}

/// A string field ("" when absent or null); BadRequest for another type.
std::string string_field(const json& object, std::string_view key) {
  const json* value = find_field(object, key);
  if (value == nullptr || value->is_null()) return {};
  if (!value->is_string()) throw BadRequest("field '" + std::string(key) + "' must be a string");
  return value->get<std::string>();
}

/// gvproxy's unix forwards name the remote "tcp://IP:PORT"; we take the IP:PORT part.
std::string_view strip_tcp_scheme(std::string_view remote) {
  if (remote.starts_with("tcp://")) remote.remove_prefix(6);
  return remote;
}

/// The spec key of a local address as the API gives it (":8080" means 127.0.0.1:8080).
std::string normalize_local(ForwardProtocol protocol, const std::string& local) {
  if (protocol == ForwardProtocol::unix_socket) return local;
  auto hp = parse_host_port(local, make_ipv4(127, 0, 0, 1));
  if (!hp) throw BadRequest("local '" + local + "' is not HOST:PORT");
  return format_ipv4(hp->first) + ":" + std::to_string(hp->second);
}
}  // namespace

std::string http_query_parameter(const std::string& target, const std::string& name) {
  const auto question = target.find('?');
  if (question == std::string::npos) return {};
  std::string_view query(target);
  query.remove_prefix(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

StatsSnapshot ApiRoutes::stats() const {
  return collect_stats(services_);
}

HttpResponse ApiRoutes::handle(const HttpRequest& request, const ApiCaller& caller) {
  const std::string path = request.target.substr(0, request.target.find('?'));
  try {
    return route(request, path, caller);
  } catch (const BadRequest& e) {
    return plain(400, e.what());
  } catch (const std::exception& e) {
    spdlog::warn("API {} {}: {}", request.method, path, e.what());
    return plain(500, e.what());
  }
}

HttpResponse ApiRoutes::route(const HttpRequest& request, const std::string& path, const ApiCaller& caller) {
  const bool post = request.method == "POST";
  if (path == "/services/forwarder/all") return forwarder_all();
  if (path == "/services/forwarder/expose") {
    if (!post) throw BadRequest("post only");
    return forwarder_expose(request, caller);
  }
  if (path == "/services/forwarder/unexpose") {
    if (!post) throw BadRequest("post only");
    return forwarder_unexpose(request, caller);
  }
  if (caller.from_guest) return HttpResponse{};  // the guest sees only the forwarder routes
  if (path == "/services/dhcp/leases" || path == "/leases") return dhcp_leases();
  if (path == "/services/dns/all") return dns_all();
  if (path == "/services/dns/add") {
    if (!post) throw BadRequest("post only");
    return dns_add(request);
  }
  if (path == "/stats") return ok(stats().to_json(), "application/json");
  if (path == "/metrics") return ok(stats().to_prometheus(), "text/plain; version=0.0.4");
  if (path == "/cam") return cam();
  if (path == "/tunnel") return tunnel(request);
  return HttpResponse{};
}

HttpResponse ApiRoutes::forwarder_all() {
  json out = json::array();
  if (services_.forwarder != nullptr)
    for (const auto& spec : services_.forwarder->list()) {
      const std::string remote =
          spec.protocol == ForwardProtocol::unix_socket ? "tcp://" + spec.remote() : spec.remote();
      out.push_back({{"local", spec.local()}, {"remote", remote}, {"protocol", spec.protocol_name()}});
    }
  return json_reply(out);
}

HttpResponse ApiRoutes::forwarder_expose(const HttpRequest& request, const ApiCaller& caller) {
  const json body = parse_object(request);
  const std::string local = string_field(body, "local");
  const std::string remote = string_field(body, "remote");
  const std::string protocol = string_field(body, "protocol");
  if (local.empty()) throw BadRequest("field 'local' is required");
  if (remote.empty()) throw BadRequest("field 'remote' is required");
  if (services_.forwarder == nullptr) throw std::runtime_error("port forwarding is not available");
  const Ipv4 default_guest = caller.from_guest ? caller.guest_ip : services_.network->config().first_guest_ip;
  std::string error;
  auto spec = make_forward(protocol, local, strip_tcp_scheme(remote), default_guest, error);
  if (!spec) throw BadRequest(error);
  if (caller.from_guest) {
    if (!guest_expose_) return plain(403, "exposing ports from the guest is disabled (--guest-expose)");
    if (spec->protocol == ForwardProtocol::unix_socket || spec->local_ip != make_ipv4(127, 0, 0, 1))
      return plain(403, "the guest may only expose tcp or udp ports on 127.0.0.1");
  }
  if (auto failure = services_.forwarder->add(*spec)) throw std::runtime_error(*failure);
  return ok();
}

HttpResponse ApiRoutes::forwarder_unexpose(const HttpRequest& request, const ApiCaller& caller) {
  const json body = parse_object(request);
  const std::string local = string_field(body, "local");
  const auto protocol = parse_forward_protocol(string_field(body, "protocol"));
  if (local.empty()) throw BadRequest("field 'local' is required");
  if (!protocol) throw BadRequest("protocol must be tcp, udp or unix");
  const std::string key = normalize_local(*protocol, local);
  if (caller.from_guest) {
    if (!guest_expose_) return plain(403, "exposing ports from the guest is disabled (--guest-expose)");
    if (*protocol == ForwardProtocol::unix_socket || !key.starts_with("127.0.0.1:"))
      return plain(403, "the guest may only unexpose tcp or udp ports on 127.0.0.1");
  }
  if (services_.forwarder == nullptr || !services_.forwarder->remove(*protocol, key))
    throw std::runtime_error("proxy not found");
  spdlog::info("unexposed {}", key);
  return ok();
}

HttpResponse ApiRoutes::dhcp_leases() {
  json out = json::object();
  if (services_.dhcp != nullptr)
    for (const auto& lease : services_.dhcp->server().leases(uv_now(services_.network->loop())))
      out[format_ipv4(lease.ip)] = format_mac(lease.mac);
  return json_reply(out);
}

HttpResponse ApiRoutes::dns_all() {
  json out = json::array();
  if (services_.dns != nullptr)
    for (const auto& zone : services_.dns->service().server().zones().list()) {
      json records = json::array();
      for (const auto& r : zone.records)
        records.push_back({{"Name", r.name},
                           {"IP", format_ipv4(r.ip)},
                           {"Regexp", r.regexp.empty() ? json(nullptr) : json(r.regexp)}});
      out.push_back({{"Name", zone.name},
                     {"Records", records},
                     {"DefaultIP", zone.default_ip ? format_ipv4(*zone.default_ip) : std::string()}});
    }
  return json_reply(out);
}

HttpResponse ApiRoutes::dns_add(const HttpRequest& request) {
  const json body = parse_object(request);
  if (services_.dns == nullptr) throw std::runtime_error("DNS is not served (--no-dns)");
  dns::Zone zone;
  zone.name = string_field(body, "Name");
  if (zone.name.empty()) throw BadRequest("field 'Name' is required");
  if (const std::string text = string_field(body, "DefaultIP"); !text.empty()) {
    auto ip = parse_ipv4(text);
    if (!ip) throw BadRequest("DefaultIP '" + text + "' is not an IPv4 address");
    zone.default_ip = *ip;
  }
  if (const json* records = find_field(body, "Records"); records != nullptr && !records->is_null()) {
    if (!records->is_array()) throw BadRequest("field 'Records' must be an array");
    for (const auto& item : *records) {
      if (!item.is_object()) throw BadRequest("each record must be an object");
      dns::ZoneRecord record;
      record.name = string_field(item, "Name");
      record.regexp = string_field(item, "Regexp");
      const std::string ip_text = string_field(item, "IP");
      auto ip = parse_ipv4(ip_text);
      if (!ip) throw BadRequest("record IP '" + ip_text + "' is not an IPv4 address");
      record.ip = *ip;
      if (!record.regexp.empty()) record.name.clear();  // a regexp record matches by pattern only
      zone.records.push_back(record);
    }
  }
  if (auto error = services_.dns->service().server().zones().add(zone)) throw BadRequest(*error);
  spdlog::info("DNS zone {} added through the API", zone.name);
  return ok();
}

HttpResponse ApiRoutes::cam() {
  json out = json::object();
  for (const auto& [mac, port] : services_.network->network_switch().mac_table()) out[format_mac(mac)] = port;
  return json_reply(out);
}

HttpResponse ApiRoutes::tunnel(const HttpRequest& request) {
  const std::string ip_text = http_query_parameter(request.target, "ip");
  const std::string port_text = http_query_parameter(request.target, "port");
  if (ip_text.empty()) throw BadRequest("ip is mandatory");
  auto ip = parse_ipv4(ip_text);
  if (!ip) throw BadRequest("ip '" + ip_text + "' is not an IPv4 address");
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
    throw BadRequest("port '" + port_text + "' is not a port number");
  if (services_.forwarder == nullptr) throw std::runtime_error("tunnels are not available");
  PortForwarder* forwarder = services_.forwarder;
  const Ipv4 remote = *ip;
  const auto remote_port = static_cast<std::uint16_t>(port);
  HttpResponse response = ok("OK");
  response.take_over = [forwarder, remote, remote_port](int fd) {
    forwarder->connect_into_guest(fd, remote, remote_port, "tunnel " + format_ipv4(remote) + ":" + std::to_string(remote_port));
  };
  return response;
}

}  // namespace usernet
