// An address of either family, for what the NAT keys and relays (flows, caps, host
// sockets): IPv4 is held as the IPv4-mapped IPv6 address ::ffff:a.b.c.d (RFC 4291
// §2.5.5.2), so one 16-byte value, one hash and one ordering serve both.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "netstack/base/ipv4.hpp"
#include "netstack/base/ipv6.hpp"

namespace usernet {

class IpAddress {
 public:
  IpAddress() = default;
  static IpAddress from_v4(Ipv4 address);
  static IpAddress from_v6(const Ipv6& address) { return IpAddress(address); }

  bool is_v4() const;
  /// 127.0.0.0/8 or ::1: an address only this host reaches.
  bool is_loopback() const;
  /// The IPv4 address; meaningful only when is_v4().
  Ipv4 v4() const;
  /// The 16 bytes: the IPv6 address, or ::ffff:a.b.c.d for IPv4.
  const Ipv6& v6() const { return bytes_; }
  /// "192.168.127.2" or "fd00::2".
  std::string to_string() const;
  /// "192.168.127.2:80" or "[fd00::2]:80".
  std::string with_port(std::uint16_t port) const;

  auto operator<=>(const IpAddress&) const = default;

 private:
  explicit IpAddress(const Ipv6& bytes) : bytes_(bytes) {}
  Ipv6 bytes_{};
};

/// Parses "192.168.127.2" or IPv6 text ("fd00::2"; "::ffff:a.b.c.d" reads as IPv4);
/// nullopt on anything else.
std::optional<IpAddress> parse_ip_address(std::string_view text);

struct IpAddressHash {
  std::size_t operator()(const IpAddress& address) const noexcept;
};

/// A socket address for `address`:`port` (AF_INET or AF_INET6) and its length.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
};
SocketAddress make_socket_address(const IpAddress& address, std::uint16_t port);

}  // namespace usernet
