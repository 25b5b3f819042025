// The ICMP echo NAT through its real entry point: a guest ping to the host alias is sent
// from the host to 127.0.0.1, and the host's echo reply goes back to the guest.
#include <doctest/doctest.h>

#include <netinet/in.h>

#include <unistd.h>

#include <algorithm>

#include "netstack/base/text_file.hpp"
#include "tests/unit/netstack/nat/nat_test_support.hpp"

using namespace usernet;
using namespace usernet::nat_test;

namespace {

/// "1\t0\n" as "1 0": the sysctl's fields on one line.
std::string printable(std::string text) {
  std::replace(text.begin(), text.end(), '\t', ' ');
  return text.substr(0, text.find('\n'));
}

/// How the NAT can send pings from this process (it prefers a ping socket), or nullopt
/// with `why` when it cannot.
std::optional<std::string> echo_path(std::string& why) {
  Fd ping(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP));
  if (ping.valid()) return "a ping socket";
  const int ping_error = errno;
  Fd raw(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP));
  if (raw.valid()) return "the raw ICMP socket";
  const auto range = read_text_file("/proc/sys/net/ipv4/ping_group_range");
  why = std::string("ping sockets are not permitted (") + std::strerror(ping_error) +
        ", net.ipv4.ping_group_range = " + (range ? printable(*range) : "unreadable") +
        ") and a raw ICMP socket needs CAP_NET_RAW (" + std::strerror(errno) + ")";
  return std::nullopt;
}

/// The ICMP messages the gateway sent the guest from frame `from` on.
std::vector<Ipv4View> icmp_to_guest(const NatHarness& net, std::size_t from) {
  std::vector<Ipv4View> out;
  for (Ipv4View& v : net.ipv4_since(from))
    if (v.protocol == 1) out.push_back(std::move(v));
  return out;
}

/// A guest ping to the host alias; the ICMP message that answers it (same sequence).
Ipv4View ping_host_alias(NatHarness& net, std::uint16_t identifier, std::uint16_t sequence, const Bytes& payload) {
  const std::size_t before = net.frames().size();
  REQUIRE(net.send_ipv4(net.host_alias(), IpProtocol::icmp, icmp_echo_request(identifier, sequence, payload)));
  std::optional<Ipv4View> reply;
  REQUIRE(net.run_until(
      [&] {
        for (Ipv4View& v : icmp_to_guest(net, before))
          if (v.payload.size() >= 8 && load_be16(&v.payload[6]) == sequence) reply = std::move(v);
        return reply.has_value();
      },
      "the echo reply at the guest"));
  return *reply;
}

/// Reads what a raw ICMP socket has queued until an echo message of `type` with
/// `sequence` and `payload`; its identifier, or nullopt when none is queued yet.
std::optional<std::uint16_t> read_echo(const Fd& raw, std::uint8_t type, std::uint16_t sequence, const Bytes& payload) {
  std::uint8_t buffer[2048];
  for (;;) {
    const ssize_t n = ::recv(raw.get(), buffer, sizeof buffer, 0);
    if (n < 20) return std::nullopt;
    const std::size_t header = std::size_t{buffer[0] & 0x0fu} * 4;
    if (static_cast<std::size_t>(n) < header + 8) continue;
    const std::uint8_t* icmp = buffer + header;
    const Bytes data(icmp + 8, icmp + (n - static_cast<ssize_t>(header)));
    if (icmp[0] == type && load_be16(icmp + 6) == sequence && data == payload) return load_be16(icmp + 4);
  }
}

}  // namespace

TEST_CASE("ICMP NAT: an echo request to the host alias is answered with its identifier, sequence and payload") {
  std::string why;
  const auto path = echo_path(why);
  if (!path) {
    MESSAGE("skipped: the NAT cannot send pings here: " << why);
    return;
  }
  MESSAGE("pings go through " << *path);
  NatHarness net;
  const std::uint16_t identifier = 0x4242;
  const std::uint16_t sequence = 7;
  const Bytes payload = to_bytes("an odd-length echo payload, 37 bytes.");
  const std::size_t before = net.frames().size();
  const Ipv4View reply = ping_host_alias(net, identifier, sequence, payload);
  CHECK(icmp_to_guest(net, before).size() == 1);
  CHECK(reply.eth_destination == net.guest_mac());
  CHECK(reply.eth_source == net.config().gateway_mac);
  CHECK(reply.source == net.host_alias());
  CHECK(reply.destination == net.guest_ip());
  CHECK(reply.header_checksum_ok);
  const Bytes& message = reply.payload;
  REQUIRE(message.size() == 8 + payload.size());
  CHECK(message[0] == 0);  // echo reply
  CHECK(message[1] == 0);
  CHECK(internet_checksum(message) == 0);
  CHECK(load_be16(&message[4]) == identifier);  // the guest's, not the host socket's
  CHECK(load_be16(&message[6]) == sequence);
  CHECK(Bytes(message.begin() + 8, message.end()) == payload);
  const IcmpNatCounters& icmp = net.nat().icmp().counters();
  CHECK(icmp.requests == 1);
  CHECK(icmp.replies == 1);
  CHECK(icmp.unavailable == 0);
}

TEST_CASE("ICMP NAT: the host's reply to another program's ping with the NAT's identifier does not reach the guest") {
  // A raw socket reads the NAT's request on loopback (its identifier on the wire) and pings
  // as another program on the host would, with that identifier.
  const Fd raw(::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP));
  if (!raw.valid()) {
    const std::string error = std::strerror(errno);
    MESSAGE("skipped: pinging as another program needs a raw ICMP socket (CAP_NET_RAW): " << error);
    return;
  }
  NatHarness net;
  // Parallel runs of this test see each other's pings: each tells its own apart.
  const std::string tag = " of process " + std::to_string(::getpid());
  const Bytes guest_payload = to_bytes("the guest's ping" + tag);
  const Bytes other_payload = to_bytes("another program's ping" + tag);
  const std::size_t before = net.frames().size();
  ping_host_alias(net, 0x4343, 1, guest_payload);
  std::optional<std::uint16_t> wire_id;
  REQUIRE(net.run_until([&] { return (wire_id = read_echo(raw, 8, 1, guest_payload)).has_value(); },
                        "the NAT's request on loopback"));

  const Bytes other = icmp_echo_request(*wire_id, 1, other_payload);
  const sockaddr_in loopback = make_sockaddr(make_ipv4(127, 0, 0, 1), 0);
  REQUIRE(::sendto(raw.get(), other.data(), other.size(), 0, reinterpret_cast<const sockaddr*>(&loopback),
                   sizeof loopback) == static_cast<ssize_t>(other.size()));
  REQUIRE(net.run_until([&] { return read_echo(raw, 0, 1, other_payload) == wire_id; }, "the other program's reply"));
  // The NAT's socket got that reply as well, before the one to this next ping.
  ping_host_alias(net, 0x4343, 2, guest_payload);

  const std::vector<Ipv4View> replies = icmp_to_guest(net, before);
  CHECK(replies.size() == 2);
  for (const Ipv4View& reply : replies) CHECK(to_text(reply.payload).substr(8) == to_text(guest_payload));
  CHECK(net.nat().icmp().counters().replies == 2);
  CHECK(net.nat().icmp().counters().unmatched_replies >= 1);  // more where parallel runs ping too
}
