#include "netstack/nat/icmp_raw_socket.hpp"

#include <linux/icmp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "netstack/base/host_socket.hpp"

namespace usernet {

namespace {
constexpr std::uint8_t kEchoReply = 0;
constexpr std::uint8_t kProtocolIcmp = 1;
constexpr std::size_t kIcmpHeader = 8;
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
  if (header < kIpv4MinHeader || total < header + kIcmpHeader || total > datagram.size()) return std::nullopt;
  if (datagram[9] != kProtocolIcmp || (read16(datagram, 6) & kFragmentMask) != 0) return std::nullopt;
  const ByteSpan message = datagram.subspan(header, total - header);
  if (message[0] != kEchoReply || message[1] != 0 || internet_checksum(message) != 0) return std::nullopt;
  RawEchoReply reply;
  reply.source = (Ipv4{datagram[12]} << 24) | (Ipv4{datagram[13]} << 16) | (Ipv4{datagram[14]} << 8) | datagram[15];
  reply.identifier = read16(message, 4);
  reply.message = message;
  return reply;
}

std::unique_ptr<RawIcmpSocket> RawIcmpSocket::open(uv_loop_t* loop, OnReply on_reply, int& error) {
  const int fd = ::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
  if (fd < 0) {
    error = errno;
    return nullptr;
  }
  // Only echo replies: the kernel need not copy every other ICMP message to us.
  icmp_filter filter{~(1u << ICMP_ECHOREPLY)};
  (void)::setsockopt(fd, SOL_RAW, ICMP_FILTER, &filter, sizeof filter);
  return std::make_unique<RawIcmpSocket>(loop, fd, std::move(on_reply));
}

RawIcmpSocket::RawIcmpSocket(uv_loop_t* loop, int fd, OnReply on_reply)
    : on_reply_(std::move(on_reply)), socket_(loop, fd, [this](int, int) { on_readable(); }) {
  socket_.watch(UV_READABLE);
}

bool RawIcmpSocket::send_echo(Ipv4 destination, ByteSpan message) {
  if (message.size() < kIcmpHeader) return false;
  std::vector<std::uint8_t> request(message.begin(), message.end());
  request[2] = request[3] = 0;
  const std::uint16_t sum = internet_checksum(request);
  request[2] = static_cast<std::uint8_t>(sum >> 8);
  request[3] = static_cast<std::uint8_t>(sum);
  const sockaddr_in to = make_sockaddr(destination, 0);
  return ::sendto(socket_.fd(), request.data(), request.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                  sizeof to) == static_cast<ssize_t>(request.size());
}

void RawIcmpSocket::on_readable() {
  static std::uint8_t buffer[65536];
  for (;;) {
    const ssize_t n = ::recv(socket_.fd(), buffer, sizeof buffer, 0);
    if (n < 0) return;  // EAGAIN (or an error the next read reports again)
    if (auto reply = parse_raw_echo_reply(ByteSpan(buffer, static_cast<std::size_t>(n)))) on_reply_(*reply);
  }
}

}  // namespace usernet
