#include "vsock/transport/transport_url.hpp"

#include <arpa/inet.h>
#include <sys/un.h>

#include <charconv>
#include <stdexcept>

namespace usernet {

namespace {

[[noreturn]] void fail(std::string_view text, std::string_view why) {
  throw std::runtime_error("bad URL '" + std::string(text) + "': " + std::string(why));
}

// Parses a decimal number in [0, max]; false on anything else.
bool parse_number(std::string_view digits, std::uint64_t max, std::uint64_t& out) {
  if (digits.empty()) return false;
  const auto* end = digits.data() + digits.size();
  auto [ptr, ec] = std::from_chars(digits.data(), end, out);
  return ec == std::errc{} && ptr == end && out <= max;
}

// "host:port" or "[v6]:port" → host and port.
void split_host_port(std::string_view text, std::string_view authority, std::string& host,
                     std::uint16_t& port) {
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos || close + 1 >= authority.size() ||
        authority[close + 1] != ':')
      fail(text, "expected [address]:port");
    host = std::string(authority.substr(1, close - 1));
    port_text = authority.substr(close + 2);
  } else {
    const auto colon = authority.rfind(':');
    if (colon == std::string_view::npos) fail(text, "missing :port");
    host = std::string(authority.substr(0, colon));
    port_text = authority.substr(colon + 1);
  }
  std::uint64_t value = 0;
  if (!parse_number(port_text, 65535, value)) fail(text, "port must be 0-65535");
  port = static_cast<std::uint16_t>(value);
}

void parse_unix_path(std::string_view text, std::string_view rest, TransportUrl& url) {
  if (rest.empty()) fail(text, "empty socket path");
  if (rest.size() >= sizeof(sockaddr_un{}.sun_path)) fail(text, "socket path too long");
  if (rest.find('\0') != std::string_view::npos) fail(text, "NUL in socket path");
  url.path = std::string(rest);
}

void parse_tcp(std::string_view text, std::string_view rest, TransportUrl& url) {
  const auto slash = rest.find('/');
  if (slash != std::string_view::npos) url.http_path = std::string(rest.substr(slash));
  split_host_port(text, rest.substr(0, slash), url.host, url.port);
  if (url.host == "localhost" || url.host.empty()) url.host = "127.0.0.1";
  unsigned char probe[16];
  if (inet_pton(AF_INET, url.host.c_str(), probe) != 1 &&
      inet_pton(AF_INET6, url.host.c_str(), probe) != 1)
    fail(text, "host must be a numeric IP address");
}

void parse_vsock(std::string_view text, std::string_view rest, TransportUrl& url) {
  const auto slash = rest.find('/');
  if (slash != std::string_view::npos) url.http_path = std::string(rest.substr(slash));
  const std::string_view authority = rest.substr(0, slash);
  const auto colon = authority.find(':');
  if (colon == std::string_view::npos) fail(text, "expected vsock://[cid]:port");
  const std::string_view cid_text = authority.substr(0, colon);
  std::uint64_t value = 0;
  if (!cid_text.empty()) {
    if (!parse_number(cid_text, 0xffffffffu, value)) fail(text, "CID must be a 32-bit number");
    url.cid = static_cast<std::uint32_t>(value);
  }
  if (!parse_number(authority.substr(colon + 1), 0xffffffffu, value))
    fail(text, "vsock port must be a 32-bit number");
  if (value > 65535) fail(text, "vsock port above 65535 is not supported");
  url.port = static_cast<std::uint16_t>(value);
}

}  // namespace

std::string_view scheme_name(UrlScheme scheme) {
  switch (scheme) {
    case UrlScheme::unix_stream: return "unix";
    case UrlScheme::tcp: return "tcp";
    case UrlScheme::vsock: return "vsock";
    case UrlScheme::unixgram: return "unixgram";
    case UrlScheme::unixpacket: return "unixpacket";
  }
  return "?";
}

TransportUrl parse_transport_url(std::string_view text) {
  TransportUrl url;
  url.text = std::string(text);
  const auto sep = text.find("://");
  if (sep == std::string_view::npos) fail(text, "expected scheme://...");
  const std::string_view scheme = text.substr(0, sep);
  const std::string_view rest = text.substr(sep + 3);
  if (scheme == "unix") {
    url.scheme = UrlScheme::unix_stream;
    parse_unix_path(text, rest, url);
  } else if (scheme == "unixgram") {
    url.scheme = UrlScheme::unixgram;
    parse_unix_path(text, rest, url);
  } else if (scheme == "unixpacket") {
    url.scheme = UrlScheme::unixpacket;
    parse_unix_path(text, rest, url);
  } else if (scheme == "tcp") {
    url.scheme = UrlScheme::tcp;
    parse_tcp(text, rest, url);
  } else if (scheme == "vsock") {
    url.scheme = UrlScheme::vsock;
    parse_vsock(text, rest, url);
  } else {
    fail(text, "unknown scheme '" + std::string(scheme) + "'");
  }
  return url;
}

}  // namespace usernet
