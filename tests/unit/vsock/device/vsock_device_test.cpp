#include <doctest/doctest.h>

#include <array>
#include <cerrno>
#include <deque>
#include <map>
#include <string>

#include "tests/unit/vsock/device/vsock_test_driver.hpp"
#include "vsock/device/vsock_device.hpp"

using namespace usernet;
using namespace usernet::vsock;
using usernet::test::TestGuestRam;
using usernet::test::TestRing;

namespace {

// A host stream whose peer is the test: records writes, serves scripted reads.
struct FakeStream : HostStream {
  std::string written;
  std::string to_read;
  bool eof = false;
  long read_error = 0;
  std::size_t write_budget = SIZE_MAX;  // bytes accepted until the test refills it
  bool shut_write = false;
  bool watch_read = false;
  bool watch_write = false;
  ReadyHandler handler;
  bool* destroyed = nullptr;

  ~FakeStream() override {
    if (destroyed) *destroyed = true;
  }
  long write(std::span<const std::uint8_t> bytes) override {
    const std::size_t n = std::min(bytes.size(), write_budget);
    if (write_budget != SIZE_MAX) write_budget -= n;
    written.append(reinterpret_cast<const char*>(bytes.data()), n);
    return static_cast<long>(n);
  }
  long read(std::span<const std::span<std::uint8_t>> buffers) override {
    if (read_error) return read_error;
    if (to_read.empty()) return eof ? 0 : -EAGAIN;
    std::size_t total = 0;
    for (auto b : buffers) {
      const std::size_t n = std::min(b.size(), to_read.size() - total);
      std::copy_n(to_read.begin() + static_cast<long>(total), n, b.begin());
      total += n;
    }
    to_read.erase(0, total);
    return static_cast<long>(total);
  }
  void shutdown_write() override { shut_write = true; }
  void watch(bool r, bool w) override {
    watch_read = r;
    watch_write = w;
  }
  void set_ready_handler(ReadyHandler h) override { handler = std::move(h); }
};

// Host services by port; remembers the streams it handed out.
struct FakeConnector : HostConnector {
  std::map<std::uint32_t, bool> services;
  std::vector<FakeStream*> streams;
  std::array<bool, 64> destroyed{};
  std::unique_ptr<HostStream> connect(std::uint32_t port) override {
    if (!services.count(port)) return nullptr;
    auto s = std::make_unique<FakeStream>();
    s->destroyed = &destroyed[streams.size()];
    streams.push_back(s.get());
    return s;
  }
};

// A VsockDevice over a test driver's rings, pumped after every guest action.
struct Guest {
  static constexpr std::uint64_t kCid = usernet::test::VsockTestDriver::kGuestCid;
  TestGuestRam ram{8 << 20};
  usernet::test::VsockTestDriver driver{ram};
  TestRing& rx_ring = driver.rx_ring;
  TestRing& tx_ring = driver.tx_ring;
  vhost::SplitVirtqueue rx = rx_ring.device();
  vhost::SplitVirtqueue tx = tx_ring.device();
  FakeConnector connector;
  std::vector<QueueIndex> notified;
  VsockDevice device;

  explicit Guest(DeviceConfig config = {})
      : device(config, connector, [this](QueueIndex q) { notified.push_back(q); }) {
    device.attach_queues(&rx, &tx);
  }
  void send(PacketHeader h, const std::string& payload = {}, bool pump = true) {
    driver.send(h, payload);
    if (pump) device.pump();
  }
  static PacketHeader header(Operation op, std::uint32_t guest_port, std::uint32_t host_port,
                             std::uint32_t buf_alloc = 256 * 1024, std::uint32_t fwd_cnt = 0) {
    return usernet::test::VsockTestDriver::header(op, guest_port, host_port, buf_alloc, fwd_cnt);
  }
  void give_rx(int count, std::uint32_t size = 4096) {
    driver.give_rx(count, size);
    device.pump();
  }
  std::vector<usernet::test::TestPacket> receive() { return driver.receive(); }
};

// Opens a guest-initiated connection from guest port 5000 to host port 1024.
FakeStream& connect_guest(Guest& g, std::uint32_t guest_buf_alloc = 256 * 1024) {
  g.connector.services[1024] = true;
  g.send(g.header(Operation::request, 5000, 1024, guest_buf_alloc));
  auto packets = g.receive();
  REQUIRE(packets.size() == 1);
  CHECK(packets[0].header.operation() == Operation::response);
  CHECK(packets[0].header.src_cid == kHostCid);
  CHECK(packets[0].header.dst_cid == Guest::kCid);
  CHECK(packets[0].header.src_port == 1024);
  CHECK(packets[0].header.dst_port == 5000);
  CHECK(packets[0].header.buf_alloc > 0);
  REQUIRE(g.connector.streams.size() == 1);
  return *g.connector.streams[0];
}

std::string pattern(std::size_t n, int seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + static_cast<std::size_t>(seed)) % 251);
  return s;
}

}  // namespace

