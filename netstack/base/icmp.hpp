// ICMP (RFC 792, RFC 1812) and ICMPv6 (RFC 4443, RFC 4861) message types and codes the NAT,
// the gateway and the neighbour-discovery engine send or read, in one place.
#pragma once

#include <cstddef>
#include <cstdint>

namespace usernet {

/// Type, code, checksum and the 4-byte rest of header every ICMP message starts with.
inline constexpr std::size_t kIcmpHeaderSize = 8;

enum class IcmpType : std::uint8_t { echo_reply = 0, destination_unreachable = 3, echo_request = 8 };
enum class IcmpUnreachableCode : std::uint8_t { host = 1, port = 3, administratively_prohibited = 13 };

enum class Icmpv6Type : std::uint8_t {
  destination_unreachable = 1,
  echo_request = 128,
  echo_reply = 129,
  router_solicitation = 133,
  router_advertisement = 134,
  neighbor_solicitation = 135,
  neighbor_advertisement = 136,
};
enum class Icmpv6UnreachableCode : std::uint8_t { administratively_prohibited = 1, address = 3, port = 4 };

/// The wire byte of a type or code.
template <typename Enum>
constexpr std::uint8_t icmp_byte(Enum value) {
  return static_cast<std::uint8_t>(value);
}

/// Echo request and reply types of a family.
constexpr std::uint8_t echo_request_type(bool v4) {
  return v4 ? icmp_byte(IcmpType::echo_request) : icmp_byte(Icmpv6Type::echo_request);
}
constexpr std::uint8_t echo_reply_type(bool v4) {
  return v4 ? icmp_byte(IcmpType::echo_reply) : icmp_byte(Icmpv6Type::echo_reply);
}
/// Destination unreachable, and its "port", "host" and "prohibited" codes, of a family.
constexpr std::uint8_t unreachable_type(bool v4) {
  return v4 ? icmp_byte(IcmpType::destination_unreachable) : icmp_byte(Icmpv6Type::destination_unreachable);
}
constexpr std::uint8_t port_unreachable_code(bool v4) {
  return v4 ? icmp_byte(IcmpUnreachableCode::port) : icmp_byte(Icmpv6UnreachableCode::port);
}
constexpr std::uint8_t host_unreachable_code(bool v4) {
  return v4 ? icmp_byte(IcmpUnreachableCode::host) : icmp_byte(Icmpv6UnreachableCode::address);
}
constexpr std::uint8_t prohibited_code(bool v4) {
  return v4 ? icmp_byte(IcmpUnreachableCode::administratively_prohibited)
            : icmp_byte(Icmpv6UnreachableCode::administratively_prohibited);
}

}  // namespace usernet
