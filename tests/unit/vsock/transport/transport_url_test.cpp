#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "vsock/transport/transport_url.hpp"

using namespace usernet;

TEST_CASE("unix, unixgram and unixpacket URLs carry the path") {
  auto url = parse_transport_url("unix:///run/usernet/qemu.sock");
  CHECK(url.scheme == UrlScheme::unix_stream);
  CHECK(url.path == "/run/usernet/qemu.sock");
  CHECK(parse_transport_url("unixgram:///tmp/v.sock").scheme == UrlScheme::unixgram);
  CHECK(parse_transport_url("unixpacket:///tmp/b.sock").path == "/tmp/b.sock");
  CHECK(parse_transport_url("unix://relative.sock").path == "relative.sock");
}

TEST_CASE("tcp URLs need a numeric host and a port") {
  auto url = parse_transport_url("tcp://127.0.0.1:1234");
  CHECK(url.scheme == UrlScheme::tcp);
  CHECK(url.host == "127.0.0.1");
  CHECK(url.port == 1234);
  CHECK(parse_transport_url("tcp://localhost:80").host == "127.0.0.1");
  auto v6 = parse_transport_url("tcp://[::1]:8080");
  CHECK(v6.host == "::1");
  CHECK(v6.port == 8080);
  CHECK_THROWS_AS(parse_transport_url("tcp://127.0.0.1"), std::runtime_error);
  CHECK_THROWS_AS(parse_transport_url("tcp://127.0.0.1:65536"), std::runtime_error);
  CHECK_THROWS_AS(parse_transport_url("tcp://127.0.0.1:-1"), std::runtime_error);
  CHECK_THROWS_AS(parse_transport_url("tcp://example.com:80"), std::runtime_error);
}

TEST_CASE("vsock URLs: optional CID, port, optional HTTP path") {
  auto listen = parse_transport_url("vsock://:1024");
  CHECK(listen.scheme == UrlScheme::vsock);
  CHECK(listen.cid == kVsockAnyCid);
  CHECK(listen.port == 1024);
  CHECK(listen.http_path.empty());
  auto dial = parse_transport_url("vsock://2:1024/connect");
  CHECK(dial.cid == 2);
  CHECK(dial.port == 1024);
  CHECK(dial.http_path == "/connect");
  CHECK_THROWS_AS(parse_transport_url("vsock://1024"), std::runtime_error);
  CHECK_THROWS_AS(parse_transport_url("vsock://x:1024"), std::runtime_error);
  CHECK_THROWS_AS(parse_transport_url("vsock://2:"), std::runtime_error);
  CHECK_THROWS_AS(parse_transport_url("vsock://99999999999:1"), std::runtime_error);
}

TEST_CASE("malformed URLs are refused with a message naming the URL") {
  const std::string too_long = "unix:///" + std::string(200, 'a');
  for (const std::string bad : {"", "/tmp/x.sock", "http://x", "unix://", too_long.c_str()}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_transport_url(bad), std::runtime_error);
  }
  try {
    parse_transport_url("udp://1.2.3.4:5");
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("udp://1.2.3.4:5") != std::string::npos);
  }
}
