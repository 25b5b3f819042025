// One connection to the `--listen` HTTP endpoint. `POST /connect` turns it into a
// switch port with 2-byte little-endian framing (gvforwarder's protocol; no HTTP
// response is sent, bytes pipelined after the headers are frames); any other request
// goes to a pluggable handler whose response is written before the connection closes.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "netstack/uv_handles.hpp"
#include "vsock/http_request_reader.hpp"
#include "vsock/port_context.hpp"

namespace usernet {

/// Answers every request except POST /connect (the API issue adds its routes here).
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

/// The default handler: 404 plain text.
HttpResponse not_found_handler(const HttpRequest& request);

class HttpConnection final : public Peer {
 public:
  /// Takes ownership of fd. `handler` must outlive the connection (owned by Transports).
  /// A non-empty `connect_alias` is accepted like /connect (see HttpRequestReader).
  HttpConnection(PortContext context, int fd, std::string description, const HttpHandler& handler,
                 const std::string& connect_alias = {});
  ~HttpConnection() override;
  void start();
  /// Completes a /connect hand-over (run by PeerSet at the end of the turn).
  void flush() override;

 private:
  void on_event(int status, int events);
  void read_request();
  void become_switch_port();
  void respond(const HttpResponse& response);
  void write_response();
  void finish();

  PortContext context_;
  int fd_;
  std::string description_;
  const HttpHandler& handler_;
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
