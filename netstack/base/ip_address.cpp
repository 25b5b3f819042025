#include "netstack/base/ip_address.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <string_view>

#include "netstack/base/byte_order.hpp"

namespace usernet {

namespace {
constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
}

IpAddress IpAddress::from_v4(Ipv4 address) {
  Ipv6 bytes{};
  std::memcpy(bytes.data(), kMappedPrefix, sizeof kMappedPrefix);
  bytes[12] = static_cast<std::uint8_t>(address >> 24);
  bytes[13] = static_cast<std::uint8_t>(address >> 16);
  bytes[14] = static_cast<std::uint8_t>(address >> 8);
  bytes[15] = static_cast<std::uint8_t>(address);
  return IpAddress(bytes);
}

bool IpAddress::is_v4() const { return std::memcmp(bytes_.data(), kMappedPrefix, sizeof kMappedPrefix) == 0; }

bool IpAddress::is_loopback() const {
  if (is_v4()) return (v4() >> 24) == 127;
  constexpr Ipv6 kLoopback{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return bytes_ == kLoopback;
}

Ipv4 IpAddress::v4() const { return load_be32(bytes_.data() + 12); }

std::string IpAddress::to_string() const { return is_v4() ? format_ipv4(v4()) : format_ipv6(bytes_); }

std::string IpAddress::with_port(std::uint16_t port) const {
  const std::string port_text = std::to_string(port);
  return is_v4() ? to_string() + ":" + port_text : "[" + to_string() + "]:" + port_text;
}

std::optional<IpAddress> parse_ip_address(std::string_view text) {
  if (auto v4 = parse_ipv4(text)) return IpAddress::from_v4(*v4);
  if (auto v6 = parse_ipv6(text)) return IpAddress::from_v6(*v6);
  return std::nullopt;
}

std::size_t IpAddressHash::operator()(const IpAddress& address) const noexcept {
  const std::string_view bytes(reinterpret_cast<const char*>(address.v6().data()), address.v6().size());
  return std::hash<std::string_view>{}(bytes);
}

SocketAddress make_socket_address(const IpAddress& address, std::uint16_t port) {
  SocketAddress out;
  if (address.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out.storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr.s_addr = htonl(address.v4());
    out.length = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, address.v6().data(), 16);
    out.length = sizeof(sockaddr_in6);
  }
  return out;
}

}  // namespace usernet
