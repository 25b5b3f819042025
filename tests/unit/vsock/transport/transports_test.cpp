// Transports over real sockets in a temporary directory: a client speaks each framing
// to a running Transports, a recording port on the same Switch sees and answers.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "netstack/base/end_of_turn.hpp"
#include "netstack/switch/switch.hpp"
#include "vsock/transport/frame_codec.hpp"
#include "vsock/transport/socket_address.hpp"
#include "netstack/base/log.hpp"
#include "vsock/transport/transports.hpp"

using namespace usernet;

namespace {
using Bytes = std::vector<std::uint8_t>;

const MacAddress kRecorderMac{0x02, 0, 0, 0, 0, 0x01};
const MacAddress kClientA{0x02, 0, 0, 0, 0, 0x0a};
const MacAddress kClientB{0x02, 0, 0, 0, 0, 0x0b};

struct RecordingPort : SwitchPort {
  std::vector<Bytes> frames;
  bool send_frame(ByteSpan frame) override {
    frames.emplace_back(frame.begin(), frame.end());
    return true;
  }
  std::string describe() const override { return "recording"; }
};

Bytes make_frame(MacAddress dst, MacAddress src, std::size_t size = 60, std::uint8_t fill = 0x55) {
  Bytes f(size, fill);
  std::copy(dst.begin(), dst.end(), f.begin());
  std::copy(src.begin(), src.end(), f.begin() + 6);
  f[12] = 0x08;
  f[13] = 0x00;
  return f;
}

// Non-blocking read of whatever the client socket holds now.
Bytes read_available(int fd) {
  Bytes out;
  std::uint8_t buffer[65536];
  for (;;) {
    const ssize_t n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n <= 0) break;
    out.insert(out.end(), buffer, buffer + n);
  }
  return out;
}

// A temporary directory removed (with its sockets) at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/usernet-vsock-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf " + path).c_str()); }
  std::string file(const std::string& name) const { return path + "/" + name; }
};

// Loop, switch and a recording port: what every test needs.
struct Fixture {
  uv_loop_t loop{};
  Switch sw{1514};
  RecordingPort recorder;
  PortId recorder_id;
  EndOfTurn* end_of_turn;
  TempDir dir;
  std::string path;                       // the socket serve() listens on
  std::optional<Transports> transports;  // destroyed before the loop and EndOfTurn

  Fixture() {
    set_log_threshold(LogLevel::warn);  // connect/disconnect lines are expected here
    uv_loop_init(&loop);
    end_of_turn = new EndOfTurn(&loop);
    recorder_id = sw.attach(recorder);
  }
  ~Fixture() {
    transports.reset();
    delete end_of_turn;
    uv_run(&loop, UV_RUN_NOWAIT);  // let closed handles free themselves
    uv_loop_close(&loop);
  }
  // Starts Transports with one listener of the given kind on dir/name.
  Transports& serve(std::vector<std::string> TransportOptions::*field, const std::string& scheme,
                    const std::string& name) {
    path = dir.file(name);
    TransportOptions options;
    (options.*field).push_back(scheme + path);
    return transports.emplace(&loop, sw, *end_of_turn, options);
  }
  // Turns the loop until `done` holds or 2 s pass; returns done().
  bool run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      uv_run(&loop, UV_RUN_NOWAIT);
      usleep(200);
    }
    return true;
  }
  // Lets the loop settle for a few turns.
  void spin(int turns = 20) {
    for (int i = 0; i < turns; ++i) {
      uv_run(&loop, UV_RUN_NOWAIT);
      usleep(200);
    }
  }
  // Reads from a client stream until at least `size` bytes arrived (or 2 s passed).
  Bytes read_at_least(int fd, std::size_t size) {
    Bytes got;
    run_until([&] {
      const Bytes more = read_available(fd);
      got.insert(got.end(), more.begin(), more.end());
      return got.size() >= size;
    });
    return got;
  }
  // Recorder sends a frame into the switch (to a learned MAC or broadcast).
  void inject(const Bytes& frame) { sw.receive(recorder_id, frame); }
};

