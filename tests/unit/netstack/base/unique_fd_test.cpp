#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <utility>
#include <vector>

#include "netstack/base/unique_fd.hpp"

using namespace usernet;

namespace {

/// True while fd names an open descriptor of this process.
bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

int open_null() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

}  // namespace

TEST_CASE("UniqueFd closes its descriptor when it goes") {
  int raw = -1;
  {
    UniqueFd fd(open_null());
    raw = fd.get();
    REQUIRE(raw >= 0);
    CHECK(fd);
    CHECK(is_open(raw));
  }
  CHECK_FALSE(is_open(raw));
}

TEST_CASE("UniqueFd moves ownership and release gives it up") {
  UniqueFd first(open_null());
  const int raw = first.get();
  UniqueFd second = std::move(first);
  CHECK_FALSE(first);  // NOLINT(bugprone-use-after-move): moved-from state is part of the contract
  CHECK(second.get() == raw);

  std::vector<UniqueFd> many;
  many.push_back(std::move(second));
  many.emplace_back(open_null());
  const int other = many.back().get();
  many.clear();
  CHECK_FALSE(is_open(raw));
  CHECK_FALSE(is_open(other));

  UniqueFd kept(open_null());
  const int released = kept.release();
  CHECK_FALSE(kept);
  CHECK(is_open(released));
  ::close(released);
}

TEST_CASE("UniqueFd reset and move-assignment close the old descriptor") {
  UniqueFd fd(open_null());
  const int old = fd.get();
  fd.reset(open_null());
  CHECK_FALSE(is_open(old));
  const int current = fd.get();
  fd = UniqueFd(open_null());
  CHECK_FALSE(is_open(current));
  fd.reset();
  CHECK(fd.get() == -1);
}
