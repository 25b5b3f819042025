// IPv6 fixed header and ICMPv6 framing for the neighbour discovery engine: parse a packet
// a guest sent, build one to send back, and the checksum over RFC 8200's pseudo-header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "netstack/base/ethernet.hpp"
#include "netstack/base/icmp.hpp"
#include "netstack/base/ipv6.hpp"

namespace usernet::ndp {

inline constexpr std::size_t kIpv6HeaderSize = 40;
inline constexpr std::uint8_t kNextHeaderIcmpv6 = 58;
/// Neighbour discovery messages must arrive with, and are sent with, hop limit 255
/// (RFC 4861 §6.1.1): proof that no router forwarded them.
inline constexpr std::uint8_t kNdHopLimit = 255;

using ::usernet::Icmpv6Type;  // netstack/base/icmp.hpp: every ICMPv6 type usernet handles

/// An IPv6 packet's fixed header as received, and its payload (pointing into the
/// caller's buffer, without any Ethernet padding past the payload length).
struct Ipv6Packet {
  Ipv6 source{};
  Ipv6 destination{};
  std::uint8_t hop_limit = 0;
  std::uint8_t next_header = 0;
  ByteSpan payload;
};

/// An ICMPv6 packet as received: the addresses, hop limit and ICMPv6 message bytes
/// (pointing into the caller's buffer).
struct Icmpv6Packet {
  Ipv6 source{};
  Ipv6 destination{};
  std::uint8_t hop_limit = 0;
  ByteSpan message;  // type, code, checksum, body
};

enum class PacketError { truncated, not_ipv6, not_icmpv6, bad_length, bad_checksum };

/// Splits an IPv6 packet into header fields and payload; nullopt (with the reason) when it
/// is shorter than its header, not version 6, or shorter than its payload length says.
std::optional<Ipv6Packet> parse_ipv6_header(ByteSpan packet, PacketError& error);

/// The ICMPv6 message of a parsed packet, its checksum verified.
std::optional<Icmpv6Packet> icmpv6_of(const Ipv6Packet& packet, PacketError& error);

/// Splits an IPv6 packet whose next header is ICMPv6 (no extension headers: neighbour
/// discovery never carries them). Trailing bytes past the payload length (Ethernet
/// padding) are ignored. The checksum is verified.
std::optional<Icmpv6Packet> parse_icmpv6(ByteSpan packet, PacketError& error);

/// The checksum of an upper-layer payload over RFC 8200 §8.1's pseudo-header (its
/// checksum field included as it is: 0 over a payload holding its correct checksum).
std::uint16_t ipv6_checksum(const Ipv6& source, const Ipv6& destination, std::uint8_t next_header, ByteSpan payload);
inline std::uint16_t icmpv6_checksum(const Ipv6& source, const Ipv6& destination, ByteSpan message) {
  return ipv6_checksum(source, destination, kNextHeaderIcmpv6, message);
}

/// An IPv6 packet (fixed header only) around `payload`.
std::vector<std::uint8_t> build_ipv6(const Ipv6& source, const Ipv6& destination, std::uint8_t hop_limit,
                                     std::uint8_t next_header, ByteSpan payload);

/// An IPv6 packet carrying `message` (whose checksum field is filled in here).
std::vector<std::uint8_t> build_icmpv6(const Ipv6& source, const Ipv6& destination, std::uint8_t hop_limit,
                                       std::vector<std::uint8_t> message);

/// The echo reply to an echo request (type 128) `request` addressed to `from`; nullopt
/// when it is not a well-formed echo request.
std::optional<std::vector<std::uint8_t>> echo_reply(const Icmpv6Packet& request, const Ipv6& from);

}  // namespace usernet::ndp