int connect_unix(const std::string& path, int type = SOCK_STREAM) {
  const int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  const SocketAddress address = unix_socket_address(path);
  REQUIRE(connect(fd, address.get(), address.length) == 0);
  return fd;
}

void write_all(int fd, const Bytes& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    REQUIRE(n > 0);
    done += static_cast<std::size_t>(n);
  }
}

Bytes prefixed(LengthPrefix prefix, const Bytes& frame) {
  Bytes out;
  append_prefixed_frame(prefix, frame, out);
  return out;
}

// A vfkit-side datagram socket bound at `own` (replacing a leftover) and aimed at `server`.
int open_vfkit_client(const std::string& own, const std::string& server) {
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const SocketAddress own_address = unix_socket_address(own);
  unlink(own.c_str());
  REQUIRE(bind(fd, own_address.get(), own_address.length) == 0);
  const SocketAddress server_address = unix_socket_address(server);
  REQUIRE(connect(fd, server_address.get(), server_address.length) == 0);
  return fd;
}

bool socket_exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}
}  // namespace

TEST_CASE("qemu stream: frames both ways, several per write, split writes") {
  Fixture f;
  f.serve(&TransportOptions::listen_qemu, "unix://", "qemu.sock");
  const std::string path = f.path;
  const int client = connect_unix(path);

  Bytes wire = prefixed(LengthPrefix::be32, make_frame(kBroadcastMac, kClientA, 60, 1));
  const Bytes second = prefixed(LengthPrefix::be32, make_frame(kRecorderMac, kClientA, 1514, 2));
  wire.insert(wire.end(), second.begin(), second.end());
  write_all(client, Bytes(wire.begin(), wire.begin() + 70));  // first frame + part of the second
  REQUIRE(f.run_until([&] { return f.recorder.frames.size() == 1; }));
  write_all(client, Bytes(wire.begin() + 70, wire.end()));
  REQUIRE(f.run_until([&] { return f.recorder.frames.size() == 2; }));
  CHECK(f.recorder.frames[1] == make_frame(kRecorderMac, kClientA, 1514, 2));

  // The switch learned kClientA on the qemu port: replies reach the client, prefixed.
  f.inject(make_frame(kClientA, kRecorderMac, 100, 3));
  f.inject(make_frame(kClientA, kRecorderMac, 200, 4));
  Bytes received = f.read_at_least(client, 4 + 100 + 4 + 200);
  REQUIRE(received.size() >= 4 + 100 + 4 + 200);
  Bytes expected = prefixed(LengthPrefix::be32, make_frame(kClientA, kRecorderMac, 100, 3));
  const Bytes expected2 = prefixed(LengthPrefix::be32, make_frame(kClientA, kRecorderMac, 200, 4));
  expected.insert(expected.end(), expected2.begin(), expected2.end());
  CHECK(received == expected);
  close(client);
}

TEST_CASE("qemu stream: runt and oversize frames are counted, the peer keeps working") {
  Fixture f;
  f.serve(&TransportOptions::listen_qemu, "unix://", "qemu.sock");
  const std::string path = f.path;
  const int client = connect_unix(path);
  write_all(client, prefixed(LengthPrefix::be32, Bytes(4, 0xaa)));
  write_all(client, prefixed(LengthPrefix::be32, make_frame(kRecorderMac, kClientA, 1515)));
  write_all(client, prefixed(LengthPrefix::be32, make_frame(kRecorderMac, kClientA, 64)));
  REQUIRE(f.run_until([&] { return f.recorder.frames.size() == 1; }));
  CHECK(f.sw.counters().runt_frames == 1);
  CHECK(f.sw.counters().oversize_frames == 1);
  CHECK(f.recorder.frames[0].size() == 64);
  close(client);
}

