// File descriptors for guest flows. Every NAT flow asks the budget before it opens a
// host socket; a reserve of the limit stays out of the guests' reach, so the API, DNS
// forwarding and new attachments keep working while one guest opens thousands of flows.
#pragma once

#include <cstdint>

namespace usernet {

/// Raises the soft RLIMIT_NOFILE to the hard limit and logs both; returns the new soft
/// limit (the old one if raising failed).
std::uint64_t raise_fd_limit(const char* program);

class FdBudget {
 public:
  /// `limit`: the process's fd limit; `in_use`: fds already open (listeners, logs, TAP).
  FdBudget(std::uint64_t limit, std::uint64_t in_use);
  /// From the soft RLIMIT_NOFILE and the fds this process holds now.
  static FdBudget for_this_process();

  /// limit/8, clamped to 64..1024: what guest flows may never use.
  static std::uint64_t reserve_for(std::uint64_t limit);

  /// Takes one fd for a guest flow; false when only the reserve is left.
  bool take();
  void give_back();

  std::uint64_t limit() const { return limit_; }
  std::uint64_t reserve() const { return reserve_; }
  /// How many fds guest flows may hold at once.
  std::uint64_t for_flows() const { return for_flows_; }
  std::uint64_t taken() const { return taken_; }

 private:
  std::uint64_t limit_;
  std::uint64_t reserve_;
  std::uint64_t for_flows_;
  std::uint64_t taken_ = 0;
};

}  // namespace usernet
