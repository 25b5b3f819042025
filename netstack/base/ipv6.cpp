#include "netstack/base/ipv6.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace usernet {

std::optional<Ipv6> parse_ipv6(std::string_view text) {
  if (text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string copy(text);  // inet_pton wants a terminated string
  Ipv6 address{};
  if (inet_pton(AF_INET6, copy.c_str(), address.data()) != 1) return std::nullopt;
  return address;
}

std::string format_ipv6(const Ipv6& address) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, address.data(), text, sizeof text);
  return text;
}

bool Ipv6Prefix::contains(const Ipv6& address) const {
  for (unsigned bit = 0; bit < length; bit += 8) {
    const unsigned byte = bit / 8;
    const unsigned bits = length - bit < 8 ? length - bit : 8;
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((address[byte] & mask) != network[byte]) return false;
  }
  return true;
}

std::string Ipv6Prefix::to_string() const { return format_ipv6(network) + "/" + std::to_string(length); }

std::optional<Ipv6Prefix> parse_ipv6_prefix(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto address = parse_ipv6(text.substr(0, slash));
  const std::string_view digits = text.substr(slash + 1);
  unsigned length = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
  if (!address || digits.empty() || error != std::errc{} || end != digits.data() + digits.size() || length > 128)
    return std::nullopt;
  Ipv6Prefix prefix{*address, length};
  Ipv6 masked{};
  for (unsigned i = 0; i < 16; ++i) {
    const unsigned start = i * 8;
    if (start >= length) break;
    const unsigned bits = length - start < 8 ? length - start : 8;
    masked[i] = static_cast<std::uint8_t>((*address)[i] & (0xff << (8 - bits)));
  }
  if (masked != *address) return std::nullopt;  // host bits set
  return prefix;
}

}  // namespace usernet
