// Packet-level access to lwIP for the NAT: parse an IPv4 or IPv6 packet held in a pbuf,
// hand a TCP segment to lwIP's tcp_input for any destination address, and emit UDP,
// ICMP/ICMPv6 and TCP RST packets with an arbitrary source address into the guest network. This is the
// only file that touches lwIP internals (ip_data, tcp_input) besides netstack/nat/tcp_demux.cpp
// (the pcb lists).
#pragma once

#include <cstdint>
#include <optional>

#include "netstack/base/ethernet.hpp"
#include "netstack/base/ip_address.hpp"
#include "netstack/base/ipv4.hpp"

struct pbuf;
struct netif;

namespace usernet {

/// IPv4 protocol numbers and IPv6 next-header values the NAT handles.
enum class IpProtocol : std::uint8_t { icmp = 1, tcp = 6, udp = 17, ipv6_fragment = 44, icmpv6 = 58 };

/// The fields of an IPv4 or IPv6 header the NAT needs; produced only for well-formed headers.
struct IpHeader {
  IpAddress source;
  IpAddress destination;
  std::uint8_t protocol = 0;  // IPv6: the fixed header's next header (no extension walk)
  std::uint8_t ttl = 0;       // IPv6: hop limit
  std::uint16_t header_length = 0;  // IPv6: 40
  std::uint16_t total_length = 0;   // header and payload
  bool is_fragment = false;         // IPv4 only (IPv6 fragments show as ipv6_fragment)
  bool is_v6() const { return !source.is_v4(); }
};

/// TCP header fields (ports, flags, sequence numbers).
struct TcpHeader {
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  std::uint32_t sequence = 0;
  std::uint32_t acknowledgment = 0;
  std::uint8_t flags = 0;
  std::uint16_t header_length = 0;

  static constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;
  bool has(std::uint8_t flag) const { return (flags & flag) != 0; }
};

struct UdpHeader {
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  std::uint16_t length = 0;
};

/// Validates and reads the IPv4 header at p->payload (lengths consistent with the pbuf).
std::optional<IpHeader> read_ipv4_header(const pbuf* p);
/// Validates and reads the IPv6 fixed header at p->payload (payload length within the pbuf).
std::optional<IpHeader> read_ipv6_header(const pbuf* p);
/// Reads the TCP/UDP header following the IP header; nullopt if truncated.
std::optional<TcpHeader> read_tcp_header(const pbuf* p, const IpHeader& ip);
std::optional<UdpHeader> read_udp_header(const pbuf* p, const IpHeader& ip);

/// Feeds fragments to lwIP's reassembly; returns the whole datagram or nullptr (held).
pbuf* reassemble_ipv4(pbuf* p);
/// Cuts link-layer padding so the pbuf holds exactly the IP datagram.
void trim_to_ip_length(pbuf* p, std::uint16_t total_length);

/// Gives a TCP segment (p->payload at its IPv4 or IPv6 header, no IPv6 extension headers)
/// to lwIP as if it were addressed to this stack, whatever its destination. Takes p.
void inject_tcp_segment(pbuf* p, netif* input);

/// Sends a UDP datagram from src:sport to dst:dport (one family) into the guest network
/// (fragmented by lwIP if larger than the MTU). False if it cannot be built (too large,
/// no memory).
bool send_udp_to_guest(netif* out, const IpAddress& src, std::uint16_t sport, const IpAddress& dst,
                       std::uint16_t dport, ByteSpan payload);
inline bool send_udp_to_guest(netif* out, Ipv4 src, std::uint16_t sport, Ipv4 dst, std::uint16_t dport,
                              ByteSpan payload) {
  return send_udp_to_guest(out, IpAddress::from_v4(src), sport, IpAddress::from_v4(dst), dport, payload);
}
/// Sends an ICMP (IPv4) or ICMPv6 (IPv6) message, header included, from src to dst; the
/// checksum is computed here.
bool send_icmp_to_guest(netif* out, const IpAddress& src, const IpAddress& dst, ByteSpan icmp_message);
/// Answers the TCP segment in p (a SYN) with RST|ACK, as a closed port would.
void send_tcp_reset_for(const IpHeader& ip, const TcpHeader& tcp);
/// Answers the packet in p with "destination unreachable": ICMP code 1 (host) or 3 (port)
/// for IPv4; for IPv6 the matching ICMPv6 codes 3 (address) or 4 (port).
enum class Unreachable { host, port };
void send_unreachable_for(pbuf* p, Unreachable what);

/// Frees lwIP's TIME_WAIT pcb for this 4-tuple, if any, so that a new guest SYN reusing
/// the 4-tuple starts a fresh connection (as Linux allows) instead of being answered
/// with the old connection's ACK. Returns true if one was freed.
bool drop_time_wait(const IpAddress& local_ip, std::uint16_t local_port, const IpAddress& remote_ip,
                    std::uint16_t remote_port);

/// Copies `length` bytes at `offset` of a pbuf chain; false if the chain is shorter.
bool copy_from_pbuf(const pbuf* p, std::uint16_t offset, void* out, std::uint16_t length);

}  // namespace usernet
