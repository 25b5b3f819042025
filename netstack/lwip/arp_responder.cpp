#include "netstack/lwip/arp_responder.hpp"

#include <algorithm>

#include "netstack/base/byte_order.hpp"

namespace usernet {

namespace {
constexpr std::size_t kArpPacketSize = 28;
constexpr std::size_t kMinimumFrame = 60;  // Ethernet minimum without FCS
}  // namespace

std::optional<std::vector<std::uint8_t>> arp_reply_for(ByteSpan frame, const MacAddress& our_mac,
                                                        const std::function<bool(Ipv4)>& owns) {
  if (frame.size() < kEthernetHeaderSize + kArpPacketSize) return std::nullopt;
  if (frame_ethertype(frame) != static_cast<std::uint16_t>(EtherType::arp)) return std::nullopt;
  const std::uint8_t* arp = frame.data() + kEthernetHeaderSize;
  // Ethernet/IPv4 ARP only: htype 1, ptype 0x0800, hlen 6, plen 4.
  if (load_be16(arp) != 1 || load_be16(arp + 2) != 0x0800 || arp[4] != 6 || arp[5] != 4) return std::nullopt;
  if (load_be16(arp + 6) != static_cast<std::uint16_t>(ArpOperation::request)) return std::nullopt;
  const std::uint8_t* sender_mac = arp + 8;
  const std::uint8_t* sender_ip = arp + 14;
  const Ipv4 target_ip = load_be32(arp + 24);
  if (!owns(target_ip)) return std::nullopt;

  std::vector<std::uint8_t> reply(kMinimumFrame, 0);
  std::copy(sender_mac, sender_mac + 6, reply.begin());
  std::copy(our_mac.begin(), our_mac.end(), reply.begin() + 6);
  reply[12] = 0x08;
  reply[13] = 0x06;
  std::uint8_t* out = reply.data() + kEthernetHeaderSize;
  std::copy(arp, arp + 6, out);  // same htype/ptype/hlen/plen
  out[6] = 0;
  out[7] = static_cast<std::uint8_t>(ArpOperation::reply);
  std::copy(our_mac.begin(), our_mac.end(), out + 8);
  std::copy(arp + 24, arp + 28, out + 14);  // we are the target address
  std::copy(sender_mac, sender_mac + 6, out + 18);
  std::copy(sender_ip, sender_ip + 4, out + 24);
  return reply;
}

}  // namespace usernet
