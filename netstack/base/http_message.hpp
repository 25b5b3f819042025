// The HTTP request and response as the control API sees them. The bytes are parsed and
// written by the transports (vsock/transport/http_request_reader, http_connection); the
// API routes (netstack/api/api_routes) only map one to the other, so they stay testable
// without sockets. Here, below both, so the transports need not link the API.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "netstack/base/ipv4.hpp"

namespace usernet {

/// A complete HTTP request.
struct HttpRequest {
  std::string method;
  std::string target;  // as sent: path plus optional ?query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

/// Who is asking.
struct ApiCaller {
  bool from_guest = false;  // the in-guest API on gateway:80
  Ipv4 guest_ip = 0;        // its address (a remote of ":PORT" means this guest)
};

/// Takes over a hijacked connection's socket (it owns the descriptor from then on).
using HttpTakeOver = std::function<void(int fd)>;

/// The handler's answer; sent with Content-Length and "Connection: close".
struct HttpResponse {
  unsigned status = 404;
  std::string content_type = "text/plain";
  std::string body = "404 page not found\n";
  /// When set, the connection is hijacked: `body` is written raw (no status line or
  /// headers; gvproxy's /tunnel answers a bare "OK"), then the socket goes to this function.
  HttpTakeOver take_over;
};

}  // namespace usernet