TEST_CASE("qemu stream: an absurd length disconnects that peer only") {
  Fixture f;
  Transports& transports = f.serve(&TransportOptions::listen_qemu, "unix://", "qemu.sock");
  const std::string path = f.path;
  const int bad = connect_unix(path);
  const int good = connect_unix(path);
  write_all(good, prefixed(LengthPrefix::be32, make_frame(kBroadcastMac, kClientB)));
  REQUIRE(f.run_until([&] { return f.recorder.frames.size() == 1; }));
  write_all(bad, Bytes{0x10, 0, 0, 0, 1, 2, 3, 4});
  REQUIRE(f.run_until([&] { return transports.counters().protocol_errors == 1; }));
  // The bad peer sees EOF; the good one still works both ways.
  REQUIRE(f.run_until([&] {
    std::uint8_t byte;
    return recv(bad, &byte, 1, MSG_DONTWAIT) == 0;
  }));
  write_all(good, prefixed(LengthPrefix::be32, make_frame(kRecorderMac, kClientB, 80)));
  REQUIRE(f.run_until([&] { return f.recorder.frames.size() == 2; }));
  f.inject(make_frame(kClientB, kRecorderMac, 90));
  Bytes got = f.read_at_least(good, 94);
  REQUIRE(got.size() == 94);
  close(bad);
  close(good);
}

TEST_CASE("two qemu clients reach each other by MAC; one leaving does not disturb the other") {
  Fixture f;
  Transports& transports = f.serve(&TransportOptions::listen_qemu, "unix://", "qemu.sock");
  const std::string path = f.path;
  const int a = connect_unix(path);
  const int b = connect_unix(path);
  write_all(a, prefixed(LengthPrefix::be32, make_frame(kBroadcastMac, kClientA)));
  write_all(b, prefixed(LengthPrefix::be32, make_frame(kBroadcastMac, kClientB)));
  REQUIRE(f.run_until([&] { return f.recorder.frames.size() == 2; }));
  read_available(a);
  read_available(b);
  const Bytes a_to_b = make_frame(kClientB, kClientA, 300, 7);
  write_all(a, prefixed(LengthPrefix::be32, a_to_b));
  Bytes got = f.read_at_least(b, 304);
  REQUIRE(got.size() >= 304);
  CHECK(got == prefixed(LengthPrefix::be32, a_to_b));
  CHECK(f.recorder.frames.size() == 2);  // unicast to a learned MAC: not flooded
  close(a);
  REQUIRE(f.run_until([&] { return transports.counters().peers_closed == 1; }));
  f.inject(make_frame(kClientB, kRecorderMac, 70));
  got = f.read_at_least(b, 74);
  REQUIRE(got.size() >= 74);
  close(b);
}

TEST_CASE("HTTP /connect: frames pipelined in the same write as the request are not lost") {
  Fixture f;
  f.serve(&TransportOptions::listen, "unix://", "api.sock");
  const std::string path = f.path;
  const int client = connect_unix(path);
  const std::string request = "POST /connect HTTP/1.1\r\nHost: \r\nContent-Length: 0\r\n\r\n";
  Bytes wire(request.begin(), request.end());
  for (std::uint8_t i = 0; i < 3; ++i) {
    const Bytes frame = prefixed(LengthPrefix::le16, make_frame(kRecorderMac, kClientA, 60 + i, i));
    wire.insert(wire.end(), frame.begin(), frame.end());
  }
  write_all(client, wire);
  REQUIRE(f.run_until([&] { return f.recorder.frames.size() == 3; }));
  for (std::uint8_t i = 0; i < 3; ++i) CHECK(f.recorder.frames[i] == make_frame(kRecorderMac, kClientA, 60 + i, i));
  f.inject(make_frame(kClientA, kRecorderMac, 100, 9));
  Bytes got = f.read_at_least(client, 102);
  REQUIRE(got.size() >= 102);
  CHECK(got == prefixed(LengthPrefix::le16, make_frame(kClientA, kRecorderMac, 100, 9)));  // no HTTP response
  close(client);
}

