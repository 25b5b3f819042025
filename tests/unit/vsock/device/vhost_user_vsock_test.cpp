// Plays QEMU against the real back-end: guest RAM in a memfd, vhost-user messages with
// SCM_RIGHTS over a socketpair, rings built in that RAM, kicks and calls through eventfds,
// and real unix sockets for the hybrid vsock host side (in a private temp directory).
#include <doctest/doctest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <thread>

#include "tests/unit/vsock/device/vsock_test_driver.hpp"
#include "vsock/vhost_user/vhost_user_message.hpp"
#include "vsock/device/vhost_user_vsock.hpp"

using namespace usernet;
using namespace usernet::vhost;
using usernet::test::TestGuestRam;
using usernet::test::VsockTestDriver;
using vsock::Operation;

namespace {

constexpr std::size_t kRamSize = 4 << 20;

// A unique temporary directory, removed at the end.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/usernet-vhost-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

int listen_unix(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(listen(fd, 8) == 0);
  return fd;
}

int connect_unix(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  return fd;
}

bool readable(int fd, int timeout_ms = 0) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1;
}

// The fake QEMU plus the back-end under test, sharing one libuv loop.
struct Frontend {
  TempDir dir;
  uv_loop_t loop{};
  int ram_fd = -1;
  std::uint8_t* ram_map = nullptr;
  std::unique_ptr<TestGuestRam> ram;
  std::unique_ptr<VsockTestDriver> driver;
  std::unique_ptr<vsock::VhostUserVsock> device;
  int sock = -1;  // our end of the vhost-user socketpair
  int kick[2] = {-1, -1};
  int call[2] = {-1, -1};

