// Ethernet frame basics shared by the switch, the gateway and the transports.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace usernet {

using MacAddress = std::array<std::uint8_t, 6>;
using ByteSpan = std::span<const std::uint8_t>;

inline constexpr std::size_t kEthernetHeaderSize = 14;
inline constexpr MacAddress kBroadcastMac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

enum class EtherType : std::uint16_t { ipv4 = 0x0800, arp = 0x0806, vlan = 0x8100, ipv6 = 0x86dd };

/// Destination MAC of a frame of at least kEthernetHeaderSize bytes.
inline MacAddress frame_destination(ByteSpan frame) {
  MacAddress mac;
  for (std::size_t i = 0; i < mac.size(); ++i) mac[i] = frame[i];
  return mac;
}

/// Source MAC of a frame of at least kEthernetHeaderSize bytes.
inline MacAddress frame_source(ByteSpan frame) {
  MacAddress mac;
  for (std::size_t i = 0; i < mac.size(); ++i) mac[i] = frame[6 + i];
  return mac;
}

/// EtherType field (no VLAN unwrapping) of a frame of at least kEthernetHeaderSize bytes.
inline std::uint16_t frame_ethertype(ByteSpan frame) {
  return static_cast<std::uint16_t>((frame[12] << 8) | frame[13]);
}

/// Group bit: broadcast and multicast destinations.
inline bool is_group_address(const MacAddress& mac) { return (mac[0] & 0x01) != 0; }

/// "5a:94:ef:e4:0c:ee" form.
std::string format_mac(const MacAddress& mac);

/// Parses "aa:bb:cc:dd:ee:ff" (also '-' separated); nullopt on anything else.
std::optional<MacAddress> parse_mac(std::string_view text);

}  // namespace usernet
