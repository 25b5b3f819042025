#include "netstack/nat/icmp_raw_socket.hpp"

#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "netstack/base/icmp.hpp"

namespace usernet {

namespace {
constexpr std::uint8_t kProtocolIcmp = 1;
constexpr std::size_t kIpv4MinHeader = 20;
constexpr std::uint16_t kFragmentMask = 0x3fff;  // more-fragments flag and offset

std::uint16_t read16(ByteSpan b, std::size_t at) { return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]); }

/// The Internet checksum (RFC 1071) of `bytes`, in host order.
std::uint16_t internet_checksum(ByteSpan bytes) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < bytes.size(); i += 2) sum += read16(bytes, i);
  if (bytes.size() % 2) sum += std::uint32_t{bytes.back()} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}
}  // namespace

std::optional<RawEchoReply> parse_raw_echo_reply(ByteSpan datagram) {
  if (datagram.size() < kIpv4MinHeader || (datagram[0] >> 4) != 4) return std::nullopt;
  const std::size_t header = std::size_t{datagram[0] & 0x0fu} * 4;
  const std::size_t total = read16(datagram, 2);
  if (header < kIpv4MinHeader || total < header + kIcmpHeaderSize || total > datagram.size()) return std::nullopt;
  if (datagram[9] != kProtocolIcmp || (read16(datagram, 6) & kFragmentMask) != 0) return std::nullopt;
  const ByteSpan message = datagram.subspan(header, total - header);
  if (message[0] != echo_reply_type(true) || message[1] != 0 || internet_checksum(message) != 0) return std::nullopt;
  RawEchoReply reply;
  reply.source =
      IpAddress::from_v4((Ipv4{datagram[12]} << 24) | (Ipv4{datagram[13]} << 16) | (Ipv4{datagram[14]} << 8) | datagram[15]);
  reply.identifier = read16(message, 4);
  reply.message = message;
  return reply;
}

std::optional<RawEchoReply> parse_raw_echo_reply6(ByteSpan message, const Ipv6& source) {
  if (message.size() < kIcmpHeaderSize || message[0] != echo_reply_type(false) || message[1] != 0) return std::nullopt;
  return RawEchoReply{IpAddress::from_v6(source), read16(message, 4), message};
}

std::unique_ptr<RawIcmpSocket> RawIcmpSocket::open(uv_loop_t* loop, IcmpFamily family, OnReply on_reply,
                                                   int& error) {
  const bool v6 = family == IcmpFamily::v6;
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          v6 ? static_cast<int>(IPPROTO_ICMPV6) : static_cast<int>(IPPROTO_ICMP));
  if (fd < 0) {
    error = errno;
    return nullptr;
  }
  // Only echo replies: the kernel need not copy every other ICMP message to us.
  if (v6) {
    icmp6_filter filter;
    ICMP6_FILTER_SETBLOCKALL(&filter);
    ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filter);
    (void)::setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter);
  } else {
    icmp_filter filter{~(1u << ICMP_ECHOREPLY)};
    (void)::setsockopt(fd, SOL_RAW, ICMP_FILTER, &filter, sizeof filter);
  }
  return std::make_unique<RawIcmpSocket>(loop, family, fd, std::move(on_reply));
}

RawIcmpSocket::RawIcmpSocket(uv_loop_t* loop, IcmpFamily family, int fd, OnReply on_reply)
    : family_(family), on_reply_(std::move(on_reply)), socket_(loop, fd, [this](int, int) { on_readable(); }) {
  socket_.watch(UV_READABLE);
}

bool RawIcmpSocket::send_echo(const IpAddress& destination, ByteSpan message) {
  if (message.size() < kIcmpHeaderSize || destination.is_v4() != (family_ == IcmpFamily::v4)) return false;
  std::vector<std::uint8_t> request(message.begin(), message.end());
  request[2] = request[3] = 0;
  if (family_ == IcmpFamily::v4) {  // a raw ICMPv6 socket sums the pseudo-header itself (RFC 3542 §3.1)
    const std::uint16_t sum = internet_checksum(request);
    request[2] = static_cast<std::uint8_t>(sum >> 8);
    request[3] = static_cast<std::uint8_t>(sum);
  }
  const SocketAddress to = make_socket_address(destination, 0);
  return ::sendto(socket_.fd(), request.data(), request.size(), 0, to.get(), to.length) ==
         static_cast<ssize_t>(request.size());
}

void RawIcmpSocket::on_readable() {
  static std::uint8_t buffer[65536];
  for (;;) {
    sockaddr_in6 from{};
    socklen_t from_length = sizeof from;
    const ssize_t n =
        ::recvfrom(socket_.fd(), buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &from_length);
    if (n < 0) return;  // EAGAIN (or an error the next read reports again)
    const ByteSpan datagram(buffer, static_cast<std::size_t>(n));
    std::optional<RawEchoReply> reply;
    if (family_ == IcmpFamily::v4) {
      reply = parse_raw_echo_reply(datagram);
    } else if (from.sin6_family == AF_INET6) {
      Ipv6 source;
      std::memcpy(source.data(), &from.sin6_addr, source.size());
      reply = parse_raw_echo_reply6(datagram, source);
    }
    if (reply) on_reply_(*reply);
  }
}

}  // namespace usernet
