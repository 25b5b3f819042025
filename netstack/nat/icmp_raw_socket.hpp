// The ICMP echo path for hosts whose net.ipv4.ping_group_range does not admit us: one raw
// ICMP socket (needs CAP_NET_RAW) shared by every guest flow. A raw socket sees every
// echo reply the host receives, so the caller gives each flow its own identifier and
// matches replies by identifier and source address itself.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "netstack/base/ethernet.hpp"
#include "netstack/base/ipv4.hpp"
#include "netstack/base/uv_handles.hpp"

namespace usernet {

/// An echo reply read from a raw ICMP socket.
struct RawEchoReply {
  Ipv4 source = 0;
  std::uint16_t identifier = 0;
  ByteSpan message;  // the whole ICMP message, header included
};

/// Parses what a raw ICMP socket delivers (IPv4 header, then ICMP). nullopt unless it is
/// a well-formed, unfragmented echo reply with a correct ICMP checksum.
std::optional<RawEchoReply> parse_raw_echo_reply(ByteSpan datagram);

class RawIcmpSocket {
 public:
  using OnReply = std::function<void(const RawEchoReply&)>;

  /// Opens the socket; nullptr with `error` (errno) when not permitted (no CAP_NET_RAW).
  static std::unique_ptr<RawIcmpSocket> open(uv_loop_t* loop, OnReply on_reply, int& error);
  RawIcmpSocket(uv_loop_t* loop, int fd, OnReply on_reply);

  /// Sends an echo request (the ICMP message; identifier already set, checksum computed
  /// here). False when the kernel refused it.
  bool send_echo(Ipv4 destination, ByteSpan message);

 private:
  void on_readable();
  OnReply on_reply_;
  WatchedSocket socket_;
};

}  // namespace usernet
