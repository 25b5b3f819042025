#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "netstack/base/owner_only_bind.hpp"
#include "netstack/base/unix_address.hpp"

using namespace usernet;

TEST_CASE("bind_owner_only: the socket file is 0600 under umask 022, and the umask comes back") {
  char dir_template[] = "/tmp/usernet-bind-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string path = std::string(dir_template) + "/listener.sock";
  const auto address = unix_address(path);
  REQUIRE(address.has_value());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);

  const mode_t previous = ::umask(022);
  const int rc = bind_owner_only(fd, reinterpret_cast<const sockaddr*>(&*address), sizeof *address);
  const mode_t after = ::umask(previous);

  CHECK(rc == 0);
  CHECK(after == 022);
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 07777) == 0600);

  SUBCASE("a failing bind keeps its errno") {
    const int second = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(second >= 0);
    CHECK(bind_owner_only(second, reinterpret_cast<const sockaddr*>(&*address), sizeof *address) == -1);
    CHECK(errno == EADDRINUSE);
    ::close(second);
  }
  ::close(fd);
  ::unlink(path.c_str());
  ::rmdir(dir_template);
}
