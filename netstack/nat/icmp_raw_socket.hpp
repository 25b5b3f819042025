// The ICMP echo path for hosts whose net.ipv4.ping_group_range does not admit us: one raw
// ICMP or ICMPv6 socket per family (needs CAP_NET_RAW) shared by every guest flow. A raw
// socket sees every echo reply the host receives, so the caller gives each flow its own
// identifier and matches replies by identifier and source address itself.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "netstack/base/ethernet.hpp"
#include "netstack/base/ip_address.hpp"
#include "netstack/base/uv_handles.hpp"

namespace usernet {

/// An echo reply read from a raw ICMP socket.
struct RawEchoReply {
  IpAddress source;
  std::uint16_t identifier = 0;
  ByteSpan message;  // the whole ICMP message, header included
};

/// Parses what a raw ICMP socket delivers (IPv4 header, then ICMP). nullopt unless it is
/// a well-formed, unfragmented echo reply with a correct ICMP checksum.
std::optional<RawEchoReply> parse_raw_echo_reply(ByteSpan datagram);
/// Parses what a raw ICMPv6 socket delivers (the message alone; the kernel checked its
/// checksum) from `source`. nullopt unless it is an echo reply.
std::optional<RawEchoReply> parse_raw_echo_reply6(ByteSpan message, const Ipv6& source);

enum class IcmpFamily { v4, v6 };
inline IcmpFamily icmp_family_of(const IpAddress& address) { return address.is_v4() ? IcmpFamily::v4 : IcmpFamily::v6; }

class RawIcmpSocket {
 public:
  using OnReply = std::function<void(const RawEchoReply&)>;

  /// Opens the socket; nullptr with `error` (errno) when not permitted (no CAP_NET_RAW).
  static std::unique_ptr<RawIcmpSocket> open(uv_loop_t* loop, IcmpFamily family, OnReply on_reply, int& error);
  RawIcmpSocket(uv_loop_t* loop, IcmpFamily family, int fd, OnReply on_reply);

  /// Sends an echo request (the ICMP message of the socket's family; identifier already
  /// set, checksum computed here or, for ICMPv6, by the kernel). False when the kernel
  /// refused it.
  bool send_echo(const IpAddress& destination, ByteSpan message);

 private:
  void on_readable();
  IcmpFamily family_;
  OnReply on_reply_;
  WatchedSocket socket_;
};

}  // namespace usernet
