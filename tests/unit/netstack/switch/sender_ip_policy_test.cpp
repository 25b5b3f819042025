// The switch's sender-address policy: ARP and IPv4 from an address another MAC holds (a
// lease, or one of the gateway's addresses) is dropped and counted; the holder and
// addresses nobody holds pass.
#include <doctest/doctest.h>

#include <map>
#include <vector>

#include "netstack/switch/switch.hpp"

using namespace usernet;

namespace {
struct RecordingPort : SwitchPort {
  std::vector<std::vector<std::uint8_t>> frames;
  bool send_frame(ByteSpan frame) override {
    frames.emplace_back(frame.begin(), frame.end());
    return true;
  }
  std::string describe() const override { return "recording"; }
};

struct FixedOwners : AddressOwners {
  std::map<Ipv4, MacAddress> leases;
  std::optional<MacAddress> owner_of(Ipv4 ip) const override {
    auto it = leases.find(ip);
    return it == leases.end() ? std::nullopt : std::optional<MacAddress>(it->second);
  }
};

const MacAddress kGatewayMac{0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xdd};
const MacAddress kGuestA{0x02, 0, 0, 0, 0, 0xa};
const MacAddress kGuestB{0x02, 0, 0, 0, 0, 0xb};
constexpr Ipv4 kGatewayIp = make_ipv4(192, 168, 127, 1);
constexpr Ipv4 kIpA = make_ipv4(192, 168, 127, 2);
constexpr Ipv4 kFreeIp = make_ipv4(192, 168, 127, 77);

void put_ipv4(std::vector<std::uint8_t>& f, std::size_t at, Ipv4 ip) {
  for (int i = 0; i < 4; i++) f[at + i] = static_cast<std::uint8_t>(ip >> (24 - 8 * i));
}

std::vector<std::uint8_t> ethernet(const MacAddress& src, std::uint16_t type, std::size_t size = 60) {
  std::vector<std::uint8_t> f(size, 0);
  std::fill(f.begin(), f.begin() + 6, 0xff);
  std::copy(src.begin(), src.end(), f.begin() + 6);
  f[12] = static_cast<std::uint8_t>(type >> 8);
  f[13] = static_cast<std::uint8_t>(type);
  return f;
}

/// An ARP reply (or gratuitous ARP) claiming `sender_ip` is at `src`.
std::vector<std::uint8_t> arp_from(const MacAddress& src, Ipv4 sender_ip) {
  auto f = ethernet(src, 0x0806);
  const std::uint8_t head[] = {0, 1, 8, 0, 6, 4, 0, 2};
  std::copy(std::begin(head), std::end(head), f.begin() + 14);
  std::copy(src.begin(), src.end(), f.begin() + 22);
  put_ipv4(f, 28, sender_ip);
  return f;
}

std::vector<std::uint8_t> ipv4_from(const MacAddress& src, Ipv4 source_ip) {
  auto f = ethernet(src, 0x0800);
  f[14] = 0x45;
  put_ipv4(f, 26, source_ip);
  return f;
}

std::vector<std::uint8_t> ipv6_from(const MacAddress& src, const char* source) {
  auto f = ethernet(src, 0x86dd, 14 + 40);
  f[14] = 0x60;
  const Ipv6 address = *parse_ipv6(source);
  std::copy(address.begin(), address.end(), f.begin() + 14 + 8);
  return f;
}

IpAddress v4(Ipv4 address) { return IpAddress::from_v4(address); }
IpAddress v6(const char* text) { return IpAddress::from_v6(*parse_ipv6(text)); }
}  // namespace

TEST_CASE("frame_sender_ipv4 reads the ARP sender or IPv4 source, through one VLAN tag") {
  CHECK(frame_sender_ipv4(arp_from(kGuestA, kIpA)) == kIpA);
  CHECK(frame_sender_ipv4(ipv4_from(kGuestA, kIpA)) == kIpA);
  auto tagged = ipv4_from(kGuestA, kIpA);
  const std::uint8_t tag[] = {0x81, 0x00, 0x00, 0x05};
  tagged.insert(tagged.begin() + 12, std::begin(tag), std::end(tag));
  CHECK(frame_sender_ipv4(tagged) == kIpA);
  CHECK_FALSE(frame_sender_ipv4(arp_from(kGuestA, 0)));  // ARP probe: no address yet
  CHECK_FALSE(frame_sender_ipv4(ethernet(kGuestA, 0x86dd)));
  auto truncated = arp_from(kGuestA, kIpA);
  truncated.resize(14 + 27);
  CHECK_FALSE(frame_sender_ipv4(truncated));
  auto short_ip = ipv4_from(kGuestA, kIpA);
  short_ip.resize(14 + 19);
  CHECK_FALSE(frame_sender_ipv4(short_ip));
  CHECK_FALSE(frame_sender_ipv4(std::vector<std::uint8_t>(16, 0x81)));  // tag cut short
}