TEST_CASE("HTTP: other requests go to the handler (404 by default), garbage gets 400") {
  Fixture f;
  Transports& transports = f.serve(&TransportOptions::listen, "unix://", "api.sock");
  const std::string path = f.path;
  auto ask = [&](const std::string& request) {
    const int client = connect_unix(path);
    write_all(client, Bytes(request.begin(), request.end()));
    std::string reply;
    f.run_until([&] {
      std::uint8_t buffer[4096];
      const ssize_t n = recv(client, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n > 0) reply.append(reinterpret_cast<char*>(buffer), static_cast<std::size_t>(n));
      return n == 0;  // server closed after answering
    });
    close(client);
    return reply;
  };
  CHECK(ask("GET /stats HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 404", 0) == 0);
  transports.set_http_handler([](const HttpRequest& request) {
    return HttpResponse{200, "application/json", "{\"target\":\"" + request.target + "\"}", {}};
  });
  const std::string ok = ask("GET /stats HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(ok.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(ok.find("{\"target\":\"/stats\"}") != std::string::npos);
  CHECK(ask("\x16\x03\x01 garbage\r\n\r\n").rfind("HTTP/1.1 400", 0) == 0);
  CHECK(transports.counters().http_errors == 1);
  CHECK(transports.counters().http_requests == 2);
}

TEST_CASE("vfkit: VFKT handshake is consumed; a 4-byte datagram is counted; frames flow both ways") {
  Fixture f;
  Transports& transports = f.serve(&TransportOptions::listen_vfkit, "unixgram://", "vfkit.sock");
  const std::string path = f.path;
  const int client = open_vfkit_client(f.dir.file("vm.sock"), path);

  REQUIRE(send(client, "VFKT", 4, 0) == 4);
  REQUIRE(f.run_until([&] { return transports.counters().vfkit_handshakes == 1; }));
  CHECK(f.sw.counters().runt_frames == 0);
  REQUIRE(send(client, "abcd", 4, 0) == 4);  // not first: a runt
  const Bytes frame = make_frame(kRecorderMac, kClientA, 200, 5);
  REQUIRE(send(client, frame.data(), frame.size(), 0) == static_cast<ssize_t>(frame.size()));
  REQUIRE(f.run_until([&] { return f.recorder.frames.size() == 1; }));
  CHECK(f.sw.counters().runt_frames == 1);
  CHECK(f.recorder.frames[0] == frame);

  const Bytes reply = make_frame(kClientA, kRecorderMac, 120, 6);
  f.inject(reply);
  f.inject(reply);
  std::vector<Bytes> got;
  REQUIRE(f.run_until([&] {
    std::uint8_t buffer[2048];
    const ssize_t n = recv(client, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0) got.emplace_back(buffer, buffer + n);
    return got.size() == 2;
  }));
  CHECK(got[0] == reply);  // one frame per datagram, no prefix

  // Oversize datagram: counted, not delivered; the next frame still works.
  const Bytes big = make_frame(kRecorderMac, kClientA, 3000);
  REQUIRE(send(client, big.data(), big.size(), 0) == static_cast<ssize_t>(big.size()));
  REQUIRE(send(client, frame.data(), frame.size(), 0) == static_cast<ssize_t>(frame.size()));
  REQUIRE(f.run_until([&] { return f.recorder.frames.size() == 2; }));
  CHECK(transports.counters().oversize_datagrams == 1);
  close(client);
}

TEST_CASE("vfkit: without the handshake the first datagram is a frame; a new peer is learned after the old one goes") {
  Fixture f;
  Transports& transports = f.serve(&TransportOptions::listen_vfkit, "unixgram://", "vfkit.sock");
  const std::string path = f.path;
  auto open_client = [&](const std::string& name) { return open_vfkit_client(f.dir.file(name), path); };
  int client = open_client("vm1.sock");
  const Bytes frame = make_frame(kBroadcastMac, kClientA, 60, 1);
  REQUIRE(send(client, frame.data(), frame.size(), 0) == 60);
  REQUIRE(f.run_until([&] { return f.recorder.frames.size() == 1; }));
  CHECK(transports.counters().vfkit_handshakes == 0);

  // The VM restarts with a new socket: sends to the old peer fail, the port forgets it.
  close(client);
  f.inject(make_frame(kClientA, kRecorderMac));
  f.spin();
  client = open_client("vm2.sock");
  REQUIRE(send(client, "VFKT", 4, 0) == 4);
  REQUIRE(f.run_until([&] { return transports.counters().vfkit_handshakes == 1; }));
  f.inject(make_frame(kClientA, kRecorderMac, 77));
  std::uint8_t buffer[2048];
  ssize_t n = -1;
  REQUIRE(f.run_until([&] { return (n = recv(client, buffer, sizeof buffer, MSG_DONTWAIT)) > 0; }));
  CHECK(n == 77);

  // A third instance appears while the second is still alive: it takes over at once.
  const int third = open_client("vm3.sock");
  const Bytes hello = make_frame(kBroadcastMac, kClientB, 64, 3);
  REQUIRE(send(third, hello.data(), hello.size(), 0) == 64);
  REQUIRE(f.run_until([&] { return transports.counters().vfkit_peer_changes == 1; }));
  f.inject(make_frame(kClientB, kRecorderMac, 88));
  REQUIRE(f.run_until([&] { return (n = recv(third, buffer, sizeof buffer, MSG_DONTWAIT)) > 0; }));
  CHECK(n == 88);
  close(third);
  close(client);
}