TEST_CASE("guest connect reaches the host service and data flows both ways in order") {
  Guest g;
  g.give_rx(16);
  FakeStream& s = connect_guest(g);
  CHECK(s.watch_read);
  g.send(g.header(Operation::rw, 5000, 1024), "hello ");
  g.send(g.header(Operation::rw, 5000, 1024), "host");
  CHECK(s.written == "hello host");
  CHECK(g.device.stats().bytes_from_guest == 10);

  s.to_read = pattern(10000, 1);
  s.handler(true, false);
  std::string got;
  for (auto& p : g.receive()) {
    CHECK(p.header.operation() == Operation::rw);
    CHECK(p.header.len <= 4096);
    got += p.payload;
  }
  CHECK(got == pattern(10000, 1));
  CHECK(s.watch_read);  // drained to EAGAIN: waiting for more
  CHECK(!g.notified.empty());
}

TEST_CASE("guest connect to a port without a host service gets RST") {
  Guest g;
  g.give_rx(4);
  g.send(g.header(Operation::request, 5000, 7777));
  auto packets = g.receive();
  REQUIRE(packets.size() == 1);
  CHECK(packets[0].header.operation() == Operation::rst);
  CHECK(packets[0].header.dst_port == 5000);
  CHECK(g.device.stats().connections_refused == 1);
  CHECK(g.device.connection_count() == 0);
}

TEST_CASE("host to guest data never exceeds the guest's credit") {
  Guest g;
  g.give_rx(16);
  FakeStream& s = connect_guest(g, 100);
  s.to_read = pattern(300, 2);
  s.handler(true, false);
  std::string got;
  bool asked_for_credit = false;
  for (auto& p : g.receive()) {
    if (p.header.operation() == Operation::credit_request) asked_for_credit = true;
    if (p.header.operation() == Operation::rw) got += p.payload;
  }
  CHECK(got.size() == 100);
  CHECK(asked_for_credit);
  CHECK(s.to_read.size() == 200);  // not read from the host: bounded buffering
  // The guest's application consumed 100 bytes.
  g.send(g.header(Operation::credit_update, 5000, 1024, 100, 100));
  for (auto& p : g.receive()) got += p.payload;
  CHECK(got == pattern(300, 2).substr(0, 200));
}

TEST_CASE("slow host writes: queued bytes stay in order and credit is returned") {
  DeviceConfig config;
  config.buffer_per_connection = 1024;
  Guest g(config);
  g.give_rx(16);
  FakeStream& s = connect_guest(g);
  s.write_budget = 0;
  for (int i = 0; i < 4; ++i) g.send(g.header(Operation::rw, 5000, 1024), pattern(256, i));
  CHECK(s.written.empty());
  CHECK(s.watch_write);
  for (int i = 0; i < 20 && s.written.size() < 1024; ++i) {
    s.write_budget = 100;
    s.handler(false, true);
  }
  CHECK(s.written == pattern(256, 0) + pattern(256, 1) + pattern(256, 2) + pattern(256, 3));
  CHECK_FALSE(s.watch_write);
  // The guest (which had used all its credit) heard of the forwarding in steps of at
  // least a quarter buffer, so it has most of its credit back.
  std::uint32_t fwd = 0;
  int updates = 0;
  for (auto& p : g.receive()) {
    if (p.header.operation() == Operation::credit_update) ++updates;
    fwd = std::max(fwd, p.header.fwd_cnt);
  }
  CHECK(updates >= 2);
  CHECK(fwd >= 1024 - 1024 / 4);
}

TEST_CASE("a guest sending beyond its credit is reset") {
  DeviceConfig config;
  config.buffer_per_connection = 512;
  Guest g(config);
  g.give_rx(16);
  FakeStream& s = connect_guest(g);
  s.write_budget = 0;
  g.send(g.header(Operation::rw, 5000, 1024), pattern(500, 0));
  g.send(g.header(Operation::rw, 5000, 1024), pattern(100, 0));
  auto packets = g.receive();
  REQUIRE(!packets.empty());
  CHECK(packets.back().header.operation() == Operation::rst);
  CHECK(g.device.stats().credit_violations == 1);
  CHECK(g.device.connection_count() == 0);
  CHECK(g.connector.destroyed[0]);
}

