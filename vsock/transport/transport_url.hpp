// Parsing of the transport URLs accepted by usernetd's listeners and by
// usernet-forwarder: unix:///path, tcp://host:port, vsock://[cid]:port[/path],
// unixgram:///path, unixpacket:///path. Pure code, no sockets.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace usernet {

enum class UrlScheme : std::uint8_t { unix_stream, tcp, vsock, unixgram, unixpacket };

/// VMADDR_CID_ANY: "any CID" when a vsock URL names none (vsock://:1024).
inline constexpr std::uint32_t kVsockAnyCid = 0xffffffffu;

struct TransportUrl {
  UrlScheme scheme = UrlScheme::unix_stream;
  std::string text;          // the URL as given, for messages
  std::string path;          // unix*: the socket path
  std::string host;          // tcp: numeric IPv4/IPv6 address (brackets removed)
  std::uint16_t port = 0;    // tcp, vsock
  std::uint32_t cid = kVsockAnyCid;  // vsock
  std::string http_path;     // vsock/tcp: path after host:port ("/connect"), may be empty
};

/// Parses a transport URL; throws std::runtime_error("bad URL 'X': why") on anything
/// malformed (unknown scheme, empty or over-long unix path, bad port or CID, a TCP host
/// that is not a numeric address or "localhost").
TransportUrl parse_transport_url(std::string_view text);

/// Short name of a scheme ("unix", "tcp", ...).
std::string_view scheme_name(UrlScheme scheme);

}  // namespace usernet
