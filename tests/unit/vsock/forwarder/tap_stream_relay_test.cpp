// The forwarder relay with a datagram socketpair standing in for the TAP (one frame per
// message, like a TAP's read/write) and a stream socketpair for the host connection.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "vsock/transport/frame_codec.hpp"
#include "vsock/transport/http_request_reader.hpp"
#include "vsock/forwarder/tap_stream_relay.hpp"

using namespace usernet;

namespace {
using Bytes = std::vector<std::uint8_t>;

Bytes frame(std::size_t size, std::uint8_t fill) {
  Bytes f(size, fill);
  f[0] = 0x02;
  f[6] = 0x02;
  return f;
}

struct Pair {
  int a = -1, b = -1;
  explicit Pair(int type) {
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    a = fds[0];
    b = fds[1];
  }
  ~Pair() {
    close(a);
    close(b);
  }
};

// Blocking read of exactly n bytes from a non-blocking stream socket (with a deadline).
Bytes read_exactly(int fd, std::size_t n) {
  Bytes out;
  for (int spins = 0; out.size() < n && spins < 20000; ++spins) {
    std::uint8_t buffer[65536];
    const ssize_t got = recv(fd, buffer, std::min(sizeof buffer, n - out.size()), 0);
    if (got > 0) out.insert(out.end(), buffer, buffer + got);
    else usleep(100);
  }
  return out;
}
}  // namespace

TEST_CASE("the connect request is what HttpRequestReader treats as POST /connect") {
  HttpRequestReader reader;
  const std::string request = connect_request("/connect");
  CHECK(reader.feed(ByteSpan(reinterpret_cast<const std::uint8_t*>(request.data()), request.size())) ==
        HttpRequestReader::Status::connect);
  CHECK(reader.leftover().empty());
}

TEST_CASE("relay: TAP frames go out prefixed, host frames reach the TAP one per write") {
  Pair tap(SOCK_DGRAM);
  Pair host(SOCK_STREAM);
  RelayCounters counters;
  std::atomic<bool> stop{false};
  RelayHooks hooks;
  hooks.check = [&]() -> Status {
    if (stop) return Error{"stop"};
    return {};
  };
  std::string reason;
  std::thread relay([&] { reason = relay_tap_and_stream(tap.b, host.b, counters, hooks); });

  // Guest → host: three frames from the "TAP".
  Bytes expected;
  for (std::uint8_t i = 0; i < 3; ++i) {
    const Bytes f = frame(60 + i * 500, i);
    REQUIRE(send(tap.a, f.data(), f.size(), 0) == static_cast<ssize_t>(f.size()));
    append_prefixed_frame(LengthPrefix::le16, f, expected);
  }
  CHECK(read_exactly(host.a, expected.size()) == expected);

  // Host → guest: frames split at odd places, a runt in between.
  Bytes wire;
  append_prefixed_frame(LengthPrefix::le16, frame(1514, 7), wire);
  append_prefixed_frame(LengthPrefix::le16, Bytes(5, 1), wire);
  append_prefixed_frame(LengthPrefix::le16, frame(64, 8), wire);
  REQUIRE(send(host.a, wire.data(), 700, 0) == 700);
  usleep(2000);
  REQUIRE(send(host.a, wire.data() + 700, wire.size() - 700, 0) == static_cast<ssize_t>(wire.size() - 700));
  std::vector<Bytes> at_tap;
  for (int spins = 0; at_tap.size() < 2 && spins < 20000; ++spins) {
    std::uint8_t buffer[2048];
    const ssize_t n = recv(tap.a, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0) at_tap.emplace_back(buffer, buffer + n);
    else usleep(100);
  }
  REQUIRE(at_tap.size() == 2);
  CHECK(at_tap[0] == frame(1514, 7));
  CHECK(at_tap[1] == frame(64, 8));

  stop = true;
  relay.join();
  CHECK(reason == "stop");
  CHECK(counters.tap_to_host_frames == 3);
  CHECK(counters.host_to_tap_frames == 2);
  CHECK(counters.runt_frames == 1);
}

TEST_CASE("relay: a TAP that cannot take more frames pauses host reads; nothing is lost") {
  Pair tap(SOCK_DGRAM);
  Pair host(SOCK_STREAM);
  int small = 4096;
  setsockopt(tap.b, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  RelayCounters counters;
  RelayHooks hooks;
  std::atomic<bool> stop{false};
  hooks.check = [&]() -> Status {
    if (stop) return Error{"stop"};
    return {};
  };
  std::string reason;
  std::thread relay([&] { reason = relay_tap_and_stream(tap.b, host.b, counters, hooks); });
  constexpr int kFrames = 400;
  std::thread writer([&] {
    Bytes wire;
    for (int i = 0; i < kFrames; ++i) append_prefixed_frame(LengthPrefix::le16, frame(1000, static_cast<std::uint8_t>(i)), wire);
    std::size_t sent = 0;
    while (sent < wire.size()) {
      const ssize_t n = send(host.a, wire.data() + sent, wire.size() - sent, 0);
      if (n > 0) sent += static_cast<std::size_t>(n);
      else usleep(100);
    }
  });
  usleep(50000);  // let the TAP side fill up before anyone reads it
  int received = 0;
  bool in_order = true;
  for (int spins = 0; received < kFrames && spins < 50000; ++spins) {
    std::uint8_t buffer[2048];
    const ssize_t n = recv(tap.a, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0) {
      in_order = in_order && n == 1000 && buffer[1] == static_cast<std::uint8_t>(received);
      ++received;
    } else {
      usleep(100);
    }
  }
  writer.join();
  stop = true;
  relay.join();
  CHECK(received == kFrames);
  CHECK(in_order);
  CHECK(counters.tap_write_drops == 0);
}

TEST_CASE("relay: the host closing ends the relay with a reason") {
  Pair tap(SOCK_DGRAM);
  Pair host(SOCK_STREAM);
  RelayCounters counters;
  RelayHooks hooks;
  shutdown(host.a, SHUT_WR);
  CHECK(relay_tap_and_stream(tap.b, host.b, counters, hooks) == "host closed the connection");
}
