#include "netstack/switch/sender_ip_policy.hpp"

#include <algorithm>

namespace usernet {

namespace {
constexpr std::size_t kVlanTagSize = 4;
constexpr std::size_t kArpSenderIpOffset = 14;  // in the ARP body (Ethernet/IPv4 layout)
constexpr std::size_t kArpBodySize = 28;
constexpr std::size_t kIpv4SourceOffset = 12;
constexpr std::size_t kIpv4MinHeader = 20;
constexpr std::size_t kIpv6SourceOffset = 8;
constexpr std::size_t kIpv6Header = 40;

Ipv4 read_ipv4(ByteSpan bytes, std::size_t at) {
  return (Ipv4{bytes[at]} << 24) | (Ipv4{bytes[at + 1]} << 16) | (Ipv4{bytes[at + 2]} << 8) | bytes[at + 3];
}
}  // namespace

std::optional<Ipv4> frame_sender_ipv4(ByteSpan frame) {
  if (frame.size() < kEthernetHeaderSize) return std::nullopt;
  std::size_t body = kEthernetHeaderSize;
  std::uint16_t type = frame_ethertype(frame);
  if (type == static_cast<std::uint16_t>(EtherType::vlan)) {
    if (frame.size() < kEthernetHeaderSize + kVlanTagSize) return std::nullopt;
    type = static_cast<std::uint16_t>((frame[16] << 8) | frame[17]);
    body += kVlanTagSize;
  }
  std::optional<Ipv4> sender;
  if (type == static_cast<std::uint16_t>(EtherType::arp) && frame.size() >= body + kArpBodySize)
    sender = read_ipv4(frame, body + kArpSenderIpOffset);
  else if (type == static_cast<std::uint16_t>(EtherType::ipv4) && frame.size() >= body + kIpv4MinHeader)
    sender = read_ipv4(frame, body + kIpv4SourceOffset);
  if (sender == Ipv4{0}) return std::nullopt;
  return sender;
}

std::optional<IpAddress> frame_sender(ByteSpan frame) {
  if (auto v4 = frame_sender_ipv4(frame)) return IpAddress::from_v4(*v4);
  if (frame.size() < kEthernetHeaderSize + kIpv6Header ||
      frame_ethertype(frame) != static_cast<std::uint16_t>(EtherType::ipv6))
    return std::nullopt;
  Ipv6 source;
  std::copy_n(frame.begin() + kEthernetHeaderSize + kIpv6SourceOffset, source.size(), source.begin());
  if (is_unspecified(source) || is_multicast(source)) return std::nullopt;
  return IpAddress::from_v6(source);
}

SenderVerdict SenderIpPolicy::check(const MacAddress& source, const IpAddress& sender) const {
  if (const auto reserved = reserved_.find(sender); reserved != reserved_.end())
    return reserved->second == source ? SenderVerdict::allowed : SenderVerdict::ip_reserved;
  if (owners_ == nullptr || !sender.is_v4()) return SenderVerdict::allowed;
  const auto owner = owners_->owner_of(sender.v4());
  return !owner || *owner == source ? SenderVerdict::allowed : SenderVerdict::ip_taken;
}

}  // namespace usernet
