#include "netstack/daemon/landlock.hpp"

#include <fcntl.h>
#include <linux/landlock.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace usernet {

namespace {

// Access rights by the ABI that introduced them (Debian 12's headers stop at ABI 2).
constexpr std::uint64_t kAbi1Rights = (1ULL << 13) - 1;  // EXECUTE .. MAKE_SYM
constexpr std::uint64_t kRefer = 1ULL << 13;              // ABI 2
constexpr std::uint64_t kTruncate = 1ULL << 14;           // ABI 3
constexpr std::uint64_t kIoctlDev = 1ULL << 15;           // ABI 5
constexpr std::uint64_t kFileRights = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                                      LANDLOCK_ACCESS_FS_READ_FILE | kTruncate | kIoctlDev;
constexpr std::uint64_t kScopeAbstractUnixSocket = 1ULL << 0;  // ABI 6

/// The kernel's landlock_ruleset_attr up to ABI 6; shorter sizes are passed to older kernels.
struct RulesetAttributes {
  std::uint64_t handled_access_fs;
  std::uint64_t handled_access_net;
  std::uint64_t scoped;
};

std::uint64_t handled_rights(int abi) {
  std::uint64_t rights = kAbi1Rights;
  if (abi >= 2) rights |= kRefer;
  if (abi >= 3) rights |= kTruncate;
  if (abi >= 5) rights |= kIoctlDev;
  return rights;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

Error failed(const std::string& call) { return Error{call + ": " + std::strerror(errno)}; }

/// Adds one path-beneath rule; a missing path is skipped (nothing there to reach).
Status allow(int ruleset, const std::string& path, std::uint64_t rights) {
  const Fd target(::open(path.c_str(), O_PATH | O_CLOEXEC));
  if (target.get() < 0) {
    if (errno == ENOENT) {
      spdlog::debug("landlock: {} does not exist; no rule for it", path);
      return {};
    }
    return failed("open " + path);
  }
  struct stat st {};
  if (::fstat(target.get(), &st) != 0) return failed("fstat " + path);
  landlock_path_beneath_attr rule{};
  // A rule on a file may only grant rights that apply to files (else EINVAL).
  rule.allowed_access = S_ISDIR(st.st_mode) ? rights : rights & kFileRights;
  rule.parent_fd = target.get();
  if (rule.allowed_access == 0) return {};
  if (::syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) != 0)
    return failed("landlock_add_rule " + path);
  return {};
}

}  // namespace

int landlock_abi() {
  const long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return abi > 0 ? static_cast<int>(abi) : 0;
}

Status apply_landlock(const LandlockRules& rules) {
  const int abi = landlock_abi();
  RulesetAttributes attributes{handled_rights(abi), 0, abi >= 6 ? kScopeAbstractUnixSocket : 0};
  const std::size_t size = abi >= 6 ? sizeof attributes : abi >= 4 ? 2 * sizeof(std::uint64_t) : sizeof(std::uint64_t);
  const Fd ruleset(static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attributes, size, 0)));
  if (ruleset.get() < 0) return failed("landlock_create_ruleset");
  const std::uint64_t read = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
  const std::uint64_t sockets = LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_REMOVE_FILE;
  for (const auto& path : rules.read_beneath)
    if (Status allowed = allow(ruleset.get(), path, read); !allowed) return allowed;
  for (const auto& path : rules.sockets_beneath)
    if (Status allowed = allow(ruleset.get(), path, sockets); !allowed) return allowed;
  if (::syscall(SYS_landlock_restrict_self, ruleset.get(), 0) != 0) return failed("landlock_restrict_self");
  return {};
}

}  // namespace usernet
