// The one parser of a TCP/UDP port given as text (flags, URLs, API requests): decimal
// digits only, 1..65535. Callers word their own error, naming the flag or field.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace usernet {

/// The port `text` names, or nullopt for anything but a decimal number in 1..65535.
inline std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535)
    return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

}  // namespace usernet
