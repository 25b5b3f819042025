// Packet-level access to lwIP for the NAT: parse an IPv4 packet held in a pbuf, hand a
// TCP segment to lwIP's tcp_input for any destination address, and emit UDP, ICMP and
// TCP RST packets with an arbitrary source address into the guest network. This is the
// only file that touches lwIP internals (ip_data, tcp_input) besides netstack/nat/tcp_demux.cpp
// (the pcb lists).
#pragma once

#include <cstdint>
#include <optional>

#include "netstack/base/ethernet.hpp"
#include "netstack/base/ipv4.hpp"

struct pbuf;
struct netif;

namespace usernet {

enum class IpProtocol : std::uint8_t { icmp = 1, tcp = 6, udp = 17 };

/// The fields of an IPv4 header the NAT needs; produced only for well-formed headers.
struct Ipv4Header {
  Ipv4 source = 0;
  Ipv4 destination = 0;
  std::uint8_t protocol = 0;
  std::uint8_t ttl = 0;
  std::uint16_t header_length = 0;
  std::uint16_t total_length = 0;
  bool is_fragment = false;
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
std::optional<Ipv4Header> read_ipv4_header(const pbuf* p);
/// Reads the TCP/UDP header following an IPv4 header; nullopt if truncated.
std::optional<TcpHeader> read_tcp_header(const pbuf* p, const Ipv4Header& ip);
std::optional<UdpHeader> read_udp_header(const pbuf* p, const Ipv4Header& ip);

/// Feeds fragments to lwIP's reassembly; returns the whole datagram or nullptr (held).
pbuf* reassemble_ipv4(pbuf* p);
/// Cuts link-layer padding so the pbuf holds exactly the IP datagram.
void trim_to_ipv4_length(pbuf* p, std::uint16_t total_length);

/// Gives a TCP segment (p->payload at the IP header) to lwIP as if it were addressed to
/// this stack, whatever its destination. Takes ownership of p.
void inject_tcp_segment(pbuf* p, netif* input);

/// Sends a UDP datagram from src:sport to dst:dport into the guest network (fragmented
/// by lwIP if larger than the MTU). False if it cannot be built (too large, no memory).
bool send_udp_to_guest(netif* out, Ipv4 src, std::uint16_t sport, Ipv4 dst,
                       std::uint16_t dport, ByteSpan payload);
/// Sends an ICMP message (header included; the checksum is computed here) from src to dst.
bool send_icmp_to_guest(netif* out, Ipv4 src, Ipv4 dst, ByteSpan icmp_message);
/// Answers the TCP segment in p (a SYN) with RST|ACK, as a closed port would.
void send_tcp_reset_for(const pbuf* p, const Ipv4Header& ip, const TcpHeader& tcp);
/// Answers the datagram in p with ICMP destination unreachable (code: 1 host, 3 port).
void send_icmp_unreachable_for(pbuf* p, std::uint8_t code);

/// Frees lwIP's TIME_WAIT pcb for this 4-tuple, if any, so that a new guest SYN reusing
/// the 4-tuple starts a fresh connection (as Linux allows) instead of being answered
/// with the old connection's ACK. Returns true if one was freed.
bool drop_time_wait(Ipv4 local_ip, std::uint16_t local_port, Ipv4 remote_ip, std::uint16_t remote_port);

/// Copies `length` bytes at `offset` of a pbuf chain; false if the chain is shorter.
bool copy_from_pbuf(const pbuf* p, std::uint16_t offset, void* out, std::uint16_t length);

}  // namespace usernet
