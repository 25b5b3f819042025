#include "netstack/ndp/icmpv6.hpp"

#include <algorithm>

#include "netstack/base/byte_order.hpp"

namespace usernet::ndp {

namespace {
std::uint32_t add_words(ByteSpan bytes, std::uint32_t sum) {
  for (std::size_t i = 0; i + 1 < bytes.size(); i += 2) sum += load_be16(&bytes[i]);
  if (bytes.size() % 2 != 0) sum += std::uint32_t{bytes.back()} << 8;
  return sum;
}
}  // namespace

std::uint16_t ipv6_checksum(const Ipv6& source, const Ipv6& destination, std::uint8_t next_header, ByteSpan payload) {
  std::uint32_t sum = add_words(source, 0);
  sum = add_words(destination, sum);
  const auto length = static_cast<std::uint32_t>(payload.size());
  sum += (length >> 16) + (length & 0xffff) + next_header;
  sum = add_words(payload, sum);
  while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

std::vector<std::uint8_t> build_ipv6(const Ipv6& source, const Ipv6& destination, std::uint8_t hop_limit,
                                     std::uint8_t next_header, ByteSpan payload) {
  // Sized once and copied into (not insert()): GCC 12 -O2 sees a false array-bounds
  // overflow in vector::insert after a fixed-size header.
  std::vector<std::uint8_t> packet(kIpv6HeaderSize + payload.size());
  packet[0] = 0x60;  // version 6, traffic class 0, flow label 0
  packet[4] = static_cast<std::uint8_t>(payload.size() >> 8);
  packet[5] = static_cast<std::uint8_t>(payload.size());
  packet[6] = next_header;
  packet[7] = hop_limit;
  std::copy(source.begin(), source.end(), packet.begin() + 8);
  std::copy(destination.begin(), destination.end(), packet.begin() + 24);
  std::copy(payload.begin(), payload.end(), packet.begin() + kIpv6HeaderSize);
  return packet;
}

std::optional<Ipv6Packet> parse_ipv6_header(ByteSpan packet, PacketError& error) {
  if (packet.size() < kIpv6HeaderSize) {
    error = PacketError::truncated;
    return std::nullopt;
  }
  if ((packet[0] >> 4) != 6) {
    error = PacketError::not_ipv6;
    return std::nullopt;
  }
  const std::size_t payload_length = load_be16(&packet[4]);
  if (kIpv6HeaderSize + payload_length > packet.size()) {
    error = PacketError::bad_length;
    return std::nullopt;
  }
  Ipv6Packet parsed;
  std::copy_n(&packet[8], 16, parsed.source.begin());
  std::copy_n(&packet[24], 16, parsed.destination.begin());
  parsed.hop_limit = packet[7];
  parsed.next_header = packet[6];
  parsed.payload = packet.subspan(kIpv6HeaderSize, payload_length);
  return parsed;
}

std::optional<Icmpv6Packet> icmpv6_of(const Ipv6Packet& packet, PacketError& error) {
  if (packet.next_header != kNextHeaderIcmpv6) {
    error = PacketError::not_icmpv6;
    return std::nullopt;
  }
  if (packet.payload.size() < 4) {
    error = PacketError::bad_length;
    return std::nullopt;
  }
  // Over a message holding its correct checksum the sum comes out as zero.
  if (icmpv6_checksum(packet.source, packet.destination, packet.payload) != 0) {
    error = PacketError::bad_checksum;
    return std::nullopt;
  }
  return Icmpv6Packet{packet.source, packet.destination, packet.hop_limit, packet.payload};
}

std::optional<Icmpv6Packet> parse_icmpv6(ByteSpan packet, PacketError& error) {
  const auto parsed = parse_ipv6_header(packet, error);
  if (!parsed) return std::nullopt;
  return icmpv6_of(*parsed, error);
}

std::vector<std::uint8_t> build_icmpv6(const Ipv6& source, const Ipv6& destination, std::uint8_t hop_limit,
                                       std::vector<std::uint8_t> message) {
  message[2] = message[3] = 0;
  const std::uint16_t checksum = icmpv6_checksum(source, destination, message);
  message[2] = static_cast<std::uint8_t>(checksum >> 8);
  message[3] = static_cast<std::uint8_t>(checksum);
  return build_ipv6(source, destination, hop_limit, kNextHeaderIcmpv6, message);
}

std::optional<std::vector<std::uint8_t>> echo_reply(const Icmpv6Packet& request, const Ipv6& from) {
  constexpr std::size_t kEchoHeader = 8;  // type, code, checksum, identifier, sequence
  if (request.message.size() < kEchoHeader || request.message[0] != static_cast<std::uint8_t>(Icmpv6Type::echo_request) ||
      request.message[1] != 0)
    return std::nullopt;
  std::vector<std::uint8_t> reply(request.message.begin(), request.message.end());
  reply[0] = static_cast<std::uint8_t>(Icmpv6Type::echo_reply);
  return build_icmpv6(from, request.source, 64, std::move(reply));
}

}  // namespace usernet::ndp