TEST_CASE("shutdown: half-close both ways, then full close ends with RST") {
  Guest g;
  g.give_rx(16);
  FakeStream& s = connect_guest(g);
  g.send(g.header(Operation::rw, 5000, 1024), "last words");
  auto shut = g.header(Operation::shutdown, 5000, 1024);
  shut.flags = static_cast<std::uint32_t>(ShutdownFlag::send);
  g.send(shut);
  CHECK(s.written == "last words");
  CHECK(s.shut_write);
  s.to_read = "reply";
  s.eof = true;
  s.handler(true, false);
  auto packets = g.receive();
  REQUIRE(packets.size() == 2);
  CHECK(packets[0].payload == "reply");
  CHECK(packets[1].header.operation() == Operation::shutdown);
  CHECK(packets[1].header.flags == static_cast<std::uint32_t>(ShutdownFlag::send));
  shut.flags = static_cast<std::uint32_t>(ShutdownFlag::both);
  g.send(shut);
  packets = g.receive();
  REQUIRE(packets.size() == 1);
  CHECK(packets[0].header.operation() == Operation::rst);
  CHECK(g.device.connection_count() == 0);
  CHECK(g.connector.destroyed[0]);
}

TEST_CASE("guest close with queued data flushes to the host before resetting") {
  Guest g;
  g.give_rx(8);
  FakeStream& s = connect_guest(g);
  s.write_budget = 3;
  g.send(g.header(Operation::rw, 5000, 1024), "abcdefgh");
  auto shut = g.header(Operation::shutdown, 5000, 1024);
  shut.flags = static_cast<std::uint32_t>(ShutdownFlag::both);
  g.send(shut);
  CHECK(g.device.connection_count() == 1);  // 3 of 8 bytes written so far
  CHECK(s.written == "abc");
  s.write_budget = SIZE_MAX;
  s.handler(false, true);
  CHECK(g.connector.destroyed[0]);
  CHECK(g.device.connection_count() == 0);
}

TEST_CASE("host error while reading resets the guest connection") {
  Guest g;
  g.give_rx(8);
  FakeStream& s = connect_guest(g);
  s.read_error = -ECONNRESET;
  s.handler(true, false);
  auto packets = g.receive();
  REQUIRE(packets.size() == 1);
  CHECK(packets[0].header.operation() == Operation::rst);
  CHECK(g.device.connection_count() == 0);
}

TEST_CASE("host-initiated CONNECT: REQUEST to the guest, OK line first, then data") {
  Guest g;
  g.give_rx(8);
  auto owned = std::make_unique<FakeStream>();
  FakeStream& s = *owned;
  REQUIRE(g.device.connect_to_guest(4000, std::move(owned)));
  auto packets = g.receive();
  REQUIRE(packets.size() == 1);
  const auto request = packets[0].header;
  CHECK(request.operation() == Operation::request);
  CHECK(request.dst_port == 4000);
  CHECK(request.src_port >= (1u << 30));
  CHECK_FALSE(s.watch_read);  // nothing is read before the guest accepts
  auto response = g.header(Operation::response, 4000, request.src_port);
  g.send(response);
  CHECK(s.written == "OK " + std::to_string(request.src_port) + "\n");
  g.send(g.header(Operation::rw, 4000, request.src_port), "guest says hi");
  CHECK(s.written == "OK " + std::to_string(request.src_port) + "\nguest says hi");
  s.to_read = "host says hi";
  s.handler(true, false);
  packets = g.receive();
  REQUIRE(packets.size() == 1);
  CHECK(packets[0].payload == "host says hi");
}

TEST_CASE("host-initiated connection without announce: no OK line, guest data first") {
  Guest g;
  g.give_rx(8);
  auto owned = std::make_unique<FakeStream>();
  FakeStream& s = *owned;
  REQUIRE(g.device.connect_to_guest(4000, std::move(owned), 0, false));
  const auto request = g.receive().at(0).header;
  CHECK(request.operation() == Operation::request);
  g.send(g.header(Operation::response, 4000, request.src_port));
  CHECK(s.written.empty());
  g.send(g.header(Operation::rw, 4000, request.src_port), "banner");
  CHECK(s.written == "banner");
}

TEST_CASE("host-initiated CONNECT refused by the guest closes the host client") {
  Guest g;
  g.give_rx(8);
  bool destroyed = false;
  auto owned = std::make_unique<FakeStream>();
  owned->destroyed = &destroyed;
  FakeStream& s = *owned;
  REQUIRE(g.device.connect_to_guest(4000, std::move(owned)));
  const auto request = g.receive().at(0).header;
  g.send(g.header(Operation::rst, 4000, request.src_port));
  CHECK(destroyed);
  (void)s;
  CHECK(g.device.connection_count() == 0);
}

