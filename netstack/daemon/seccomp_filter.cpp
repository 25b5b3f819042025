#include "netstack/daemon/seccomp_filter.hpp"

#include <linux/sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace usernet {

namespace {

// Derived with `strace -f -c` over the integration suite (every transport, NAT, DNS
// forwarding, API exposes, SSH forwards, pcap) and kept to what runs after set-up.
// Names the architecture lacks (open, stat on arm64) are skipped.
constexpr const char* kAllowed[] = {
    // descriptors and files
    "read", "write", "readv", "writev", "pread64", "pwrite64", "lseek", "close", "fcntl", "dup", "dup2",
    "dup3", "open", "openat", "stat", "fstat", "lstat", "newfstatat", "statx", "readlink", "readlinkat",
    "getdents64", "access", "faccessat", "faccessat2", "unlink", "unlinkat", "umask", "getcwd", "fsync",
    "fdatasync",
    // sockets (socket() itself is limited to some families below)
    "socketpair", "bind", "listen", "accept", "accept4", "connect", "shutdown", "getsockname", "getpeername",
    "setsockopt", "getsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
    // the event loop
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll",
    "select", "pselect6", "eventfd", "eventfd2", "pipe", "pipe2", "timerfd_create", "timerfd_settime",
    "timerfd_gettime",
    // memory
    "mmap", "munmap", "mremap", "mprotect", "madvise", "brk",
    // threads (clone is limited to threads below) and signals
    "futex", "set_robust_list", "get_robust_list", "rseq", "set_tid_address", "sched_yield",
    "sched_getaffinity", "exit", "exit_group", "gettid", "getpid", "getppid", "rt_sigaction",
    "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "restart_syscall",
    // time, identity, limits, randomness
    "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time", "getuid",
    "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups", "uname", "sysinfo", "getrlimit",
    "getrusage", "getrandom", "prctl",
};

// ioctl requests still made at run time: libuv's non-blocking and close-on-exec
// switches, queue sizes, and isatty() of the log's terminal.
constexpr unsigned long kIoctls[] = {FIONBIO, FIOCLEX, FIONCLEX, FIONREAD, TIOCOUTQ, TCGETS, TIOCGWINSZ};

constexpr int kSocketFamilies[] = {AF_UNIX, AF_INET, AF_INET6, AF_VSOCK};

/// LeakSanitizer's exit-time check clones a tracer that ptraces our threads; sanitizer
/// builds (tests only) allow that much more.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitizerBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitizerBuild = true;
#else
constexpr bool kSanitizerBuild = false;
#endif
#else
constexpr bool kSanitizerBuild = false;
#endif

struct FilterRelease {
  void operator()(void* filter) const { seccomp_release(filter); }
};
using Filter = std::unique_ptr<void, FilterRelease>;

Error failed(const std::string& call, int rc) { return Error{call + ": " + std::strerror(-rc)}; }

}  // namespace

Status install_seccomp_filter() {
  const Filter filter(seccomp_init(SCMP_ACT_ERRNO(EPERM)));
  if (!filter) return Error{"seccomp_init failed"};
  void* ctx = filter.get();
  int rc = 0;
  if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) != 0) return failed("seccomp_attr_set(TSYNC)", rc);
  if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1)) != 0) return failed("seccomp_attr_set(LOG)", rc);
  auto add = [&](int syscall, unsigned count, const scmp_arg_cmp* conditions, std::uint32_t action) {
    return seccomp_rule_add_array(ctx, action, syscall, count, conditions);
  };
  for (const char* name : kAllowed) {
    const int syscall = seccomp_syscall_resolve_name(name);
    if (syscall == __NR_SCMP_ERROR) continue;
    if ((rc = add(syscall, 0, nullptr, SCMP_ACT_ALLOW)) != 0) return failed(std::string("allow ") + name, rc);
  }
  for (const unsigned long request : kIoctls) {
    const scmp_arg_cmp only = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, request);
    if ((rc = add(SCMP_SYS(ioctl), 1, &only, SCMP_ACT_ALLOW)) != 0) return failed("allow ioctl", rc);
  }
  for (const int family : kSocketFamilies) {
    const scmp_arg_cmp only = SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(family));
    if ((rc = add(SCMP_SYS(socket), 1, &only, SCMP_ACT_ALLOW)) != 0) return failed("allow socket", rc);
  }
  // Own threads only: no fork, no new processes of any kind.
  const scmp_arg_cmp thread = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
  if ((rc = add(SCMP_SYS(clone), kSanitizerBuild ? 0 : 1, &thread, SCMP_ACT_ALLOW)) != 0)
    return failed("allow clone", rc);
  if ((rc = add(SCMP_SYS(clone3), 0, nullptr, SCMP_ACT_ERRNO(ENOSYS))) != 0) return failed("clone3", rc);
  // Signals to our own process only (raise, abort).
  const scmp_arg_cmp self = SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(::getpid()));
  if ((rc = add(SCMP_SYS(tgkill), 1, &self, SCMP_ACT_ALLOW)) != 0) return failed("allow tgkill", rc);
  // Reading our limits, never raising them.
  const scmp_arg_cmp read_only = SCMP_A2(SCMP_CMP_EQ, 0);
  if ((rc = add(SCMP_SYS(prlimit64), 1, &read_only, SCMP_ACT_ALLOW)) != 0) return failed("allow prlimit64", rc);
  if (kSanitizerBuild)
    for (const char* name : {"ptrace", "wait4", "waitid", "kill"})
      if ((rc = add(seccomp_syscall_resolve_name(name), 0, nullptr, SCMP_ACT_ALLOW)) != 0)
        return failed(std::string("allow ") + name, rc);
  if ((rc = seccomp_load(ctx)) != 0) return failed("seccomp_load", rc);
  return {};
}

}  // namespace usernet
