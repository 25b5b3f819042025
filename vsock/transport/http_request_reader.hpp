// Reads one HTTP request from a connection's bytes with Boost.Beast's request parser,
// fed from our own buffer (no Asio sockets). For `POST /connect` it stops right after
// the headers and hands back every byte that followed them: those are already frames of
// the 2-byte little-endian protocol and must not be lost.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "netstack/base/http_message.hpp"
#include "netstack/base/ethernet.hpp"

namespace usernet {

/// Serialises a response (status line, headers, body) for the wire.
std::string serialize_http_response(const HttpResponse& response);

class HttpRequestReader {
 public:
  enum class Status {
    need_more,  // feed more bytes
    connect,    // POST /connect: leftover() holds the first frame bytes
    request,    // any other complete request: see request()
    error,      // malformed or too large: see error()
  };

  /// header_limit / body_limit bound what a client may make us buffer.
  explicit HttpRequestReader(std::size_t header_limit = 8192, std::size_t body_limit = 1 << 20);

  /// Also treats POST to `path` as /connect. gvforwarder dialing unix:///P sends
  /// "POST P" (the socket path) rather than "POST /connect".
  void add_connect_alias(std::string path) { connect_alias_ = std::move(path); }
  ~HttpRequestReader();
  HttpRequestReader(const HttpRequestReader&) = delete;
  HttpRequestReader& operator=(const HttpRequestReader&) = delete;

  /// Appends bytes read from the connection and parses as far as possible. After a
  /// status other than need_more, further calls return the same status.
  Status feed(ByteSpan bytes);

  Status status() const { return status_; }
  const HttpRequest& request() const { return request_; }
  /// Bytes received after the request (after the headers for /connect).
  ByteSpan leftover() const;
  const std::string& error() const { return error_; }

 private:
  struct Parser;
  void finish_request(bool headers_only);
  bool is_connect_target(std::string_view target) const;
  std::unique_ptr<Parser> parser_;
  std::vector<std::uint8_t> buffer_;
  std::size_t parsed_ = 0;  // bytes of buffer_ the parser consumed
  Status status_ = Status::need_more;
  HttpRequest request_;
  std::string error_;
  std::string connect_alias_;
};

/// True if the target's path (query ignored) is exactly `path`.
bool http_target_is(std::string_view target, std::string_view path);

}  // namespace usernet
