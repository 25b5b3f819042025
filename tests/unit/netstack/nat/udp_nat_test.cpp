// The UDP NAT through its real entry point: guest datagrams to the host alias reach a
// loopback socket, and its replies come back to the guest from the host alias.
#include <doctest/doctest.h>

#include "tests/unit/netstack/nat/nat_test_support.hpp"

using namespace usernet;
using namespace usernet::nat_test;

TEST_CASE("UDP NAT: a datagram to the host alias reaches 127.0.0.1 and the reply comes back from the host alias") {
  NatHarness net;
  const Fd host = bound_loopback_socket(SOCK_DGRAM);
  const std::uint16_t port = local_port(host);
  const std::uint16_t guest_port = next_guest_port();
  auto send_from_guest = [&](std::string_view text) {
    REQUIRE(net.send_ipv4(net.host_alias(), IpProtocol::udp,
                          udp_datagram(net.guest_ip(), guest_port, net.host_alias(), port, to_bytes(text))));
  };

  send_from_guest("ping over udp");  // odd length: the checksum's padded last byte counts
  const HostDatagram request = receive_datagram(net, host);
  CHECK(to_text(request.payload) == "ping over udp");
  CHECK(ntohl(request.from.sin_addr.s_addr) == make_ipv4(127, 0, 0, 1));
  CHECK(request.from.sin_port != 0);
  CHECK(net.nat().udp().counters().flows_opened == 1);
  CHECK(net.nat().udp().counters().datagrams_to_host == 1);

  const std::size_t before = net.frames().size();
  const Bytes reply = to_bytes("pong from the host");
  REQUIRE(::sendto(host.get(), reply.data(), reply.size(), 0, reinterpret_cast<const sockaddr*>(&request.from),
                   sizeof request.from) == static_cast<ssize_t>(reply.size()));
  std::optional<Ipv4View> ip;
  REQUIRE(net.run_until(
      [&] {
        for (Ipv4View& v : net.ipv4_since(before))
          if (v.protocol == 17) ip = std::move(v);
        return ip.has_value();
      },
      "the reply at the guest"));
  CHECK(ip->eth_destination == net.guest_mac());
  CHECK(ip->eth_source == net.config().gateway_mac);
  CHECK(ip->source == net.host_alias());
  CHECK(ip->destination == net.guest_ip());
  CHECK(ip->header_checksum_ok);
  CHECK(ip->total_length == 20 + 8 + reply.size());
  const auto udp = parse_udp(*ip);
  REQUIRE(udp);
  CHECK(udp->source_port == port);
  CHECK(udp->destination_port == guest_port);
  CHECK(udp->length == 8 + reply.size());
  CHECK(udp->checksum_ok);
  CHECK(udp->payload == reply);
  CHECK(net.nat().udp().counters().datagrams_to_guest == 1);

  // The flow stays: the next datagram leaves from the same host socket.
  send_from_guest("again");
  const HostDatagram again = receive_datagram(net, host);
  CHECK(to_text(again.payload) == "again");
  CHECK(again.from.sin_port == request.from.sin_port);
  CHECK(net.nat().udp().counters().flows_opened == 1);
  CHECK(net.nat().udp().active() == 1);
}
