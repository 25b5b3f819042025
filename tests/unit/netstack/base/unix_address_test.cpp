#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "netstack/base/text_file.hpp"
#include "netstack/base/unix_address.hpp"

using namespace usernet;

TEST_CASE("unix_address: the path NUL-terminated in sun_path, refused when it cannot fit") {
  const auto address = unix_address("/run/usernet/api.sock");
  REQUIRE(address.has_value());
  CHECK(address->sun_family == AF_UNIX);
  CHECK(std::string(address->sun_path) == "/run/usernet/api.sock");
  const std::string longest(sizeof(sockaddr_un{}.sun_path) - 1, 'x');
  REQUIRE(unix_address(longest).has_value());
  CHECK(std::string(unix_address(longest)->sun_path) == longest);
  CHECK_FALSE(unix_address(longest + "x").has_value());
}

TEST_CASE("read_text_file: whole content, nullopt for a missing file") {
  char path[] = "/tmp/usernet-text-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  const std::string text = std::string("line one\nline two\n") + std::string(100000, 'z');
  REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(fd);
  CHECK(read_text_file(path) == text);
  ::unlink(path);
  CHECK_FALSE(read_text_file(path).has_value());
}
