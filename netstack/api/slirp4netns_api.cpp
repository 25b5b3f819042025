#include "netstack/api/slirp4netns_api.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cmath>
#include <optional>

namespace usernet {

namespace {

using OrderedJson = nlohmann::ordered_json;  // slirp4netns's field order

std::string error_reply(std::string_view desc) {
  OrderedJson reply;
  reply["error"]["desc"] = std::string("bad request: ") + std::string(desc);
  return reply.dump();
}

/// arguments.NAME as a port (1..65535), or nullopt: absent, not a number, 0 or too big.
std::optional<std::uint16_t> port_argument(const nlohmann::json& arguments, const char* name) {
  if (!arguments.is_object() || !arguments.contains(name) || !arguments[name].is_number()) return std::nullopt;
  const double value = arguments[name].get<double>();
  if (!(value >= 1 && value <= 65535) || std::floor(value) != value) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

/// arguments.NAME as an IPv4 address; absent or "" is `fallback`; nullopt if malformed.
std::optional<Ipv4> address_argument(const nlohmann::json& arguments, const char* name, Ipv4 fallback) {
  if (!arguments.is_object() || !arguments.contains(name)) return fallback;
  const auto& value = arguments[name];
  if (!value.is_string()) return std::nullopt;
  const auto& text = value.get_ref<const std::string&>();
  if (text.empty()) return fallback;
  return parse_ipv4(text);
}

}  // namespace

Slirp4netnsApi::Slirp4netnsApi(HostForwardBackend backend, Ipv4 default_guest)
    : backend_(std::move(backend)), default_guest_(default_guest) {}

std::string Slirp4netnsApi::too_large() { return error_reply("too large message"); }

std::string Slirp4netnsApi::answer(std::string_view request) {
  if (request.size() > kSlirp4netnsMaxRequest) return too_large();
  const auto root = nlohmann::json::parse(request, nullptr, false);
  if (root.is_discarded()) return error_reply("cannot parse JSON");
  if (!root.is_object()) return error_reply("json_object() failed");
  const auto execute = root.find("execute");
  if (execute == root.end() || !execute->is_string()) return error_reply("no execute found");
  static const nlohmann::json kNoArguments = nlohmann::json::object();
  const auto found = root.find("arguments");
  const nlohmann::json& arguments = found == root.end() ? kNoArguments : *found;
  const auto& name = execute->get_ref<const std::string&>();
  if (name == "add_hostfwd") return add_hostfwd(arguments);
  if (name == "list_hostfwd") return list_hostfwd();
  if (name == "remove_hostfwd") return remove_hostfwd(arguments);
  return error_reply("unknown execute");
}

std::string Slirp4netnsApi::add_hostfwd(const nlohmann::json& arguments) {
  // Checked in slirp4netns's order, so a request with several faults names the same one.
  ForwardSpec spec;
  const auto proto = arguments.is_object() ? arguments.find("proto") : arguments.end();
  if (proto == arguments.end() || !proto->is_string() || (*proto != "tcp" && *proto != "udp"))
    return error_reply("add_hostfwd: bad arguments.proto");
  spec.protocol = *proto == "udp" ? ForwardProtocol::udp : ForwardProtocol::tcp;
  const auto host_addr = address_argument(arguments, "host_addr", 0);
  if (!host_addr) return error_reply("add_hostfwd: bad arguments.host_addr");
  const auto host_port = port_argument(arguments, "host_port");
  if (!host_port) return error_reply("add_hostfwd: bad arguments.host_port");
  const auto guest_addr = address_argument(arguments, "guest_addr", default_guest_);
  if (!guest_addr) return error_reply("add_hostfwd: bad arguments.guest_addr");
  const auto guest_port = port_argument(arguments, "guest_port");
  if (!guest_port) return error_reply("add_hostfwd: bad arguments.guest_port");
  spec.local_ip = IpAddress::from_v4(*host_addr);
  spec.local_port = *host_port;
  spec.remote_ip = IpAddress::from_v4(*guest_addr);
  spec.remote_port = *guest_port;
  if (const Status added = backend_.add(spec); !added) {
    spdlog::warn("slirp4netns API: add_hostfwd {} {} -> {}: {}", spec.protocol_name(), spec.local(), spec.remote(),
                 added.error());
    return error_reply("add_hostfwd: slirp_add_hostfwd failed");
  }
  const std::uint64_t id = next_id_++;
  forwards_.emplace(id, spec);
  OrderedJson reply;
  reply["return"]["id"] = id;
  return reply.dump();
}

std::string Slirp4netnsApi::list_hostfwd() const {
  OrderedJson entries = OrderedJson::array();
  for (const auto& [id, spec] : forwards_) {
    OrderedJson entry;
    entry["id"] = id;
    entry["proto"] = spec.protocol_name();
    entry["host_addr"] = spec.local_ip.to_string();
    entry["host_port"] = spec.local_port;
    entry["guest_addr"] = spec.remote_ip.to_string();
    entry["guest_port"] = spec.remote_port;
    entries.push_back(std::move(entry));
  }
  OrderedJson reply;
  reply["entries"] = std::move(entries);
  return reply.dump();
}

std::string Slirp4netnsApi::remove_hostfwd(const nlohmann::json& arguments) {
  const auto id = arguments.is_object() ? arguments.find("id") : arguments.end();
  auto it = forwards_.end();
  if (id != arguments.end() && id->is_number()) {
    const double value = id->get<double>();
    if (value >= 1 && std::floor(value) == value) it = forwards_.find(static_cast<std::uint64_t>(value));
  }
  if (it == forwards_.end()) return error_reply("remove_hostfwd: bad arguments.id");
  backend_.remove(it->second);
  forwards_.erase(it);
  return OrderedJson{{"return", OrderedJson::object()}}.dump();
}

}  // namespace usernet