TEST_CASE("vfkit: a peer that does not read gets back-pressure, then everything queued arrives") {
  Fixture f;
  Transports& transports = f.serve(&TransportOptions::listen_vfkit, "unixgram://", "vfkit.sock");
  const std::string path = f.path;
  const int client = open_vfkit_client(f.dir.file("vm.sock"), path);
  REQUIRE(send(client, "VFKT", 4, 0) == 4);
  const Bytes hello = make_frame(kBroadcastMac, kClientA);
  REQUIRE(send(client, hello.data(), hello.size(), 0) == 60);
  REQUIRE(f.run_until([&] { return f.recorder.frames.size() == 1; }));
  // The socket's 1 MiB send buffer (2 MiB as the kernel counts) holds some 900 such
  // datagrams in the unread receiver; the rest must wait in our queue, not be dropped.
  constexpr int kFrames = 1200;
  for (int batch = 0; batch < kFrames / 300; ++batch) {
    for (int i = 0; i < 300; ++i)
      f.inject(make_frame(kClientA, kRecorderMac, 1400, static_cast<std::uint8_t>(batch * 300 + i)));
    f.spin(3);
  }
  CHECK(transports.counters().send_blocked >= 1);
  CHECK(transports.counters().queue_full_drops == 0);
  int received = 0;
  bool in_order = true;
  f.run_until([&] {
    std::uint8_t buffer[2048];
    ssize_t n;
    while ((n = recv(client, buffer, sizeof buffer, MSG_DONTWAIT)) > 0) {
      in_order = in_order && n == 1400 && buffer[20] == static_cast<std::uint8_t>(received);
      ++received;
    }
    return received == kFrames;
  });
  CHECK(received == kFrames);
  CHECK(in_order);
  close(client);
}

TEST_CASE("bess: one frame per seqpacket, peers come and go") {
  Fixture f;
  Transports& transports = f.serve(&TransportOptions::listen_bess, "unixpacket://", "bess.sock");
  const std::string path = f.path;
  const int client = connect_unix(path, SOCK_SEQPACKET);
  const Bytes frame = make_frame(kBroadcastMac, kClientA, 100, 3);
  REQUIRE(send(client, frame.data(), frame.size(), 0) == 100);
  REQUIRE(send(client, "xy", 2, 0) == 2);
  REQUIRE(f.run_until([&] { return f.recorder.frames.size() == 1 && f.sw.counters().runt_frames == 1; }));
  f.inject(make_frame(kClientA, kRecorderMac, 500));
  std::uint8_t buffer[2048];
  ssize_t n = -1;
  REQUIRE(f.run_until([&] { return (n = recv(client, buffer, sizeof buffer, MSG_DONTWAIT)) > 0; }));
  CHECK(n == 500);
  close(client);
  REQUIRE(f.run_until([&] { return transports.counters().peers_closed == 1; }));
  CHECK(f.sw.ports().size() == 1);  // only the recorder is left
}

