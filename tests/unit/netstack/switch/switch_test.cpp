#include <doctest/doctest.h>

#include <tuple>
#include <vector>

#include "netstack/switch/switch.hpp"

using namespace usernet;

namespace {
struct RecordingPort : SwitchPort {
  std::vector<std::vector<std::uint8_t>> frames;
  bool accept = true;
  bool send_frame(ByteSpan frame) override {
    if (!accept) return false;
    frames.emplace_back(frame.begin(), frame.end());
    return true;
  }
  std::string describe() const override { return "recording"; }
};

std::vector<std::uint8_t> frame(MacAddress dst, MacAddress src, std::size_t size = 60) {
  std::vector<std::uint8_t> f(size, 0);
  std::copy(dst.begin(), dst.end(), f.begin());
  std::copy(src.begin(), src.end(), f.begin() + 6);
  f[12] = 0x08;
  return f;
}
const MacAddress A{0x02, 0, 0, 0, 0, 0xa};
const MacAddress B{0x02, 0, 0, 0, 0, 0xb};
const MacAddress C{0x02, 0, 0, 0, 0, 0xc};
}  // namespace

TEST_CASE("unknown unicast and broadcast flood to every other port") {
  Switch sw(1514);
  RecordingPort p1, p2, p3;
  auto id1 = sw.attach(p1);
  sw.attach(p2);
  sw.attach(p3);
  CHECK(sw.receive(id1, frame(B, A)));
  CHECK(p1.frames.empty());
  CHECK(p2.frames.size() == 1);
  CHECK(p3.frames.size() == 1);
  CHECK(sw.receive(id1, frame(kBroadcastMac, A)));
  CHECK(p2.frames.size() == 2);
  CHECK(sw.counters().flooded_frames == 2);
}

TEST_CASE("learned MACs are switched to one port only") {
  Switch sw(1514);
  RecordingPort p1, p2, p3;
  auto id1 = sw.attach(p1);
  auto id2 = sw.attach(p2);
  sw.attach(p3);
  sw.receive(id2, frame(kBroadcastMac, B));  // learn B on port 2
  p1.frames.clear();
  p3.frames.clear();
  sw.receive(id1, frame(B, A));
  CHECK(p2.frames.size() == 1);  // its own broadcast never came back to it
  CHECK(p3.frames.empty());
  CHECK(sw.counters(id2)->tx_frames == 1);
  auto table = sw.mac_table();
  CHECK(table.size() == 2);
}

TEST_CASE("runt, oversize and group-source frames are dropped and counted") {
  Switch sw(1514);
  RecordingPort p1, p2;
  auto id1 = sw.attach(p1);
  sw.attach(p2);
  std::vector<std::uint8_t> runt(13, 0);
  CHECK_FALSE(sw.receive(id1, runt));
  CHECK_FALSE(sw.receive(id1, frame(B, A, 1515)));
  CHECK_FALSE(sw.receive(id1, frame(B, kBroadcastMac)));
  CHECK(p2.frames.empty());
  CHECK(sw.counters(id1)->rx_dropped == 3);
  CHECK(sw.counters().runt_frames == 1);
  CHECK(sw.counters().oversize_frames == 1);
  CHECK(sw.receive(id1, frame(B, A, 1514)));
  CHECK(p2.frames.size() == 1);
}

TEST_CASE("detaching a port forgets its MACs and leaves the others working") {
  Switch sw(1514);
  RecordingPort p1, p2, p3;
  auto id1 = sw.attach(p1);
  auto id2 = sw.attach(p2);
  auto id3 = sw.attach(p3);
  sw.receive(id2, frame(kBroadcastMac, B));
  sw.receive(id3, frame(kBroadcastMac, C));
  sw.detach(id2);
  CHECK(sw.counters(id2) == nullptr);
  p3.frames.clear();
  sw.receive(id1, frame(B, A));  // B unknown again: floods to p3 only
  CHECK(p3.frames.size() == 1);
  sw.receive(id1, frame(C, A));
  CHECK(p3.frames.size() == 2);
}

TEST_CASE("a port that refuses a frame counts a tx drop") {
  Switch sw(1514);
  RecordingPort p1, p2;
  auto id1 = sw.attach(p1);
  auto id2 = sw.attach(p2);
  p2.accept = false;
  sw.receive(id1, frame(B, A));
  CHECK(sw.counters(id2)->tx_dropped == 1);
  CHECK(sw.counters(id2)->tx_frames == 0);
}

TEST_CASE("MAC text round trip") {
  auto mac = parse_mac("5a:94:ef:e4:0c:ee");
  REQUIRE(mac);
  CHECK(format_mac(*mac) == "5a:94:ef:e4:0c:ee");
  CHECK_FALSE(parse_mac("5a:94:ef:e4:0c"));
  CHECK_FALSE(parse_mac("5a:94:ef:e4:0c:eg"));
}