TEST_CASE("malformed and misaddressed tx packets are dropped and counted") {
  Guest g;
  g.give_rx(8);
  // Header shorter than 44 bytes.
  const auto at = g.ram.allocate(44);
  g.tx_ring.add_chain({{at, 20, false}});
  // len larger than the chain.
  auto h = g.header(Operation::rw, 5000, 1024);
  const auto bytes = encode_packet_header(PacketHeader{h.src_cid, h.dst_cid, 5000, 1024, 4000, 1, 5, 0, 0, 0});
  std::copy(bytes.begin(), bytes.end(), g.ram.at(at, 44).begin());
  g.tx_ring.add_chain({{at, 44, false}});
  // Wrong source CID.
  auto wrong = g.header(Operation::request, 5000, 1024);
  wrong.src_cid = 99;
  g.send(wrong, {}, false);
  g.device.pump();
  CHECK(g.device.stats().dropped_packets == 3);
  CHECK(g.device.connection_count() == 0);
  CHECK(g.tx_ring.take_used().size() == 3);  // all buffers returned to the guest
  CHECK(g.receive().empty());                // no reply to a foreign CID
}

TEST_CASE("packets for unknown connections get RST, never a reply to RST") {
  Guest g;
  g.give_rx(8);
  g.send(g.header(Operation::rw, 5000, 1024), "stray");
  g.send(g.header(Operation::rst, 5001, 1024));
  auto packets = g.receive();
  REQUIRE(packets.size() == 1);
  CHECK(packets[0].header.operation() == Operation::rst);
  CHECK(packets[0].header.dst_port == 5000);
}

TEST_CASE("replies wait for rx buffers, and tx pauses when too many are pending") {
  DeviceConfig config;
  config.max_pending_replies = 4;
  Guest g(config);
  for (int i = 0; i < 10; ++i) g.send(g.header(Operation::rw, 6000 + static_cast<std::uint32_t>(i), 1024), "x", false);
  g.device.pump();
  CHECK(g.tx_ring.take_used().size() == 4);  // the rest waits in the ring
  g.give_rx(20);
  auto packets = g.receive();
  CHECK(packets.size() == 10);
  CHECK(g.tx_ring.take_used().size() == 6);
}

TEST_CASE("detaching the queues drops all connections") {
  Guest g;
  g.give_rx(8);
  connect_guest(g);
  CHECK(g.device.connection_count() == 1);
  g.device.attach_queues(nullptr, nullptr);
  CHECK(g.device.connection_count() == 0);
  CHECK(g.connector.destroyed[0]);
  CHECK_FALSE(g.device.connect_to_guest(1, std::make_unique<FakeStream>()));
}

TEST_CASE("ByteQueue keeps order, refuses overflow and stays bounded") {
  ByteQueue q(10);
  const std::vector<std::uint8_t> a{1, 2, 3, 4, 5, 6}, b{7, 8, 9, 10}, c{11};
  CHECK(q.push(a));
  CHECK(q.push(b));
  CHECK_FALSE(q.push(c));  // full: nothing appended
  CHECK(q.size() == 10);
  q.consume(7);
  CHECK(q.front().size() == 3);
  CHECK(q.front()[0] == 8);
  CHECK(q.push(c));
  CHECK(std::vector<std::uint8_t>(q.front().begin(), q.front().end()) ==
        std::vector<std::uint8_t>{8, 9, 10, 11});
  // Steady trickle: content stays in order through many compactions.
  std::uint8_t next_in = 12, next_out = 8;
  for (int i = 0; i < 1000; ++i) {
    const std::uint8_t byte = next_in++;
    REQUIRE(q.push(std::span(&byte, 1)));
    CHECK(q.front()[0] == next_out);
    q.consume(1);
    ++next_out;
  }
  q.consume(100);
  CHECK(q.empty());
}

TEST_CASE("a host CONNECT the guest never answers times out: client closed, guest told") {
  DeviceConfig config;
  config.request_timeout_ms = 5000;
  Guest g(config);
  g.give_rx(8);
  bool destroyed = false;
  auto owned = std::make_unique<FakeStream>();
  owned->destroyed = &destroyed;
  REQUIRE(g.device.connect_to_guest(4000, std::move(owned), 1000));
  const auto request = g.receive().at(0).header;
  g.device.expire_requests(5999);
  CHECK_FALSE(destroyed);
  g.device.expire_requests(6000);
  CHECK(destroyed);
  CHECK(g.device.connection_count() == 0);
  auto packets = g.receive();
  REQUIRE(packets.size() == 1);
  CHECK(packets[0].header.operation() == Operation::rst);
  CHECK(packets[0].header.src_port == request.src_port);
  // A late RESPONSE finds no connection and is answered with RST.
  g.send(g.header(Operation::response, 4000, request.src_port));
  packets = g.receive();
  REQUIRE(packets.size() == 1);
  CHECK(packets[0].header.operation() == Operation::rst);
}
