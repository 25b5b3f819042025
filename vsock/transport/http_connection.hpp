// One connection to the `--listen` HTTP endpoint. `POST /connect` turns it into a
// switch port with 2-byte little-endian framing (gvforwarder's protocol; no HTTP
// response is sent, bytes pipelined after the headers are frames); any other request
// goes to a pluggable handler whose response is written before the connection closes,
// or, for a hijacking response (HttpResponse::take_over), before the socket is handed on.
// `--services` endpoints and the in-guest API use the same class without /connect.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "netstack/base/uv_handles.hpp"
#include "vsock/transport/http_request_reader.hpp"
#include "vsock/transport/port_context.hpp"

namespace usernet {

/// Answers every request except POST /connect (the control API's routes).
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

/// The default handler: 404 plain text.
HttpResponse not_found_handler(const HttpRequest& request);

class HttpConnection final : public Peer {
 public:
  /// Takes ownership of fd. A non-empty `connect_alias` is accepted like /connect (see
  /// HttpRequestReader). Without `allow_connect`, /connect is an ordinary (404) route.
  HttpConnection(PortContext context, int fd, std::string description, HttpHandler handler,
                 const std::string& connect_alias = {}, bool allow_connect = true);
  ~HttpConnection() override;
  void start();
  /// Completes a /connect or take-over hand-over (run by PeerSet at the end of the turn).
  void flush() override;

 private:
  void on_event(int status, int events);
  void read_request();
  void become_switch_port();
  void respond(const HttpResponse& response);
  void write_response();
  void finish();
  void hand_over_socket();

  PortContext context_;
  int fd_;
  std::string description_;
  HttpHandler handler_;
  bool allow_connect_;
  HttpTakeOver take_over_;  // set while a hijacking response is being written
  HttpRequestReader reader_;
  std::string response_;
  std::size_t response_sent_ = 0;
  bool done_ = false;
  bool handing_over_ = false;
  std::unique_ptr<PollWatcher> watch_;
  std::unique_ptr<Timer> deadline_;  // a client must finish its request in time
};

/// How long a client may take to send its request (or read our answer).
inline constexpr std::uint64_t kHttpRequestTimeoutMs = 30000;

}  // namespace usernet
