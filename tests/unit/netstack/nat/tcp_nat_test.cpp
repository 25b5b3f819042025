// The TCP NAT through its real entry point: a fake guest's frames go into the switch, the
// gateway hands them to the NAT, and a loopback socket is at the other end of the host alias.
#include <doctest/doctest.h>

#include <chrono>

#include "tests/unit/netstack/nat/nat_test_support.hpp"

using namespace usernet;
using namespace usernet::nat_test;

TEST_CASE("TCP NAT: the host connect comes before the SYN-ACK, data flows both ways, and both FINs close it") {
  NatHarness net;
  const HostListener listener;
  // An initial sequence number just below 2^32: "hello" wraps the guest's sequence space.
  GuestTcpClient guest(net, net.host_alias(), listener.port, 0xfffffffa);
  const Fd host = open_and_exchange(net, guest, listener);
  close_both_ways(net, guest, host);

  const TcpNatCounters& tcp = net.nat().tcp().counters();
  CHECK(tcp.connects == 1);
  CHECK(tcp.refused == 0);
  const TcpRelayCounters& relays = net.nat().tcp().relays().counters();
  CHECK(relays.opened == 1);
  CHECK(relays.closed == 1);
  CHECK(relays.bytes_to_host == 5);
  CHECK(relays.bytes_to_guest == 5);
}

TEST_CASE("TCP NAT: a SYN to a loopback port nobody listens on gets a reset at once, never a SYN-ACK") {
  NatHarness net;
  // Bound but not listening: the kernel refuses connections, and nobody can listen there meanwhile.
  const Fd closed = bound_loopback_socket(SOCK_STREAM);
  GuestTcpClient guest(net, net.host_alias(), local_port(closed), 0x20000000);
  const auto start = std::chrono::steady_clock::now();
  guest.send_syn();
  REQUIRE(guest.wait([&] { return guest.reset() || guest.established(); }, "an answer to the SYN"));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  net.run_once();
  guest.poll();

  CHECK_FALSE(guest.established());
  REQUIRE(guest.segments().size() == 1);
  const TcpView& reset = guest.segments()[0];
  CHECK(reset.flags == (kRst | kAck));
  // RFC 793's reset for a SYN without ACK: sequence 0, acknowledging the SYN.
  CHECK(reset.sequence == 0);
  CHECK(reset.acknowledgment == guest.iss() + 1);
  CHECK(reset.payload.empty());
  // The host's refusal, not the NAT's 30 s connect timeout, made it.
  CHECK(elapsed < std::chrono::seconds(1));
  const TcpNatCounters& tcp = net.nat().tcp().counters();
  CHECK(tcp.connects == 1);
  CHECK(tcp.refused == 1);
  CHECK(tcp.timed_out == 0);
  CHECK(tcp.unreachable == 0);
  CHECK(net.nat().tcp().pending() == 0);
  CHECK(net.nat().tcp().active() == 0);
}

TEST_CASE("TCP NAT: after the guest's FIN the host reads EOF and can still send until it closes") {
  NatHarness net;
  const HostListener listener;
  GuestTcpClient guest(net, net.host_alias(), listener.port, 0x40000000);
  const Fd host = open_and_exchange(net, guest, listener);

  guest.send_fin();
  std::string rest;
  REQUIRE(net.run_until([&] { return read_available(host, rest); }, "EOF on the host socket"));
  CHECK(rest.empty());
  REQUIRE(guest.wait([&] { return guest.all_acked(); }, "the ACK of the guest's FIN"));
  // Half-closed, not closed: the host's direction still carries data.
  REQUIRE(::send(host.get(), "late", 4, MSG_NOSIGNAL) == 4);
  REQUIRE(guest.wait([&] { return guest.received().size() >= 9; }, "the host's data after the guest's FIN"));
  CHECK(guest.received() == "worldlate");
  CHECK_FALSE(guest.peer_fin());

  REQUIRE(::shutdown(host.get(), SHUT_WR) == 0);
  REQUIRE(guest.wait([&] { return guest.peer_fin(); }, "the FIN at the guest"));
  expect_clean_end(net, guest);
  CHECK(net.nat().tcp().relays().counters().bytes_to_guest == 9);
}