TEST_CASE("port events: up with the first valid frame's source, down on detach; silent ports say nothing") {
  Switch sw(1514);
  RecordingPort p1, p2, p3;
  std::vector<std::tuple<PortId, MacAddress, bool>> events;
  sw.set_port_event_observer([&](PortId id, const MacAddress& mac, bool up) { events.emplace_back(id, mac, up); });
  auto id1 = sw.attach(p1);
  auto id2 = sw.attach(p2);
  auto id3 = sw.attach(p3);
  CHECK_FALSE(sw.receive(id1, std::vector<std::uint8_t>(10, 0)));  // runt: not a VM frame
  CHECK(events.empty());
  CHECK(sw.receive(id1, frame(B, A)));
  CHECK(sw.receive(id1, frame(B, C)));  // later sources do not repeat the event
  REQUIRE(events.size() == 1);
  CHECK(events[0] == std::make_tuple(id1, A, true));
  sw.detach(id3);  // never sent a frame
  CHECK(events.size() == 1);
  CHECK(sw.receive(id2, frame(A, B)));
  sw.detach(id1);
  REQUIRE(events.size() == 3);
  CHECK(events[1] == std::make_tuple(id2, B, true));
  CHECK(events[2] == std::make_tuple(id1, A, false));
  sw.detach(id1);  // twice: nothing more
  CHECK(events.size() == 3);
}

TEST_CASE("a MAC active on one port is not taken over by another; the owner keeps working") {
  Switch sw(1514);
  RecordingPort p1, p2, p3;
  const PortId a = sw.attach(p1), b = sw.attach(p2), c = sw.attach(p3);
  auto from_a = frame(C, A);
  CHECK(sw.receive(a, from_a));
  auto spoofed = frame(C, A);
  CHECK_FALSE(sw.receive(b, spoofed));
  CHECK(sw.mac_table_counters().takeover_refused == 1);
  CHECK(sw.counters(b)->rx_dropped == 1);
  auto to_a = frame(A, C);
  CHECK(sw.receive(c, to_a));
  CHECK(p1.frames.size() == 1);
  CHECK(p2.frames.size() == 1);  // only the flood of A's first frame, nothing since
}

TEST_CASE("a reserved MAC is refused from every other port") {
  Switch sw(1514);
  RecordingPort gateway, guest;
  const PortId g = sw.attach(gateway), v = sw.attach(guest);
  sw.reserve_mac(A, g);
  auto spoofed = frame(B, A);
  CHECK_FALSE(sw.receive(v, spoofed));
  CHECK(sw.mac_table_counters().reserved_refused == 1);
  auto own = frame(B, A);
  CHECK(sw.receive(g, own));
}

TEST_CASE("the MAC table is bounded per port and in total, evicting the least recently used") {
  std::uint64_t now_ms = 0;
  Switch sw(1514, MacTableLimits{4, 3, std::chrono::milliseconds(1000)}, [&] { return now_ms; });
  RecordingPort p1, p2;
  const PortId a = sw.attach(p1), b = sw.attach(p2);
  auto mac = [](std::uint8_t n) { return MacAddress{0x02, 0, 0, 0, 1, n}; };
  for (std::uint8_t n = 1; n <= 5; n++) {
    auto f = frame(C, mac(n));
    CHECK(sw.receive(a, f));
  }
  CHECK(sw.mac_table().size() == 3);  // per-port cap; 1 and 2 evicted
  auto to_old = frame(mac(1), C);
  p1.frames.clear();
  CHECK(sw.receive(b, to_old));  // unknown again: flooded
  CHECK(sw.mac_table().size() == 4);  // C learned on b: total cap reached
  auto f6 = frame(C, mac(6));
  CHECK(sw.receive(a, f6));
  CHECK(sw.mac_table().size() == 4);
  CHECK(sw.mac_table_counters().evicted == 3);
}

TEST_CASE("an idle MAC ages out and may then move to another port") {
  std::uint64_t now_ms = 0;
  Switch sw(1514, MacTableLimits{16, 16, std::chrono::milliseconds(1000)}, [&] { return now_ms; });
  RecordingPort p1, p2;
  const PortId a = sw.attach(p1), b = sw.attach(p2);
  auto first = frame(C, A);
  CHECK(sw.receive(a, first));
  now_ms = 999;
  auto early = frame(C, A);
  CHECK_FALSE(sw.receive(b, early));
  now_ms = 2500;
  auto moved = frame(C, A);
  CHECK(sw.receive(b, moved));
  CHECK(sw.mac_table_counters().aged == 1);
  auto to_a = frame(A, C);
  p1.frames.clear();
  p2.frames.clear();
  CHECK(sw.receive(a, to_a));
  CHECK(p2.frames.size() == 1);
  CHECK(p1.frames.empty());
}
