#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "netstack/base/accept_shedding.hpp"

using namespace usernet;

namespace {

/// A loopback TCP listener on an ephemeral port; returns its fd and fills `address`.
int loopback_listener(sockaddr_in& address) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, 16) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    return -1;
  return fd;
}

int connected_client(const sockaddr_in& address) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) return -1;
  return fd;
}

/// Lowers the soft open-files limit and restores it on scope exit.
struct SoftFdLimit {
  explicit SoftFdLimit(rlim_t soft) {
    ::getrlimit(RLIMIT_NOFILE, &saved);
    rlimit lowered = saved;
    lowered.rlim_cur = soft;
    ::setrlimit(RLIMIT_NOFILE, &lowered);
  }
  ~SoftFdLimit() { ::setrlimit(RLIMIT_NOFILE, &saved); }
  rlimit saved{};
};

}  // namespace

TEST_CASE("accept_or_shed: out of descriptors, the waiting client is closed at once, not left queued") {
  sockaddr_in address{};
  const int listener = loopback_listener(address);
  REQUIRE(listener >= 0);
  // Nothing waiting: plain accept4 behaviour (this also opens the reserve descriptor).
  const int idle = accept_or_shed(listener, SOCK_CLOEXEC);
  const int idle_errno = errno;  // captured first: doctest's reporting may change errno
  CHECK(idle == -1);
  CHECK(idle_errno == EAGAIN);

  const int shed_client = connected_client(address);
  REQUIRE(shed_client >= 0);
  const std::uint64_t shed_before = shed_connections();
  std::vector<int> fillers;
  {
    // Exhaust the table: dup returns the lowest free number, so with the limit just above
    // it every descriptor is taken (the reserve among them).
    fillers.push_back(::dup(0));
    REQUIRE(fillers.back() >= 0);
    SoftFdLimit limit(static_cast<rlim_t>(fillers.back()) + 1);
    for (int fd = ::dup(0); fd >= 0; fd = ::dup(0)) fillers.push_back(fd);
    const int filled_errno = errno;
    // No assertion while the table is full (doctest's reporter may need a descriptor).
    const int shed = accept_or_shed(listener, SOCK_CLOEXEC);
    const int shed_errno = errno;
    const std::uint64_t shed_after_first = shed_connections();
    const int nothing = accept_or_shed(listener, SOCK_CLOEXEC);
    const int nothing_errno = errno;
    const std::uint64_t shed_after_second = shed_connections();
    const int extra = ::dup(0);  // the reserve came back: the table is still full
    if (extra >= 0) ::close(extra);
    for (int fd : fillers) ::close(fd);
    fillers.clear();
    REQUIRE(filled_errno == EMFILE);
    CHECK(shed == -1);
    CHECK(shed_errno == ECONNABORTED);
    CHECK(shed_after_first == shed_before + 1);
    // The queue is empty now: nothing to shed, nothing counted.
    CHECK(nothing == -1);
    CHECK(nothing_errno == EAGAIN);
    CHECK(shed_after_second == shed_before + 1);
    CHECK(extra == -1);
  }
  char byte = 0;
  CHECK(::recv(shed_client, &byte, 1, 0) == 0);  // the shed client sees its connection closed

  const int served_client = connected_client(address);
  REQUIRE(served_client >= 0);
  const int accepted = accept_or_shed(listener, SOCK_CLOEXEC);
  CHECK(accepted >= 0);  // with descriptors to spare, clients are accepted as usual
  CHECK(shed_connections() == shed_before + 1);
  ::close(accepted);
  ::close(served_client);
  ::close(shed_client);
  ::close(listener);
}

TEST_CASE("shedding_warning names the descriptor limit and the count so far") {
  const auto text = shedding_warning("forward 127.0.0.1:8080");
  CHECK(text.find("forward 127.0.0.1:8080: out of file descriptors (RLIMIT_NOFILE ") == 0);
  CHECK(text.find(std::to_string(shed_connections()) + " so far") != std::string::npos);
}
