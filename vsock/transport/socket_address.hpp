// Socket addresses and sockets for transport URLs: the one place that turns a parsed
// URL into sockaddr_un / sockaddr_in(6) / sockaddr_vm and opens listening or
// connected sockets for it.
#pragma once

#include <sys/socket.h>

#include <string>

#include "netstack/base/ip_address.hpp"  // SocketAddress
#include "vsock/transport/transport_url.hpp"

namespace usernet {

/// Address for a unix path (path shorter than sun_path; checked by the URL parser).
SocketAddress unix_socket_address(const std::string& path);
/// Address for any URL scheme (unix*: the path; tcp: host:port; vsock: cid:port).
SocketAddress socket_address_for(const TransportUrl& url);
/// The socket type a scheme uses (SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET).
int socket_type_for(UrlScheme scheme);

/// "strerror"-style text for errno values, for error messages.
std::string errno_text(int error);

/// Puts a descriptor in non-blocking mode; false on failure.
bool set_nonblocking(int fd);

/// Enlarges a socket's kernel buffers (best effort; no-op for non-sockets), so a frame
/// relay moves bigger batches per wake-up.
void enlarge_socket_buffers(int fd, int bytes);

/// Buffer size the frame relays ask for on their stream sockets.
inline constexpr int kRelaySocketBuffer = 4 << 20;

/// Connects a blocking stream socket to the URL (unix, tcp or vsock) and returns it;
/// throws std::runtime_error naming the URL on failure.
int connect_stream(const TransportUrl& url);

}  // namespace usernet