TEST_CASE("a slow reader gets a bounded queue: excess frames are refused and counted, never a crash") {
  Fixture f;
  Transports& transports = f.serve(&TransportOptions::listen_qemu, "unix://", "qemu.sock");
  const std::string path = f.path;
  const int client = connect_unix(path);
  write_all(client, prefixed(LengthPrefix::be32, make_frame(kBroadcastMac, kClientA)));
  REQUIRE(f.run_until([&] { return f.recorder.frames.size() == 1; }));
  const Bytes frame = make_frame(kClientA, kRecorderMac, 1514);
  for (int turn = 0; turn < 200 && transports.counters().queue_full_drops == 0; ++turn) {
    for (int i = 0; i < 100; ++i) f.inject(frame);
    f.spin(1);
  }
  CHECK(transports.counters().send_blocked >= 1);
  CHECK(transports.counters().queue_full_drops >= 1);
  // Draining the client lets everything queued arrive intact.
  Bytes got;
  f.run_until([&] {
    const Bytes more = read_available(client);
    got.insert(got.end(), more.begin(), more.end());
    return more.empty() && got.size() > 0 && got.size() % 1518 == 0 && (f.spin(5), read_available(client).empty());
  });
  REQUIRE(got.size() % 1518 == 0);
  CHECK(Bytes(got.begin() + 4, got.begin() + 1518) == frame);
  close(client);
}

TEST_CASE("unix paths: a live socket or a regular file is refused, a stale socket is replaced, paths are unlinked") {
  Fixture f;
  const std::string path = f.dir.file("qemu.sock");
  TransportOptions options;
  options.listen_qemu = {"unix://" + path};
  {
    Transports first(&f.loop, f.sw, *f.end_of_turn, options);
    CHECK(socket_exists(path));
    CHECK_THROWS_WITH_AS(Transports(&f.loop, f.sw, *f.end_of_turn, options), doctest::Contains("in use"),
                         std::runtime_error);
  }
  CHECK_FALSE(socket_exists(path));

  // A stale socket: bound, never listening, owner gone.
  const int stale = socket(AF_UNIX, SOCK_STREAM, 0);
  const SocketAddress address = unix_socket_address(path);
  REQUIRE(bind(stale, address.get(), address.length) == 0);
  close(stale);
  CHECK_NOTHROW(Transports(&f.loop, f.sw, *f.end_of_turn, options));

  const std::string file = f.dir.file("regular");
  std::ofstream(file) << "data";
  TransportOptions on_file;
  on_file.listen_bess = {"unixpacket://" + file};
  CHECK_THROWS_WITH_AS(Transports(&f.loop, f.sw, *f.end_of_turn, on_file), doctest::Contains("not a socket"),
                       std::runtime_error);
  struct stat st {};
  CHECK(stat(file.c_str(), &st) == 0);  // untouched
}

TEST_CASE("bad URLs and wrong schemes are setup errors naming the URL") {
  Fixture f;
  TransportOptions wrong;
  wrong.listen_vfkit = {"unix:///tmp/x.sock"};
  CHECK_THROWS_WITH_AS(Transports(&f.loop, f.sw, *f.end_of_turn, wrong), doctest::Contains("unix:///tmp/x.sock"),
                       std::runtime_error);
  TransportOptions bad;
  bad.listen_qemu = {"tcp://127.0.0.1:99999"};
  CHECK_THROWS_WITH_AS(Transports(&f.loop, f.sw, *f.end_of_turn, bad), doctest::Contains("tcp://127.0.0.1:99999"),
                       std::runtime_error);
}

TEST_CASE("qemu over TCP on loopback") {
  Fixture f;
  TransportOptions options;
  options.listen_qemu = {"tcp://127.0.0.1:0"};
  Transports transports(&f.loop, f.sw, *f.end_of_turn, options);
  REQUIRE(transports.tcp_ports().size() == 1);
  TransportUrl url = parse_transport_url("tcp://127.0.0.1:" + std::to_string(transports.tcp_ports()[0]));
  const int client = connect_stream(url);
  write_all(client, prefixed(LengthPrefix::be32, make_frame(kBroadcastMac, kClientA)));
  REQUIRE(f.run_until([&] { return f.recorder.frames.size() == 1; }));
  close(client);
}
