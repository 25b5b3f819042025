// The control API's routes (gvproxy-compatible; see the README): one
// request in, one response out, no sockets. The transports parse the bytes and serve the
// same routes on --listen (plus /connect, handled by the transport), on --services, and,
// restricted to the forwarder routes, on the gateway's port 80 inside the guest network.
//
//   GET  /services/forwarder/all        [{"local","remote","protocol"}] sorted by local
//   POST /services/forwarder/expose     {"local","remote","protocol"} -> 200 | 400 | 403 | 500
//   POST /services/forwarder/unexpose   {"local","protocol"} -> 200 | 400 | 403 | 500
//   GET  /services/dhcp/leases, /leases {"ip":"mac"}
//   GET  /services/dns/all              [{"Name","Records":[{"Name","IP","Regexp"}],"DefaultIP"}]
//   POST /services/dns/add              one zone in that form -> 200 | 400
//   GET  /stats                         every counter as JSON;  GET /metrics: Prometheus text
//   GET  /cam                           {"mac": port}
//   any  /tunnel?ip=&port=              "OK", then a raw TCP stream to ip:port in the network
// Statuses follow gvproxy's (see expose_request.hpp): a request that cannot be read gets
// 400 with a one-line reason, one that cannot be carried out 500, a guest beyond its rights
// 403, an unknown route 404.
#pragma once

#include <string>

#include "netstack/base/http_message.hpp"
#include "netstack/api/expose_request.hpp"
#include "netstack/base/ipv4.hpp"
#include "netstack/api/stats.hpp"

namespace usernet {

/// What the routes act on: the services (network required; null = switched off), which
/// are also where the counters live, and the guest's rights.
struct ApiServices {
  StatsSources services;
  /// How `local` reads and what guests may expose (usernetd's or gvproxy's rules).
  ExposeRules expose;
  /// /stats in gvproxy's layout (gVisor's counter tree) instead of usernet's metrics.
  bool gvproxy_stats = false;
};

class ApiRoutes {
 public:
  explicit ApiRoutes(ApiServices services)
      : services_(std::move(services.services)), rules_(services.expose), gvproxy_stats_(services.gvproxy_stats) {}

  /// Answers one request. Never throws: an unexpected exception becomes a 500.
  HttpResponse handle(const HttpRequest& request, const ApiCaller& caller);
  /// The counters as /stats and /metrics see them.
  StatsSnapshot stats() const;

 private:
  HttpResponse route(const HttpRequest& request, const std::string& path, const ApiCaller& caller);
  HttpResponse forwarder_all();
  HttpResponse forwarder_expose(const HttpRequest& request, const ApiCaller& caller);
  HttpResponse forwarder_unexpose(const HttpRequest& request, const ApiCaller& caller);
  HttpResponse dhcp_leases();
  HttpResponse dns_all();
  HttpResponse dns_add(const HttpRequest& request);
  HttpResponse cam();
  HttpResponse tunnel(const HttpRequest& request);

  StatsSources services_;
  ExposeRules rules_;
  bool gvproxy_stats_;
};

/// The value of `name` in the target's query string ("" if absent). No percent-decoding:
/// the parameters we read (ip, port) never need it.
std::string http_query_parameter(const std::string& target, const std::string& name);

}  // namespace usernet
