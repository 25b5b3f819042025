#include "netstack/api/api_routes.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "dns/zones.hpp"
#include "netstack/api/expose_request.hpp"
#include "netstack/api/json_fields.hpp"
#include "netstack/services/gateway_dhcp.hpp"
#include "netstack/services/gateway_ipv6.hpp"
#include "netstack/services/gateway_dns.hpp"
#include "netstack/api/gvproxy_stats.hpp"
#include "netstack/services/port_forwarder.hpp"
#include "netstack/services/virtual_network.hpp"

namespace usernet {

namespace {
using json = nlohmann::json;

/// A client mistake: answered 400 with this one-line reason.
HttpError bad_request(const std::string& reason) { return {400, reason}; }

HttpResponse ok(std::string body = {}, std::string type = "text/plain") {
  return HttpResponse{200, std::move(type), std::move(body), {}};
}
HttpResponse plain(unsigned status, const std::string& line) { return HttpResponse{status, "text/plain", line + "\n", {}}; }
HttpResponse json_reply(const json& value) {
  return ok(value.dump(-1, ' ', false, json::error_handler_t::replace) + "\n", "application/json");
}

/// The request body as a JSON object, or 400.
json parse_object(const HttpRequest& request) {
  json body = json::parse(request.body, nullptr, false);
  if (body.is_discarded()) throw bad_request("invalid JSON body");
  if (!body.is_object()) throw bad_request("the JSON body must be an object");
  return body;
}

/// A string field ("" when absent or null); 400 for another type.
std::string string_field(const json& object, std::string_view key) {
  const json* value = find_field(object, key);
  if (value == nullptr || value->is_null()) return {};
  if (!value->is_string()) throw bad_request("field '" + std::string(key) + "' must be a string");
  return value->get<std::string>();
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
  } catch (const HttpError& e) {
    return plain(e.status, e.what());
  } catch (const std::exception& e) {
    spdlog::warn("API {} {}: {}", request.method, path, e.what());
    return plain(500, e.what());
  }
}

HttpResponse ApiRoutes::route(const HttpRequest& request, const std::string& path, const ApiCaller& caller) {
  const bool post = request.method == "POST";
  if (path == "/services/forwarder/all") return forwarder_all();
  if (path == "/services/forwarder/expose") {
    if (!post) throw bad_request("post only");
    return forwarder_expose(request, caller);
  }
  if (path == "/services/forwarder/unexpose") {
    if (!post) throw bad_request("post only");
    return forwarder_unexpose(request, caller);
  }
  if (caller.from_guest) return HttpResponse{};  // the guest sees only the forwarder routes
  if (path == "/services/dhcp/leases" || path == "/leases") return dhcp_leases();
  if (path == "/services/dns/all") return dns_all();
  if (path == "/services/dns/add") {
    if (!post) throw bad_request("post only");
    return dns_add(request);
  }
  if (path == "/stats") return ok(gvproxy_stats_ ? gvproxy_stats_json(stats()) : stats().to_json(), "application/json");
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

// The checks run in gvproxy's order, so each mistake gets the status gvproxy gives it.
HttpResponse ApiRoutes::forwarder_expose(const HttpRequest& request, const ApiCaller& caller) {
  ExposeFields fields = decode_expose_fields(request.body, "ExposeRequest");
  check_guest_may_expose(caller, rules_);
  const auto protocol = parse_forward_protocol(fields.protocol);
  if (protocol != ForwardProtocol::unix_socket) fields.remote = complete_remote(fields.remote, caller);
  if (services_.forwarder == nullptr) throw std::runtime_error("port forwarding is not available");
  if (protocol && services_.forwarder->find(*protocol, forward_name(*protocol, fields.local, rules_)) != nullptr)
    throw HttpError(500, "proxy already running for " + fields.protocol + " on " + fields.local);
  const ForwardSpec spec = build_exposed_forward(fields, caller, rules_);
  if (const Status added = services_.forwarder->add(spec); !added) throw HttpError(500, added.error());
  return ok();
}

HttpResponse ApiRoutes::forwarder_unexpose(const HttpRequest& request, const ApiCaller& caller) {
  const ExposeFields fields = decode_expose_fields(request.body, "UnexposeRequest");
  check_guest_may_expose(caller, rules_);
  const auto protocol = parse_forward_protocol(fields.protocol);
  const ForwardSpec* forward = nullptr;
  std::string name;
  if (protocol && services_.forwarder != nullptr) {
    name = forward_name(*protocol, fields.local, rules_);
    forward = services_.forwarder->find(*protocol, name);
  }
  if (forward == nullptr) throw HttpError(500, "proxy not found");
  check_guest_may_unexpose(*forward, caller);
  services_.forwarder->remove(*protocol, name);
  spdlog::info("unexposed {} {}", fields.protocol, name);
  return ok();
}

// As gvproxy's IP pool: the gateway and every static lease from the start, then each
// address handed out (lima looks its guests up here before they have asked).
HttpResponse ApiRoutes::dhcp_leases() {
  json out = json::object();
  const NetworkConfig& config = services_.network->config();
  out[format_ipv4(config.gateway_ip)] = format_mac(config.gateway_mac);
  if (services_.dhcp != nullptr) {
    for (const auto& lease : services_.dhcp->server().static_leases()) out[format_ipv4(lease.ip)] = format_mac(lease.mac);
    for (const auto& lease : services_.dhcp->server().leases(uv_now(services_.network->loop())))
      out[format_ipv4(lease.ip)] = format_mac(lease.mac);
  }
  if (services_.ipv6 != nullptr) {  // --ipv6: the gateway's address and the DHCPv6 leases
    const auto& router = services_.ipv6->neighbor_discovery().config();
    if (!router.addresses.empty()) out[format_ipv6(router.addresses[0])] = format_mac(config.gateway_mac);
    for (const auto& lease : services_.ipv6->dhcp().leases(uv_now(services_.network->loop())))
      out[format_ipv6(lease.address)] = dhcp6::describe_client(lease.duid);
  }
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
  if (zone.name.empty()) throw bad_request("field 'Name' is required");
  if (const std::string text = string_field(body, "DefaultIP"); !text.empty()) {
    auto ip = parse_ipv4(text);
    if (!ip) throw bad_request("DefaultIP '" + text + "' is not an IPv4 address");
    zone.default_ip = *ip;
  }
  if (const json* records = find_field(body, "Records"); records != nullptr && !records->is_null()) {
    if (!records->is_array()) throw bad_request("field 'Records' must be an array");
    for (const auto& item : *records) {
      if (!item.is_object()) throw bad_request("each record must be an object");
      dns::ZoneRecord record;
      record.name = string_field(item, "Name");
      record.regexp = string_field(item, "Regexp");
      const std::string ip_text = string_field(item, "IP");
      auto ip = parse_ipv4(ip_text);
      if (!ip) throw bad_request("record IP '" + ip_text + "' is not an IPv4 address");
      record.ip = *ip;
      if (!record.regexp.empty()) record.name.clear();  // a regexp record matches by pattern only
      zone.records.push_back(record);
    }
  }
  if (const Status added = services_.dns->service().server().zones().add(zone); !added)
    throw bad_request(added.error());
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
  // gvproxy answers every /tunnel mistake with 500.
  if (ip_text.empty()) throw HttpError(500, "ip is mandatory");
  const std::uint16_t port = parse_go_port(port_text);
  auto ip = parse_ip_address(ip_text);
  if (!ip) throw HttpError(500, "ip " + ip_text + " is not an IP address");
  if (port == 0) throw HttpError(500, "port 0 cannot be dialled");
  if (services_.forwarder == nullptr) throw std::runtime_error("tunnels are not available");
  PortForwarder* forwarder = services_.forwarder;
  const IpAddress remote = *ip;
  HttpResponse response = ok("OK");
  response.take_over = [forwarder, remote, port](int fd) {
    forwarder->connect_into_guest(fd, remote, port, "tunnel " + remote.with_port(port));
  };
  return response;
}

}  // namespace usernet
