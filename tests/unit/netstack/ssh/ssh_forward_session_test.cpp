// The SSH forward's worker without an sshd: how it retries, and that the owner can stop
// it wherever it waits (poll, backoff sleep, or a handshake blocked on a silent peer).
#include <doctest/doctest.h>
#include <libssh/libssh.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "netstack/ssh/ssh_forward_session.hpp"

using namespace usernet;
using Clock = std::chrono::steady_clock;

namespace {

/// A listening unix socket in /tmp (the session accepts clients on it); removed at exit.
struct Listener {
  std::string path = "/tmp/usernet-ssh-test-" + std::to_string(::getpid()) + ".sock";
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  Listener() {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::strcpy(sun.sun_path, path.c_str());
    ::unlink(path.c_str());
    REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&sun), sizeof sun) == 0);
    REQUIRE(::listen(fd, 8) == 0);
  }
  ~Listener() {
    ::close(fd);
    ::unlink(path.c_str());
  }
};

/// Plays the virtual network: each dial gets a socketpair; `silent` keeps the far end
/// open and mute (a guest that never answers), otherwise it is closed at once (refused).
struct FakeGuest {
  bool silent;
  std::mutex mutex;
  std::vector<int> far_ends;
  std::vector<Clock::time_point> dial_times;
  explicit FakeGuest(bool is_silent) : silent(is_silent) {}
  ~FakeGuest() {
    for (int fd : far_ends) ::close(fd);
  }
  int dial() {
    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) return -1;
    std::lock_guard lock(mutex);
    dial_times.push_back(Clock::now());
    if (silent)
      far_ends.push_back(ends[1]);
    else
      ::close(ends[1]);
    return ends[0];
  }
  std::size_t dials() {
    std::lock_guard lock(mutex);
    return dial_times.size();
  }
};

ssh_key test_key() {
  ssh_key key = nullptr;
  REQUIRE(ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) == SSH_OK);
  return key;
}

bool wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return predicate();
}

/// A session running on its own thread against a fake guest; stopped and joined by stop().
struct RunningSession {
  Listener listener;
  FakeGuest guest;
  ssh_key key = test_key();
  SshForwardSpec spec{"/tmp/unused.sock", "/run/dest.sock", "root", "/unused", make_ipv4(192, 168, 127, 2), 22};
  SshForwardStop stop_request;
  int tries;
  SshForwardSession session{spec, key, listener.fd, [this] { return guest.dial(); }, stop_request, tries};
  std::thread worker{[this] { session.run(); }};

  explicit RunningSession(bool silent_guest, int tries_per_round = kSshConnectTries)
      : guest(silent_guest), tries(tries_per_round) {}
  ~RunningSession() {
    stop();
    ssh_key_free(key);
  }
  void stop() {
    stop_request.request();
    if (worker.joinable()) worker.join();
  }
};

}  // namespace

TEST_CASE("a stop request wakes a backoff sleep at once") {
  SshForwardStop stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stop.request();
  });
  const auto start = Clock::now();
  CHECK_FALSE(stop.sleep_ms(20000));
  CHECK(Clock::now() - start < std::chrono::seconds(5));
  stopper.join();
  CHECK(stop.requested());
}

TEST_CASE("a stop request shuts the transport down, even one registered afterwards") {
  int first[2], second[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, first) == 0);
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, second) == 0);
  SshForwardStop stop;
  stop.set_transport_fd(first[0]);
  char byte;
  CHECK(::recv(first[1], &byte, 1, 0) < 0);  // open and quiet: would block
  stop.request();
  CHECK(::recv(first[1], &byte, 1, 0) == 0);  // our end was shut: EOF
  stop.set_transport_fd(second[0]);
  CHECK(::recv(second[1], &byte, 1, 0) == 0);
  for (int fd : {first[0], first[1], second[0], second[1]}) ::close(fd);
}

TEST_CASE("refused connections are retried with growing delays until stopped") {
  RunningSession running(false);
  auto& guest = running.guest;
  REQUIRE(wait_until([&] { return guest.dials() >= 4; }, std::chrono::seconds(20)));
  running.stop();
  std::lock_guard lock(guest.mutex);
  // Tries 2, 3 and 4 waited at least 100, 200 and 400 ms after the one before.
  const auto& t = guest.dial_times;
  CHECK(t[1] - t[0] >= std::chrono::milliseconds(100));
  CHECK(t[2] - t[1] >= std::chrono::milliseconds(200));
  CHECK(t[3] - t[2] >= std::chrono::milliseconds(400));
}

TEST_CASE("stopping interrupts a handshake with a guest that never answers") {
  RunningSession running(true);
  REQUIRE(wait_until([&] { return running.guest.dials() == 1; }, std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // now inside ssh_connect
  const auto start = Clock::now();
  running.stop();
  CHECK(Clock::now() - start < std::chrono::seconds(5));  // not the 10 s handshake timeout
  CHECK(running.guest.dials() == 1);                        // and no retry after the stop
}

TEST_CASE("after a failed round, waiting clients are closed and the next client starts a new round") {
  RunningSession running(false, 2);
  REQUIRE(wait_until([&] { return running.guest.dials() == 2; }, std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(running.guest.dials() == 2);  // the round is over: no dialling without demand

  const int client = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::strcpy(sun.sun_path, running.listener.path.c_str());
  REQUIRE(::connect(client, reinterpret_cast<const sockaddr*>(&sun), sizeof sun) == 0);
  REQUIRE(wait_until([&] { return running.guest.dials() == 4; }, std::chrono::seconds(10)));
  timeval timeout{10, 0};
  ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  char byte;
  CHECK(::recv(client, &byte, 1, 0) == 0);  // closed, not left hanging
  ::close(client);
}