  Frontend() {
    uv_loop_init(&loop);
    ram_fd = memfd_create("guest-ram", MFD_CLOEXEC);
    REQUIRE(ftruncate(ram_fd, kRamSize) == 0);
    ram_map = static_cast<std::uint8_t*>(
        mmap(nullptr, kRamSize, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd, 0));
    REQUIRE(ram_map != MAP_FAILED);
    ram = std::make_unique<TestGuestRam>(std::span(ram_map, kRamSize), 0);
    ram->allocate(4096);  // keep guest-physical 0 unused
    driver = std::make_unique<VsockTestDriver>(*ram, 64);
    vsock::VhostUserVsockConfig config;
    config.uds_path = (dir.path / "vsock").string();
    config.guest_cid = 3;
    device = std::make_unique<vsock::VhostUserVsock>(&loop, config);
    const auto started = device->start();
    REQUIRE_MESSAGE(started, started.error());
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    sock = sv[0];
    device->adopt_frontend(sv[1]);
    for (int i = 0; i < 2; ++i) {
      kick[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
      call[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    }
  }

  ~Frontend() {
    if (sock >= 0) close(sock);
    device.reset();
    for (int i = 0; i < 20; ++i) uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    for (int fd : {kick[0], kick[1], call[0], call[1], ram_fd}) close(fd);
    munmap(ram_map, kRamSize);
  }

  // Runs the loop until `done` holds (or ~3 s pass).
  bool run_until(const std::function<bool()>& done) {
    for (int i = 0; i < 3000; ++i) {
      uv_run(&loop, UV_RUN_NOWAIT);
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }

  void send(Request request, const std::vector<std::uint8_t>& payload, std::vector<int> fds = {},
            bool need_reply = false) {
    const auto bytes = encode_request(request, payload, need_reply);
    iovec iov{const_cast<std::uint8_t*>(bytes.data()), bytes.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)] = {};
    if (!fds.empty()) {
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    REQUIRE(sendmsg(sock, &msg, 0) == static_cast<ssize_t>(bytes.size()));
  }

  // Waits for a reply and returns its payload (checking request code and reply flag).
  std::vector<std::uint8_t> reply(Request request) {
    REQUIRE(run_until([&] { return readable(sock); }));
    std::uint8_t header[kHeaderSize];
    REQUIRE(recv(sock, header, sizeof(header), MSG_WAITALL) == kHeaderSize);
    const auto h = decode_header(header);
    CHECK(h->request == static_cast<std::uint32_t>(request));
    CHECK((h->flags & 4u) != 0);
    std::vector<std::uint8_t> payload(h->size);
    if (h->size) REQUIRE(recv(sock, payload.data(), payload.size(), MSG_WAITALL) == h->size);
    return payload;
  }

  std::uint64_t ask_u64(Request request) {
    send(request, {});
    return *decode_u64(reply(request));
  }

  // QEMU 7.2's start-up sequence for vhost-user-vsock-pci.
  void negotiate_and_start() {
    const auto features = ask_u64(Request::get_features);
    CHECK((features & feature_mask(FeatureBit::protocol_features)) != 0);
    CHECK((features & feature_mask(FeatureBit::version_1)) != 0);
    CHECK((features & feature_mask(FeatureBit::ring_event_idx)) != 0);
    const auto protocol = ask_u64(Request::get_protocol_features);
    CHECK((protocol & feature_mask(ProtocolFeatureBit::config)) != 0);
    send(Request::set_protocol_features, encode_u64_payload(protocol));
    CHECK(ask_u64(Request::get_queue_num) == 2);
    send(Request::get_config, encode_config_payload({0, 8, 0, std::vector<std::uint8_t>(8)}));
    const auto config = decode_config(reply(Request::get_config));
    REQUIRE(config);
    REQUIRE(config->data.size() == 8);
    CHECK(config->data[0] == 3);  // guest CID, little-endian
    send(Request::set_owner, {});
    send(Request::set_features, encode_u64_payload(features));
    const MemoryRegionDescription region{0, kRamSize, ram->user_address(0), 0};
    send(Request::set_mem_table, encode_memory_table_payload(std::span(&region, 1)), {ram_fd},
         true);
    CHECK(*decode_u64(reply(Request::set_mem_table)) == 0);
    start_rings();
  }

  // Per-ring setup, as at boot and again after a guest reboot.
  void start_rings() {
    for (std::uint32_t i = 0; i < 2; ++i) {
      auto& ring = i == 0 ? driver->rx_ring : driver->tx_ring;
      send(Request::set_vring_num, encode_vring_state_payload({i, 64}));
      send(Request::set_vring_addr,
           encode_vring_address_payload({i, 0, ram->user_address(ring.descriptor_table_address()),
                                         ram->user_address(ring.used_ring_address()),
                                         ram->user_address(ring.available_ring_address()), 0}));
      send(Request::set_vring_base, encode_vring_state_payload({i, 0}));
      send(Request::set_vring_kick, encode_u64_payload(i), {kick[i]});
      send(Request::set_vring_call, encode_u64_payload(i), {call[i]});
      send(Request::set_vring_enable, encode_vring_state_payload({i, 1}));
    }
    REQUIRE(run_until([&] { return device->queues_running(); }));
  }

  void kick_queue(int index) {
    const std::uint64_t one = 1;
    REQUIRE(write(kick[index], &one, sizeof(one)) == sizeof(one));
  }

  bool called(int index) {
    std::uint64_t count;
    return read(call[index], &count, sizeof(count)) == sizeof(count);
  }

  // Sends a packet from the guest and waits until the device consumed it.
  void guest_send(vsock::PacketHeader h, const std::string& payload = {}) {
    const auto before = driver->tx_ring.used_index();
    driver->send(h, payload);
    kick_queue(1);
    REQUIRE(run_until([&] { return driver->tx_ring.used_index() != before; }));
  }

  // Waits for at least `count` rx packets.
  std::vector<usernet::test::TestPacket> guest_receive(std::size_t count) {
    std::vector<usernet::test::TestPacket> packets;
    run_until([&] {
      for (auto& p : driver->receive()) packets.push_back(p);
      return packets.size() >= count;
    });
    return packets;
  }

  std::string host_path(const std::string& suffix = {}) {
    return (dir.path / "vsock").string() + suffix;
  }

  // Starts the device with rx buffers offered and the host service on port 1024 listening;
  // returns the service's listening socket.
  int start_with_service() {
    const int service = listen_unix(host_path("_1024"));
    negotiate_and_start();
    driver->give_rx(16);
    kick_queue(0);
    return service;
  }
};

std::string read_some(int fd, std::size_t want) {
  std::string out;
  while (out.size() < want && readable(fd, 3000)) {
    char buf[4096];
    const ssize_t n = recv(fd, buf, std::min(sizeof(buf), want - out.size()), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace

TEST_CASE("vhost-user front-end: guest connects to a host unix socket and data flows") {
  Frontend f;
  const int service = f.start_with_service();
  f.guest_send(VsockTestDriver::header(Operation::request, 40000, 1024));
  auto packets = f.guest_receive(1);
  REQUIRE(packets.size() == 1);
  CHECK(packets[0].header.operation() == Operation::response);
  CHECK(f.called(0));  // the guest was interrupted for its rx queue
  CHECK(f.called(1));  // and for the consumed tx buffer
  const int host = accept(service, nullptr, nullptr);
  REQUIRE(host >= 0);

  f.guest_send(VsockTestDriver::header(Operation::rw, 40000, 1024), "ping from guest");
  CHECK(read_some(host, 15) == "ping from guest");

  const std::string reply(20000, 'r');
  REQUIRE(send(host, reply.data(), reply.size(), 0) == static_cast<ssize_t>(reply.size()));
  std::string got;
  f.run_until([&] {
    for (auto& p : f.driver->receive()) got += p.payload;
    if (f.driver->rx_ring.used_index() % 8 == 0) {  // keep rx buffers coming, like the guest
      f.driver->give_rx(8);
      f.kick_queue(0);
    }
    return got.size() >= reply.size();
  });
  CHECK(got == reply);

  // QEMU goes away: the device resets and the host socket sees end of stream.
  close(f.sock);
  f.sock = -1;
  REQUIRE(f.run_until([&] { return !f.device->queues_running(); }));
  CHECK(f.device->connection_count() == 0);
  char byte;
  CHECK(readable(host, 2000));
  CHECK(recv(host, &byte, 1, 0) == 0);
  close(host);
  close(service);
}

TEST_CASE("vhost-user front-end: host CONNECT reaches the guest listener, OK line first") {
  Frontend f;
  f.negotiate_and_start();
  f.driver->give_rx(16);
  f.kick_queue(0);
  const int client = connect_unix(f.host_path());
  const std::string command = "CONNECT 4000\nearly bytes";
  REQUIRE(send(client, command.data(), command.size(), 0) == static_cast<ssize_t>(command.size()));
  auto packets = f.guest_receive(1);
  REQUIRE(packets.size() == 1);
  const auto request = packets[0].header;
  CHECK(request.operation() == Operation::request);
  CHECK(request.dst_port == 4000);
  CHECK(request.dst_cid == 3);
  f.guest_send(VsockTestDriver::header(Operation::response, 4000, request.src_port));
  const std::string ok = "OK " + std::to_string(request.src_port) + "\n";
  CHECK(read_some(client, ok.size()) == ok);
  // Bytes sent right behind the command belong to the guest.
  packets = f.guest_receive(1);
  REQUIRE(packets.size() == 1);
  CHECK(packets[0].payload == "early bytes");
  close(client);
}

TEST_CASE("vhost-user front-end: a CONNECT the guest refuses closes the client") {
  Frontend f;
  f.negotiate_and_start();
  f.driver->give_rx(16);
  f.kick_queue(0);
  const int client = connect_unix(f.host_path());
  REQUIRE(send(client, "CONNECT 4001\n", 13, 0) == 13);
  auto packets = f.guest_receive(1);
  REQUIRE(packets.size() == 1);
  f.guest_send(VsockTestDriver::header(Operation::rst, 4001, packets[0].header.src_port));
  CHECK(read_some(client, 10).empty());  // closed without OK
  close(client);
}

TEST_CASE("vhost-user front-end: malformed descriptor chains are refused, device keeps working") {
  Frontend f;
  const int service = f.start_with_service();
  auto& tx = f.driver->tx_ring;
  // A buffer beyond the end of guest RAM, one crossing it, and a descriptor loop.
  tx.write_descriptor(10, kRamSize + 4096, 44, 0, 0);
  tx.make_available(10);
  tx.write_descriptor(11, kRamSize - 20, 44, 0, 0);
  tx.make_available(11);
  tx.write_descriptor(12, 4096, 44, 1, 13);
  tx.write_descriptor(13, 4096, 44, 1, 12);
  tx.make_available(12);
  f.kick_queue(1);
  REQUIRE(f.run_until([&] { return tx.used_index() == 3; }));
  CHECK(f.device->refused_chains() == 3);
  for (auto used : tx.take_used()) CHECK(used.length == 0);
  // A valid request still works.
  f.guest_send(VsockTestDriver::header(Operation::request, 40001, 1024));
  auto packets = f.guest_receive(1);
  REQUIRE(packets.size() == 1);
  CHECK(packets[0].header.operation() == Operation::response);
  close(service);
}

TEST_CASE("vhost-user front-end: bad messages are refused without harm") {
  Frontend f;
  f.negotiate_and_start();
  const auto refused_before = f.device->refused_messages();
  // Config read outside the 8-byte config space: REPLY_ACK reports failure.
  f.send(Request::get_config, encode_config_payload({4, 8, 0, std::vector<std::uint8_t>(8)}), {},
         true);
  CHECK(*decode_u64(f.reply(Request::get_config)) != 0);
  // A vring index beyond the two queues.
  f.send(Request::set_vring_num, encode_vring_state_payload({7, 64}), {}, true);
  CHECK(*decode_u64(f.reply(Request::set_vring_num)) != 0);
  // A memory table whose fd count does not match.
  const MemoryRegionDescription region{0, kRamSize, 0, 0};
  f.send(Request::set_mem_table, encode_memory_table_payload(std::span(&region, 1)), {}, true);
  CHECK(*decode_u64(f.reply(Request::set_mem_table)) != 0);
  CHECK(f.device->refused_messages() == refused_before + 3);
  CHECK(f.device->queues_running());
  // A ring whose addresses lie outside guest memory never starts.
  f.send(Request::get_vring_base, encode_vring_state_payload({1, 0}));
  f.reply(Request::get_vring_base);
  CHECK_FALSE(f.device->queues_running());
  f.send(Request::set_vring_addr,
         encode_vring_address_payload({1, 0, 0x10, 0x20, 0x30, 0}));
  f.send(Request::set_vring_kick, encode_u64_payload(1), {f.kick[1]});
  f.send(Request::set_vring_enable, encode_vring_state_payload({1, 1}), {}, true);
  CHECK(*decode_u64(f.reply(Request::set_vring_enable)) == 0);
  CHECK_FALSE(f.device->queues_running());
  // A version-2 header is a framing error: the front-end is dropped, the device reset.
  const std::uint8_t bad[12] = {1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0};
  REQUIRE(send(f.sock, bad, sizeof(bad), 0) == 12);
  char byte;
  REQUIRE(f.run_until([&] { return readable(f.sock); }));
  CHECK(recv(f.sock, &byte, 1, 0) == 0);
}

TEST_CASE("vhost-user front-end: guest reboot stops the rings, resets connections, restarts") {
  Frontend f;
  const int service = f.start_with_service();
  f.guest_send(VsockTestDriver::header(Operation::request, 40000, 1024));
  REQUIRE(f.guest_receive(1).size() == 1);
  const int host = accept(service, nullptr, nullptr);
  REQUIRE(host >= 0);
  CHECK(f.device->connection_count() == 1);

  // QEMU stops the device (reset/reboot): GET_VRING_BASE per ring returns where it stopped.
  for (std::uint32_t i = 0; i < 2; ++i) {
    f.send(Request::get_vring_base, encode_vring_state_payload({i, 0}));
    const auto state = decode_vring_state(f.reply(Request::get_vring_base));
    REQUIRE(state);
    CHECK(state->index == i);
    CHECK(state->num == 1u);  // rx: one buffer used (RESPONSE); tx: one request consumed
  }
  CHECK_FALSE(f.device->queues_running());
  CHECK(f.device->connection_count() == 0);
  char byte;
  REQUIRE(readable(host, 2000));
  CHECK(recv(host, &byte, 1, 0) == 0);  // the host side of the old connection is closed
  close(host);

  // The rebooted driver sets up fresh rings elsewhere in RAM; the device serves them.
  f.driver = std::make_unique<VsockTestDriver>(*f.ram, 64);
  f.start_rings();
  f.driver->give_rx(16);
  f.kick_queue(0);
  f.guest_send(VsockTestDriver::header(Operation::request, 40002, 1024));
  auto packets = f.guest_receive(1);
  REQUIRE(packets.size() == 1);
  CHECK(packets[0].header.operation() == Operation::response);
  CHECK(packets[0].header.dst_port == 40002);
  close(service);
}

TEST_CASE("vhost-user front-end: after QEMU disconnects, a new front-end starts from scratch") {
  Frontend f;
  const int service = f.start_with_service();
  f.guest_send(VsockTestDriver::header(Operation::request, 40000, 1024));
  REQUIRE(f.guest_receive(1).size() == 1);
  close(f.sock);
  REQUIRE(f.run_until([&] { return !f.device->queues_running(); }));

  // A new QEMU (new socket, new rings; the old kick/call eventfds are reused here).
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  f.sock = sv[0];
  f.device->adopt_frontend(sv[1]);
  f.driver = std::make_unique<VsockTestDriver>(*f.ram, 64);
  f.negotiate_and_start();
  f.driver->give_rx(16);
  f.kick_queue(0);
  f.guest_send(VsockTestDriver::header(Operation::request, 40000, 1024));  // same ports again
  auto packets = f.guest_receive(1);
  REQUIRE(packets.size() == 1);
  CHECK(packets[0].header.operation() == Operation::response);
  CHECK(f.device->connection_count() == 1);
  close(service);
}
