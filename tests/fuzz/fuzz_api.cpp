// Arbitrary requests into the control API's routes (host and guest callers) and arbitrary
// text into the gvproxy command-line and YAML translation. Every answer must be one of the
// documented statuses; nothing may throw or crash. No port forwarder: exposing stops after
// validation (500), so the fuzzer never opens host sockets.
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "netstack/api/api_routes.hpp"
#include "netstack/services/gateway_dns.hpp"
#include "netstack/daemon/gvproxy_compat.hpp"
#include "netstack/services/virtual_network.hpp"

using namespace usernet;

namespace {

struct World {
  uv_loop_t* loop = uv_default_loop();
  std::unique_ptr<VirtualNetwork> network;
  std::unique_ptr<GatewayDns> dns;
  std::unique_ptr<ApiRoutes> routes;
  World() {
    spdlog::set_level(spdlog::level::off);  // "zone added" on every input would drown the fuzzer
    NetworkConfig config;
    config.nat_disabled = true;
    network = std::make_unique<VirtualNetwork>(loop, config);
    DnsOptions dns_options;
    dns_options.upstream = {"127.0.0.1:9"};  // never queried: only zones change here
    dns = std::make_unique<GatewayDns>(*network, dns_options);
    routes = std::make_unique<ApiRoutes>(ApiServices{{network.get(), nullptr, nullptr, dns.get(), {}}, ExposeRules{LocalAddressMeaning::gvproxy, GuestExposePolicy::loopback_only}, true});
  }
  /// Keeps the zone table from growing across inputs.
  void forget_added_zones() {
    for (const auto& zone : dns->service().server().zones().list())
      if (zone.name != "containers.internal." && zone.name != "docker.internal.")
        dns->service().server().zones().remove(zone.name);
  }
};

const char* const kTargets[] = {"/services/forwarder/all", "/services/forwarder/expose", "/services/forwarder/unexpose",
                                "/services/dhcp/leases",   "/leases",                    "/services/dns/all",
                                "/services/dns/add",       "/stats",                     "/metrics",
                                "/cam",                    "/tunnel?",                   "/nowhere"};

/// Splits at NUL bytes (argv-like).
std::vector<std::string> split_args(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i)
    if (i == text.size() || text[i] == '\0') {
      out.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World world;
  if (size < 2) return 0;
  const std::uint8_t selector = data[0];
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  if (selector == 0xff) {  // gvproxy YAML config
    static_cast<void>(translate_gvproxy_config(text));
    return 0;
  }
  if (selector == 0xfe) {  // gvproxy command line; never -config (it would read files)
    auto args = split_args(text);
    for (const auto& arg : args)
      if (arg.find("config") != std::string::npos) return 0;
    translate_gvproxy_command_line(args);
    return 0;
  }
  const std::size_t route = selector % (sizeof kTargets / sizeof kTargets[0]);
  HttpRequest request;
  request.method = selector & 0x80 ? "POST" : "GET";
  request.target = kTargets[route];
  if (request.target.back() == '?') request.target += text;  // fuzz the query
  else request.body = text;
  const ApiCaller caller{(selector & 0x40) != 0, make_ipv4(192, 168, 127, 3)};
  const HttpResponse response = world.routes->handle(request, caller);
  switch (response.status) {
    case 200: case 400: case 403: case 404: case 500: break;
    default: std::abort();
  }
  world.forget_added_zones();
  return 0;
}
