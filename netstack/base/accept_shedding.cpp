#include "netstack/base/accept_shedding.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <mutex>

namespace usernet {
namespace {

constexpr std::chrono::seconds kWarningInterval{10};

std::mutex& reserve_mutex() {
  static std::mutex mutex;
  return mutex;
}

/// The reserve descriptor, opened the first time a listener needs it (-1 if it could not be).
int& reserve_fd() {
  static int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  return fd;
}

std::atomic<std::uint64_t> shed_count{0};
std::atomic<std::int64_t> next_warning_ns{INT64_MIN};

/// Closes one waiting client using the reserve descriptor; the errno accept_or_shed reports.
int shed_one_client(int listen_fd, int exhausted) {
  std::lock_guard lock(reserve_mutex());
  int& reserve = reserve_fd();
  if (reserve < 0) reserve = ::open("/dev/null", O_RDONLY | O_CLOEXEC);  // an earlier refill failed
  if (reserve < 0) return exhausted;
  ::close(reserve);
  const int client = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  const int accept_error = errno;
  if (client >= 0) ::close(client);
  reserve = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (client < 0) return accept_error == EMFILE || accept_error == ENFILE ? exhausted : EAGAIN;
  shed_count.fetch_add(1, std::memory_order_relaxed);
  return ECONNABORTED;
}

}  // namespace

int accept_or_shed(int listen_fd, int flags) {
  // Open the reserve before the first accept, while descriptors are still to be had.
  { std::lock_guard lock(reserve_mutex()); (void)reserve_fd(); }
  const int fd = ::accept4(listen_fd, nullptr, nullptr, flags);
  if (fd >= 0 || (errno != EMFILE && errno != ENFILE)) return fd;
  errno = shed_one_client(listen_fd, errno);
  return -1;
}

std::uint64_t shed_connections() { return shed_count.load(std::memory_order_relaxed); }

bool shedding_warning_due() {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
  std::int64_t next = next_warning_ns.load(std::memory_order_relaxed);
  if (now < next) return false;
  return next_warning_ns.compare_exchange_strong(next, now + std::chrono::nanoseconds(kWarningInterval).count());
}

std::string shedding_warning(const std::string& listener) {
  rlimit limit{};
  const std::string limit_text =
      ::getrlimit(RLIMIT_NOFILE, &limit) == 0 ? std::to_string(limit.rlim_cur) : std::string("unknown");
  return listener + ": out of file descriptors (RLIMIT_NOFILE " + limit_text +
         "): new clients are closed at once; " + std::to_string(shed_connections()) +
         " so far (raise the limit with ulimit -n)";
}

}  // namespace usernet
