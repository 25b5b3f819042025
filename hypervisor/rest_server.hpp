// The REST API's HTTP server on a libuv loop: listens on a unix socket (mode 0600) or a
// TCP address, reads one request per connection with Boost.Beast's parser (bounded
// header and body sizes, 10 s to finish), passes it to a handler and writes the response
// with "Connection: close".
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "hypervisor/rest_api.hpp"
#include "hypervisor/vm_options.hpp"
#include "netstack/base/result.hpp"

namespace usernet {

class RestServer {
 public:
  using Handler = std::function<RestResponse(const RestRequest&)>;

  RestServer(uv_loop_t* loop, Handler handler);
  ~RestServer();
  RestServer(const RestServer&) = delete;
  RestServer& operator=(const RestServer&) = delete;

  /// Starts listening, or says why it cannot. A stale unix socket file is replaced.
  Status listen(const RestEndpoint& endpoint);
  /// The bound TCP port (after listen on port 0 in tests), else 0.
  int tcp_port() const;

  class Connection;

 private:
  friend class Connection;
  static void on_connection(uv_stream_t* server, int status);

  uv_loop_t* loop_;
  Handler handler_;
  uv_stream_t* listener_ = nullptr;
  std::string unix_path_;  // removed on destruction
  std::set<Connection*> connections_;  // live clients, closed with the server
};

/// Serialises a response for the wire (status line, Content-Type, Content-Length,
/// Connection: close, body).
std::string serialize_rest_response(const RestResponse& response);

}  // namespace usernet
