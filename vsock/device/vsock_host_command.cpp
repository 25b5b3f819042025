// CONNECT line parser; see vsock_host_command.hpp.
#include "vsock/device/vsock_host_command.hpp"

#include <charconv>

namespace usernet::vsock {

// "CONNECT" + one space + decimal u32, nothing else.
std::optional<std::uint32_t> parse_connect_command(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  constexpr std::string_view kVerb = "CONNECT ";
  if (!line.starts_with(kVerb)) return std::nullopt;
  line.remove_prefix(kVerb.size());
  if (line.empty() || line.size() > 10) return std::nullopt;
  std::uint32_t port = 0;
  const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), port);
  if (ec != std::errc{} || end != line.data() + line.size()) return std::nullopt;
  return port;
}

}  // namespace usernet::vsock
