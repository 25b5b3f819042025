// The one owner of a raw file descriptor: closes it when it goes, moves but never copies.
#pragma once

#include <unistd.h>

#include <utility>

namespace usernet {

class UniqueFd {
 public:
  UniqueFd() = default;
  /// Takes ownership of fd (a negative fd means "none").
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  /// The descriptor, still owned here (-1 when none).
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  /// Gives the descriptor up without closing it (to a libuv handle, a child process...).
  int release() { return std::exchange(fd_, -1); }
  /// Closes the current descriptor (if any) and owns fd instead.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace usernet
