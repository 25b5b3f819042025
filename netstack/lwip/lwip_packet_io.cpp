#include "netstack/lwip/lwip_packet_io.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "netstack/base/byte_order.hpp"
#include "netstack/base/icmp.hpp"

extern "C" {
#include "lwip/icmp.h"
#include "lwip/icmp6.h"
#include "lwip/inet_chksum.h"
#include "lwip/ip.h"
#include "lwip/ip4_frag.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/ip4.h"
#include "lwip/prot/ip6.h"
#include "lwip/prot/udp.h"
}

#include "netstack/lwip/lwip_address.hpp"

namespace usernet {

namespace {
constexpr std::uint16_t kUdpHeaderSize = 8;
constexpr std::uint16_t kIpv6HeaderSize = 40;
// An ICMPv6 error quotes as much of the offending packet as fits in the minimum MTU
// (RFC 4443 §2.4 (c)).
constexpr std::size_t kIpv6MinimumMtu = 1280;

bool is_ipv6_packet(const pbuf* p) {
  return p->len > 0 && (static_cast<const std::uint8_t*>(p->payload)[0] >> 4) == 6;
}

}  // namespace

bool copy_from_pbuf(const pbuf* p, std::uint16_t offset, void* out, std::uint16_t length) {
  if (p == nullptr || p->tot_len < offset || p->tot_len - offset < length) return false;
  return pbuf_copy_partial(p, out, length, offset) == length;
}

std::optional<IpHeader> read_ipv4_header(const pbuf* p) {
  std::uint8_t raw[20];
  if (!copy_from_pbuf(p, 0, raw, sizeof raw)) return std::nullopt;
  if ((raw[0] >> 4) != 4) return std::nullopt;
  IpHeader h;
  h.header_length = static_cast<std::uint16_t>((raw[0] & 0x0f) * 4);
  h.total_length = load_be16(raw + 2);
  if (h.header_length < 20 || h.total_length < h.header_length || h.total_length > p->tot_len ||
      p->len < h.header_length)
    return std::nullopt;
  const std::uint16_t fragment = load_be16(raw + 6);
  h.is_fragment = (fragment & 0x3fff) != 0;  // MF flag or a non-zero offset
  h.ttl = raw[8];
  h.protocol = raw[9];
  h.source = IpAddress::from_v4(load_be32(raw + 12));
  h.destination = IpAddress::from_v4(load_be32(raw + 16));
  return h;
}

std::optional<IpHeader> read_ipv6_header(const pbuf* p) {
  std::uint8_t raw[kIpv6HeaderSize];
  if (!copy_from_pbuf(p, 0, raw, sizeof raw) || (raw[0] >> 4) != 6 || p->len < kIpv6HeaderSize) return std::nullopt;
  const std::uint32_t total = kIpv6HeaderSize + std::uint32_t{load_be16(raw + 4)};
  if (total > p->tot_len) return std::nullopt;
  IpHeader h;
  h.header_length = kIpv6HeaderSize;
  h.total_length = static_cast<std::uint16_t>(total);
  h.protocol = raw[6];
  h.ttl = raw[7];
  Ipv6 address;
  std::memcpy(address.data(), raw + 8, 16);
  h.source = IpAddress::from_v6(address);
  std::memcpy(address.data(), raw + 24, 16);
  h.destination = IpAddress::from_v6(address);
  return h;
}

std::optional<TcpHeader> read_tcp_header(const pbuf* p, const IpHeader& ip) {
  std::uint8_t raw[20];
  if (ip.total_length - ip.header_length < 20 || !copy_from_pbuf(p, ip.header_length, raw, 20))
    return std::nullopt;
  TcpHeader t;
  t.source_port = load_be16(raw);
  t.destination_port = load_be16(raw + 2);
  t.sequence = load_be32(raw + 4);
  t.acknowledgment = load_be32(raw + 8);
  t.header_length = static_cast<std::uint16_t>((raw[12] >> 4) * 4);
  t.flags = raw[13];
  if (t.header_length < 20 || t.header_length > ip.total_length - ip.header_length) return std::nullopt;
  return t;
}

std::optional<UdpHeader> read_udp_header(const pbuf* p, const IpHeader& ip) {
  std::uint8_t raw[kUdpHeaderSize];
  if (ip.total_length - ip.header_length < kUdpHeaderSize ||
      !copy_from_pbuf(p, ip.header_length, raw, kUdpHeaderSize))
    return std::nullopt;
  UdpHeader u{load_be16(raw), load_be16(raw + 2), load_be16(raw + 4)};
  if (u.length < kUdpHeaderSize || u.length > ip.total_length - ip.header_length) return std::nullopt;
  return u;
}

pbuf* reassemble_ipv4(pbuf* p) { return ip4_reass(p); }

void trim_to_ip_length(pbuf* p, std::uint16_t total_length) {
  if (p->tot_len > total_length) pbuf_realloc(p, total_length);
}

void inject_tcp_segment(pbuf* p, netif* input) {
  // What ip4_input or ip6_input would have set for a packet addressed to us (ip.h's ip_data).
  u16_t hlen = 0;
  if (is_ipv6_packet(p)) {
    auto* header = static_cast<ip6_hdr*>(p->payload);
    hlen = IP6_HLEN;
    ip_data.current_ip4_header = nullptr;
    ip_data.current_ip6_header = header;
    ip_addr_copy_from_ip6_packed(ip_data.current_iphdr_dest, header->dest);
    ip_addr_copy_from_ip6_packed(ip_data.current_iphdr_src, header->src);
  } else {
    auto* header = static_cast<ip_hdr*>(p->payload);
    hlen = IPH_HL_BYTES(header);
    ip_data.current_ip4_header = header;
    ip_data.current_ip6_header = nullptr;
    ip_addr_copy_from_ip4(ip_data.current_iphdr_dest, header->dest);
    ip_addr_copy_from_ip4(ip_data.current_iphdr_src, header->src);
  }
  ip_data.current_netif = input;
  ip_data.current_input_netif = input;
  ip_data.current_ip_header_tot_len = hlen;
  if (pbuf_remove_header(p, hlen) != 0) {
    pbuf_free(p);
  } else {
    tcp_input(p, input);
  }
  ip_data.current_netif = nullptr;
  ip_data.current_input_netif = nullptr;
  ip_data.current_ip4_header = nullptr;
  ip_data.current_ip6_header = nullptr;
  ip_data.current_ip_header_tot_len = 0;
  ip_addr_set_zero(&ip_data.current_iphdr_src);
  ip_addr_set_zero(&ip_data.current_iphdr_dest);
}

bool send_udp_to_guest(netif* out, const IpAddress& src, std::uint16_t sport, const IpAddress& dst,
                       std::uint16_t dport, ByteSpan payload) {
  // pbuf lengths are 16-bit: link + IP + UDP headers must fit as well.
  if (payload.size() > 0xffff - PBUF_LINK_ENCAPSULATION_HLEN - PBUF_LINK_HLEN - IP6_HLEN - kUdpHeaderSize)
    return false;
  const auto length = static_cast<u16_t>(payload.size() + kUdpHeaderSize);
  pbuf* p = pbuf_alloc(PBUF_IP, length, PBUF_RAM);
  if (p == nullptr) return false;
  auto* udp = static_cast<udp_hdr*>(p->payload);
  udp->src = htons(sport);
  udp->dest = htons(dport);
  udp->len = htons(length);
  udp->chksum = 0;
  std::memcpy(static_cast<std::uint8_t*>(p->payload) + kUdpHeaderSize, payload.data(), payload.size());
  const ip_addr_t source = to_lwip_address(src);
  const ip_addr_t destination = to_lwip_address(dst);
  u16_t sum = ip_chksum_pseudo(p, IP_PROTO_UDP, length, &source, &destination);
  udp->chksum = sum == 0 ? 0xffff : sum;
  const err_t err = ip_output_if_src(p, &source, &destination, IP_DEFAULT_TTL, 0, IP_PROTO_UDP, out);
  pbuf_free(p);
  return err == ERR_OK;
}

bool send_icmp_to_guest(netif* out, const IpAddress& src, const IpAddress& dst, ByteSpan icmp_message) {
  if (icmp_message.size() < 8 || icmp_message.size() > 0xffff - PBUF_LINK_HLEN - IP6_HLEN) return false;
  const auto length = static_cast<u16_t>(icmp_message.size());
  pbuf* p = pbuf_alloc(PBUF_IP, length, PBUF_RAM);
  if (p == nullptr) return false;
  auto* bytes = static_cast<std::uint8_t*>(p->payload);
  std::memcpy(bytes, icmp_message.data(), icmp_message.size());
  bytes[2] = bytes[3] = 0;
  const ip_addr_t source = to_lwip_address(src);
  const ip_addr_t destination = to_lwip_address(dst);
  // ICMPv6 sums a pseudo-header (RFC 4443 §2.3); ICMP only the message. Both return
  // network order.
  const bool v6 = !src.is_v4();
  const u16_t sum = v6 ? ip6_chksum_pseudo(p, IP6_NEXTH_ICMP6, length, ip_2_ip6(&source), ip_2_ip6(&destination))
                       : inet_chksum(bytes, length);
  std::memcpy(bytes + 2, &sum, 2);
  const u8_t protocol = v6 ? IP6_NEXTH_ICMP6 : IP_PROTO_ICMP;
  const err_t err = ip_output_if_src(p, &source, &destination, IP_DEFAULT_TTL, 0, protocol, out);
  pbuf_free(p);
  return err == ERR_OK;
}

void send_tcp_reset_for(const IpHeader& ip, const TcpHeader& tcp) {
  const ip_addr_t local = to_lwip_address(ip.destination);
  const ip_addr_t remote = to_lwip_address(ip.source);
  const std::uint32_t payload = ip.total_length - ip.header_length - tcp.header_length;
  std::uint32_t ack = tcp.sequence + payload;
  if (tcp.has(TcpHeader::kSyn)) ++ack;
  if (tcp.has(TcpHeader::kFin)) ++ack;
  const std::uint32_t seq = tcp.has(TcpHeader::kAck) ? tcp.acknowledgment : 0;
  tcp_rst(nullptr, seq, ack, &local, &remote, tcp.destination_port, tcp.source_port);
}

bool drop_time_wait(const IpAddress& local_ip, std::uint16_t local_port, const IpAddress& remote_ip,
                    std::uint16_t remote_port) {
  const ip_addr_t local = to_lwip_address(local_ip);
  const ip_addr_t remote = to_lwip_address(remote_ip);
  for (tcp_pcb* pcb = tcp_tw_pcbs; pcb != nullptr; pcb = pcb->next) {
    if (pcb->local_port == local_port && pcb->remote_port == remote_port && ip_addr_cmp(&pcb->local_ip, &local) &&
        ip_addr_cmp(&pcb->remote_ip, &remote)) {
      tcp_abort(pcb);  // for a TIME_WAIT pcb: unlink and free, no RST
      return true;
    }
  }
  return false;
}

void send_unreachable_for(pbuf* p, Unreachable what) {
  if (!is_ipv6_packet(p)) {
    const std::uint8_t code = what == Unreachable::host ? host_unreachable_code(true) : port_unreachable_code(true);
    icmp_dest_unreach(p, static_cast<icmp_dur_type>(code));
    return;
  }
  // lwIP's icmp6_dest_unreach answers from ip_data (set only inside ip6_input): built here.
  auto ip = read_ipv6_header(p);
  if (!ip) return;
  const std::size_t quoted = std::min<std::size_t>(p->tot_len, kIpv6MinimumMtu - kIpv6HeaderSize - 8);
  std::vector<std::uint8_t> message(8 + quoted, 0);
  message[0] = unreachable_type(false);
  message[1] = what == Unreachable::host ? host_unreachable_code(false) : port_unreachable_code(false);
  pbuf_copy_partial(p, message.data() + 8, static_cast<u16_t>(quoted), 0);
  send_icmp_to_guest(netif_default, ip->destination, ip->source, message);
}

}  // namespace usernet
