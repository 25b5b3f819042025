// The hybrid-vsock host command (Firecracker / vhost-device-vsock convention): a host client
// connecting to `<uds-path>` first writes `CONNECT <port>\n`; on success it reads
// `OK <host port>\n` and the stream is then connected to the guest's listener on <port>.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace usernet::vsock {

/// Longest command line we wait for (including the newline).
inline constexpr std::size_t kMaxConnectLine = 64;

/// Parses one command line without its '\n' ("CONNECT 1234", an optional trailing '\r' is
/// tolerated). Returns the port, or nullopt for anything else.
std::optional<std::uint32_t> parse_connect_command(std::string_view line);

}  // namespace usernet::vsock
