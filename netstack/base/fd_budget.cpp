#include "netstack/base/fd_budget.hpp"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace usernet {

namespace {
std::uint64_t open_fd_count() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  std::uint64_t count = 0;
  while (const dirent* entry = ::readdir(dir))
    if (entry->d_name[0] != '.') ++count;
  ::closedir(dir);
  return count > 0 ? count - 1 : 0;  // minus the directory's own fd
}

std::uint64_t soft_fd_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 1u << 20;
  return limit.rlim_cur;
}
}  // namespace

std::uint64_t raise_fd_limit(const char* program) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  const rlim_t old_soft = limit.rlim_cur;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      spdlog::warn("{}: cannot raise the open-file limit from {} to {}: {}", program, old_soft, limit.rlim_max,
                   std::strerror(errno));
      limit.rlim_cur = old_soft;
    }
  }
  spdlog::info("{}: open-file limit {} (soft was {}, hard {})", program, limit.rlim_cur, old_soft, limit.rlim_max);
  return limit.rlim_cur;
}

FdBudget::FdBudget(std::uint64_t limit, std::uint64_t in_use)
    : limit_(limit), reserve_(reserve_for(limit)),
      for_flows_(limit > reserve_ + in_use ? limit - reserve_ - in_use : 0) {}

FdBudget FdBudget::for_this_process() { return {soft_fd_limit(), open_fd_count()}; }

std::uint64_t FdBudget::reserve_for(std::uint64_t limit) {
  return std::clamp<std::uint64_t>(limit / 8, 64, 1024);
}

bool FdBudget::take() {
  if (taken_ >= for_flows_) return false;
  ++taken_;
  return true;
}

void FdBudget::give_back() {
  if (taken_ > 0) --taken_;
}

}  // namespace usernet
