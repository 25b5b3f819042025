#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "vsock/transport/http_request_reader.hpp"

using namespace usernet;

namespace {
ByteSpan bytes(const std::string& s) {
  return ByteSpan(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}
std::string text(ByteSpan b) { return std::string(b.begin(), b.end()); }

// What Go's http.Request.Write emits for gvforwarder's POST /connect.
const std::string kGoConnect =
    "POST /connect HTTP/1.1\r\nHost: \r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: 0\r\n\r\n";
}  // namespace

TEST_CASE("POST /connect stops after the headers and keeps pipelined frame bytes") {
  HttpRequestReader reader;
  const std::string frames = std::string("\x3c\x00", 2) + std::string(60, 'F') + "\x0e";
  CHECK(reader.feed(bytes(kGoConnect + frames)) == HttpRequestReader::Status::connect);
  CHECK(text(reader.leftover()) == frames);
  CHECK(reader.request().method == "POST");
  CHECK(reader.request().target == "/connect");
}

TEST_CASE("POST /connect split across reads: bytes after the headers, in any piece, are kept") {
  const std::string header = "POST /connect HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string frame = std::string("\x0e\x00", 2) + "ABCDEFGHIJKLMN";
  const std::string wire = header + frame;
  for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{8}, wire.size()}) {
    CAPTURE(chunk);
    HttpRequestReader reader;
    std::vector<HttpRequestReader::Status> seen;
    for (std::size_t i = 0; i < wire.size(); i += chunk) seen.push_back(reader.feed(bytes(wire.substr(i, chunk))));
    CHECK(seen.back() == HttpRequestReader::Status::connect);
    CHECK(text(reader.leftover()) == frame);
  }
}

TEST_CASE("gvforwarder over unix posts to the socket path: accepted when declared as an alias") {
  const std::string request = "POST /run/usernet/api.sock HTTP/1.1\r\nHost: \r\n\r\n";
  HttpRequestReader plain;
  CHECK(plain.feed(bytes(request)) == HttpRequestReader::Status::request);
  HttpRequestReader aliased;
  aliased.add_connect_alias("/run/usernet/api.sock");
  CHECK(aliased.feed(bytes(request + "xy")) == HttpRequestReader::Status::connect);
  CHECK(text(aliased.leftover()) == "xy");
}

TEST_CASE("a request with nothing after the headers leaves no frame bytes") {
  HttpRequestReader reader;
  CHECK(reader.feed(bytes(kGoConnect)) == HttpRequestReader::Status::connect);
  CHECK(reader.leftover().empty());
}

TEST_CASE("other requests are complete requests for the handler, body included") {
  HttpRequestReader reader;
  CHECK(reader.feed(bytes("POST /services/forwarder/expose HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab")) ==
        HttpRequestReader::Status::need_more);
  CHECK(reader.feed(bytes("cde")) == HttpRequestReader::Status::request);
  CHECK(reader.request().target == "/services/forwarder/expose");
  CHECK(reader.request().body == "abcde");
  HttpRequestReader get;
  CHECK(get.feed(bytes("GET /connect HTTP/1.1\r\nHost: x\r\n\r\n")) == HttpRequestReader::Status::request);
  CHECK(get.request().method == "GET");
}

TEST_CASE("garbage and oversized headers are errors") {
  HttpRequestReader garbage;
  CHECK(garbage.feed(bytes("\x01\x02 not http\r\n\r\n")) == HttpRequestReader::Status::error);
  CHECK_FALSE(garbage.error().empty());
  HttpRequestReader big(1024);
  auto status = big.feed(bytes("GET / HTTP/1.1\r\nX: " + std::string(2000, 'a') + "\r\n\r\n"));
  CHECK(status == HttpRequestReader::Status::error);
}

TEST_CASE("target matching ignores the query string only") {
  CHECK(http_target_is("/connect", "/connect"));
  CHECK(http_target_is("/connect?x=1", "/connect"));
  CHECK_FALSE(http_target_is("/connectx", "/connect"));
  CHECK_FALSE(http_target_is("/", "/connect"));
}

TEST_CASE("responses are serialised with length and close") {
  const std::string wire = serialize_http_response(HttpResponse{});
  CHECK(wire.rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);
  CHECK(wire.find("Content-Length: 19\r\n") != std::string::npos);
  CHECK(wire.find("Connection: close\r\n") != std::string::npos);
  CHECK(wire.substr(wire.size() - 19) == "404 page not found\n");
}
