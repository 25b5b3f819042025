// The Nat's sorting of guest IPv4 through its real entry point: malformed packets are
// dropped and counted before any engine sees them, and leave nothing behind.
#include <doctest/doctest.h>

#include <cctype>

#include "tests/unit/netstack/nat/nat_test_support.hpp"

using namespace usernet;
using namespace usernet::nat_test;

namespace {

std::uint64_t drops(const NatCounters& c) {
  return c.malformed + c.bad_tcp_header + c.bad_udp_header + c.foreign_source + c.unsupported;
}

/// Bytes as text, anything unprintable as '.': failure messages show where bytes went wrong.
std::string shown(ByteSpan bytes) {
  std::string text;
  for (std::uint8_t b : bytes) text += std::isprint(b) ? static_cast<char>(b) : '.';
  return text;
}

struct Malformed {
  const char* what;
  Bytes packet;                         // from the IPv4 header on
  std::uint64_t NatCounters::*counter;  // the one counter it must raise
};

}  // namespace

TEST_CASE("NAT: malformed IPv4 from the guest is dropped and counted, and TCP through the NAT works afterwards") {
  NatHarness net;
  const HostListener listener;
  const Ipv4 guest = net.guest_ip();
  const Ipv4 alias = net.host_alias();
  const Bytes udp = udp_datagram(guest, next_guest_port(), alias, listener.port, to_bytes("x"));
  const Bytes good_udp = ipv4_packet(guest, alias, IpProtocol::udp, udp);
  TcpHeader syn;
  syn.source_port = next_guest_port();
  syn.destination_port = listener.port;
  syn.flags = kSyn;
  const Bytes good_tcp = ipv4_packet(guest, alias, IpProtocol::tcp, tcp_segment(guest, alias, syn));
  // One defect each; lwIP does not verify IPv4 header checksums from the guest link, so
  // a stale one cannot be what drops them.
  auto edited = [](Bytes packet, auto edit) {
    edit(packet);
    return packet;
  };
  const std::vector<Malformed> cases = {
      {"header length below 20 bytes (IHL 4)", edited(good_udp, [](Bytes& p) { p[0] = 0x44; }),
       &NatCounters::malformed},
      {"header length past the total length (IHL 15)", edited(good_udp, [](Bytes& p) { p[0] = 0x4f; }),
       &NatCounters::malformed},
      {"header options cut off by the end of the frame",
       edited(good_udp,
              [](Bytes& p) {
                p[0] = 0x4f;
                store_be16(&p[2], 60);
              }),
       &NatCounters::malformed},
      {"total length past the end of the frame", edited(good_udp, [](Bytes& p) { store_be16(&p[2], 1000); }),
       &NatCounters::malformed},
      {"total length below the header", edited(good_udp, [](Bytes& p) { store_be16(&p[2], 12); }),
       &NatCounters::malformed},
      {"UDP length past the datagram", edited(good_udp, [](Bytes& p) { store_be16(&p[20 + 4], 200); }),
       &NatCounters::bad_udp_header},
      {"TCP header cut short",
       edited(good_tcp,
              [](Bytes& p) {
                p.resize(20 + 12);
                store_be16(&p[2], 32);
              }),
       &NatCounters::bad_tcp_header},
      {"TCP data offset past the segment", edited(good_tcp, [](Bytes& p) { p[20 + 12] = 0xf0; }),
       &NatCounters::bad_tcp_header},
  };
  for (const Malformed& m : cases) {
    INFO(m.what);
    const NatCounters before = net.nat().counters();
    const std::size_t frames = net.frames().size();
    REQUIRE(net.send_ip(m.packet));  // the switch passes it on: the gateway and the NAT must cope
    net.run_once();
    const NatCounters& after = net.nat().counters();
    CHECK(after.*m.counter == before.*m.counter + 1);
    CHECK(drops(after) == drops(before) + 1);
    CHECK(net.frames().size() == frames);  // no answer of any kind
    CHECK(net.nat().tcp().pending() == 0);
    CHECK(net.nat().udp().active() == 0);
  }
  CHECK(net.nat().tcp().counters().connects == 0);
  CHECK(net.nat().udp().counters().flows_opened == 0);

  // Shorter than any IPv4 header and unpadded (a virtual NIC need not pad): the gateway
  // drops it before lwIP, whose ip4_input would read past it.
  {
    Bytes runt = ethernet_frame(net.config().gateway_mac, net.guest_mac(), EtherType::ipv4, good_udp);
    runt.resize(kEthernetHeaderSize + 12);
    const std::uint64_t truncated = net.network().gateway().counters().truncated;
    const NatCounters before = net.nat().counters();
    const std::size_t frames = net.frames().size();
    REQUIRE(net.send_frame(runt));
    net.run_once();
    CHECK(net.network().gateway().counters().truncated == truncated + 1);
    CHECK(drops(net.nat().counters()) == drops(before));
    CHECK(net.frames().size() == frames);
  }

  GuestTcpClient client(net, alias, listener.port, 0x30000000);
  const Fd host = open_and_exchange(net, client, listener);
  close_both_ways(net, client, host);
}

TEST_CASE("NAT: a UDP datagram in small fragments, each padded to the Ethernet minimum, reaches the host whole") {
  NatHarness net;
  const Fd host = bound_loopback_socket(SOCK_DGRAM);
  const Ipv4 guest = net.guest_ip();
  const Ipv4 alias = net.host_alias();
  const Bytes payload = to_bytes("sixteen bytes a fragment, so every frame is padded");
  const Bytes datagram = udp_datagram(guest, next_guest_port(), alias, local_port(host), payload);
  const auto fragments = ipv4_fragments(guest, alias, IpProtocol::udp, datagram, 16, 0x5151);
  REQUIRE(fragments.size() == 4);
  for (const Bytes& fragment : fragments) {
    const Bytes frame = ethernet_frame(net.config().gateway_mac, net.guest_mac(), EtherType::ipv4, fragment);
    REQUIRE(frame.size() > kEthernetHeaderSize + fragment.size());  // padding follows the fragment
    REQUIRE(net.send_frame(frame));
  }
  const HostDatagram got = receive_datagram(net, host);
  CHECK(shown(got.payload) == shown(payload));
  CHECK(net.nat().counters().malformed == 0);
  CHECK(net.nat().udp().counters().datagrams_to_host == 1);
}