TEST_CASE("ARP and IPv4 from an address leased to another MAC are dropped and counted") {
  Switch sw(1514);
  RecordingPort a_port, b_port, observer;
  const PortId a = sw.attach(a_port), b = sw.attach(b_port);
  sw.attach(observer);
  FixedOwners owners;
  owners.leases[kIpA] = kGuestA;
  sw.set_address_owners(&owners);

  CHECK(sw.receive(a, arp_from(kGuestA, kIpA)));  // the holder itself
  CHECK(sw.receive(a, ipv4_from(kGuestA, kIpA)));
  CHECK_FALSE(sw.receive(b, arp_from(kGuestB, kIpA)));  // gratuitous ARP for A's address
  CHECK_FALSE(sw.receive(b, ipv4_from(kGuestB, kIpA)));
  CHECK(sw.counters().ip_taken_frames == 2);
  CHECK(sw.counters(b)->rx_dropped == 2);
  CHECK(observer.frames.size() == 2);  // only A's frames were flooded
  CHECK(sw.receive(b, arp_from(kGuestB, kFreeIp)));  // nobody holds it: fine
  CHECK(sw.receive(b, arp_from(kGuestB, 0)));        // probes pass

  sw.set_address_owners(nullptr);  // no DHCP server: no leases to protect
  CHECK(sw.receive(b, arp_from(kGuestB, kIpA)));
}

TEST_CASE("no guest may send from the gateway's reserved addresses") {
  Switch sw(1514);
  RecordingPort gateway, guest;
  const PortId g = sw.attach(gateway), v = sw.attach(guest);
  sw.reserve_mac(kGatewayMac, g);
  sw.reserve_ip(kGatewayIp, kGatewayMac);
  CHECK_FALSE(sw.receive(v, arp_from(kGuestA, kGatewayIp)));
  CHECK_FALSE(sw.receive(v, ipv4_from(kGuestA, kGatewayIp)));
  CHECK(sw.counters().ip_reserved_frames == 2);
  CHECK(sw.counters().ip_taken_frames == 0);
  CHECK(sw.receive(g, arp_from(kGatewayMac, kGatewayIp)));
  CHECK(sw.receive(v, ipv4_from(kGuestA, kIpA)));
}

TEST_CASE("a guest's addresses are reported gone when its port detaches or the address moves") {
  Switch sw(1514);
  RecordingPort gateway, first, second;
  const PortId g = sw.attach(gateway), a = sw.attach(first), b = sw.attach(second);
  sw.reserve_mac(kGatewayMac, g);
  std::vector<Ipv4> gone;
  sw.set_address_gone_observer([&](const IpAddress& ip) { gone.push_back(ip.v4()); });
  CHECK(sw.receive(g, ipv4_from(kGatewayMac, kFreeIp)));  // the gateway's senders are not guests
  CHECK(sw.receive(a, ipv4_from(kGuestA, kIpA)));
  CHECK(sw.receive(a, arp_from(kGuestA, kIpA)));
  CHECK(gone.empty());
  sw.detach(a);
  REQUIRE(gone.size() == 1);
  CHECK(gone[0] == kIpA);
  // The guest restarts on a new port and later its address shows up on a third one.
  CHECK(sw.receive(b, ipv4_from(kGuestA, kIpA)));
  CHECK(gone.size() == 1);
  RecordingPort third;
  const PortId c = sw.attach(third);
  CHECK(sw.receive(c, ipv4_from(kGuestB, kIpA)));
  CHECK(gone.size() == 2);
  sw.detach(b);  // the address is c's now: nothing more to report for b
  CHECK(gone.size() == 2);
  CHECK(sw.receive(g, ipv4_from(kGatewayMac, kFreeIp)));
  CHECK(sw.receive(c, ipv4_from(kGuestB, kFreeIp)));  // taken from the gateway? never tracked there
  CHECK(gone.size() == 2);
}

TEST_CASE("IPv6 senders: the source is read, the gateway's addresses are reserved, detach reports them") {
  CHECK(frame_sender(ipv6_from(kGuestA, "fd00::5")) == v6("fd00::5"));
  CHECK(frame_sender(ipv4_from(kGuestA, kIpA)) == v4(kIpA));
  CHECK_FALSE(frame_sender(ipv6_from(kGuestA, "::")));  // duplicate address detection
  CHECK_FALSE(frame_sender(ipv6_from(kGuestA, "ff02::1")));
  auto cut = ipv6_from(kGuestA, "fd00::5");
  cut.resize(14 + 39);
  CHECK_FALSE(frame_sender(cut));

  Switch sw(1514);
  RecordingPort gateway, guest;
  const PortId g = sw.attach(gateway), a = sw.attach(guest);
  sw.reserve_mac(kGatewayMac, g);
  sw.reserve_ip(*parse_ipv6("fd00::1"), kGatewayMac);
  std::vector<IpAddress> gone;
  sw.set_address_gone_observer([&](const IpAddress& ip) { gone.push_back(ip); });
  CHECK_FALSE(sw.receive(a, ipv6_from(kGuestA, "fd00::1")));
  CHECK(sw.counters().ip_reserved_frames == 1);
  CHECK(sw.receive(a, ipv6_from(kGuestA, "fe80::a")));
  CHECK(sw.receive(a, ipv6_from(kGuestA, "fd00::a")));
  CHECK(sw.receive(a, ipv4_from(kGuestA, kIpA)));
  // Another guest may not take A's IPv6 address (nor end A's flows by trying).
  RecordingPort other;
  const PortId b = sw.attach(other);
  CHECK_FALSE(sw.receive(b, ipv6_from(kGuestB, "fd00::a")));
  CHECK(sw.counters().ip_taken_frames == 1);
  CHECK(gone.empty());
  sw.detach(a);
  CHECK(gone == std::vector<IpAddress>{v6("fe80::a"), v6("fd00::a"), v4(kIpA)});
  // Once A is gone the address is free.
  CHECK(sw.receive(b, ipv6_from(kGuestB, "fd00::a")));
}
