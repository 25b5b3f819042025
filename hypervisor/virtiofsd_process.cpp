#include "hypervisor/virtiofsd_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "hypervisor/config_error.hpp"
#include "hypervisor/qemu_process.hpp"
#include "netstack/base/unix_address.hpp"

extern char** environ;

namespace usernet {

namespace {

constexpr std::size_t kMaxHelpBytes = std::size_t{64} * 1024;
constexpr int kHelpTimeoutMs = 5000;

/// True for a regular file we may execute.
bool is_executable_file(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

/// Runs argv with stdout and stderr into one pipe; returns what it printed (capped), or
/// throws ConfigError when it cannot start or does not finish in time.
std::string capture_output(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    throw ConfigError("virtiofsd", "cannot run " + argv[0] + ": " + std::strerror(rc));
  }
  std::string output;
  bool timed_out = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kHelpTimeoutMs);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd watch{pipe_fds[0], POLLIN, 0};
    const int ready = left.count() > 0 ? ::poll(&watch, 1, static_cast<int>(left.count())) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      timed_out = ready == 0;
      break;
    }
    char buffer[4096];
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (output.size() < kMaxHelpBytes) output.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) throw ConfigError("virtiofsd", argv[0] + " --help did not finish within 5 s");
  return output;
}

/// A listening unix stream socket at path (replacing a stale file), close-on-exec.
int listen_unix_socket(const std::string& path) {
  const auto address = unix_address(path);
  if (!address) throw std::runtime_error("socket path too long: " + path);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  ::unlink(path.c_str());
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&*address), sizeof *address) != 0 || ::listen(fd, 1) != 0) {
    const int error = errno;
    ::close(fd);
    throw std::runtime_error("listen on " + path + ": " + std::strerror(error));
  }
  return fd;
}

/// "exited with status 1" / "was killed by signal 9".
std::string describe_exit(const ProcessExit& exit) {
  return exit.signal != 0 ? "was killed by signal " + std::to_string(exit.signal)
                          : "exited with status " + std::to_string(exit.status);
}

}  // namespace

VirtiofsdFlavour probe_virtiofsd_flavour(const std::string& binary) {
  const std::string help = capture_output({binary, "--help"});
  if (const auto flavour = detect_virtiofsd_flavour(help)) return *flavour;
  throw ConfigError("virtiofsd", binary + " --help lists neither -o source=PATH (QEMU's virtiofsd) nor "
                                          "--shared-dir (the Rust virtiofsd): not a virtiofsd usernet-vm knows");
}

std::string virtiofs_socket_path(const std::string& runtime_dir, std::size_t index) {
  return runtime_dir + "/virtiofs" + std::to_string(index) + ".sock";
}

/// One shared directory: its socket and the virtiofsd serving it.
struct VirtiofsdSupervisor::Share {
  Share(uv_loop_t* loop, std::string mount_tag, std::string path)
      : tag(std::move(mount_tag)), socket_path(std::move(path)), process(loop) {}
  std::string tag;
  std::string socket_path;
  QemuProcess process;
  ProcessExit exit;
  bool reaped = true;     // until its virtiofsd is spawned
  bool reported = false;  // its exit was logged
};

VirtiofsdSupervisor::VirtiofsdSupervisor(uv_loop_t* loop)
    : loop_(loop),
      grace_timer_(loop,
                   [this] {
                     for (auto& share : shares_) {
                       if (share->reaped) continue;
                       spdlog::warn("virtiofsd[{}] still runs {} ms after QEMU ended: killing it", share->tag,
                                    kExitGraceMs);
                       share->process.kill(SIGKILL);
                     }
                   }),
      verdict_timer_(loop, [this] { report_exits(); }) {}

VirtiofsdSupervisor::~VirtiofsdSupervisor() {
  for (auto& share : shares_) ::unlink(share->socket_path.c_str());
  // Each QemuProcess SIGKILLs its child if it still runs.
}

std::vector<std::string> VirtiofsdSupervisor::start(const VmConfig& config, const Settings& settings) {
  std::vector<const VirtioFs*> filesystems;
  for (const Device& device : config.devices) {
    if (const auto* fs = std::get_if<VirtioFs>(&device)) filesystems.push_back(fs);
  }
  if (filesystems.empty()) return {};
  const char* path_env = std::getenv("PATH");
  const std::string binary = find_virtiofsd(settings.binary_option, path_env != nullptr ? path_env : "",
                                            is_executable_file);
  const VirtiofsdFlavour flavour = probe_virtiofsd_flavour(binary);
  spdlog::info("virtio-fs: {} ({}){}", binary, virtiofsd_flavour_name(flavour),
               settings.in_user_namespace ? ", as root of its own user namespace (usernet-vm is not root)" : "");

  std::vector<std::string> sockets;
  for (std::size_t i = 0; i < filesystems.size(); ++i) {
    const VirtioFs& fs = *filesystems[i];
    VirtiofsdRequest request{binary, flavour, child_fd_for(0), fs.shared_dir, settings.verbose};
    const std::vector<std::string> argv = build_virtiofsd_argv(request);
    shares_.push_back(std::make_unique<Share>(loop_, fs.mount_tag, virtiofs_socket_path(settings.runtime_dir, i)));
    Share& share = *shares_.back();
    const int fd = listen_unix_socket(share.socket_path);
    share.process.set_stdio_inherited(false);
    share.process.set_stderr_line_handler(
        [tag = share.tag](const std::string& line) { spdlog::warn("virtiofsd[{}]: {}", tag, line); });
    const Status spawned = share.process.spawn(through_parent_death_shim(argv, settings.in_user_namespace), {fd},
                                               [this, &share](const ProcessExit& exit) {
                                                 share.exit = exit;
                                                 on_share_exit(share);
                                               });
    ::close(fd);  // virtiofsd holds the listening socket now
    if (!spawned) throw std::runtime_error("virtiofsd for mountTag=" + share.tag + ": " + spawned.error());
    share.reaped = false;
    spdlog::debug("virtiofsd[{}] pid {} serves {} on {}", share.tag, share.process.pid(), fs.shared_dir,
                  share.socket_path);
    sockets.push_back(share.socket_path);
  }
  return sockets;
}

void VirtiofsdSupervisor::on_share_exit(Share& share) {
  share.reaped = true;
  ::unlink(share.socket_path.c_str());
  if (stopping_) {
    report_exits();
  } else {
    // QEMU hangs up on virtiofsd a moment before it exits itself: judge once it had
    // time to, so a normal shutdown is not reported as a failure.
    verdict_timer_.start(kVerdictDelayMs);
  }
  maybe_done();
}

void VirtiofsdSupervisor::report_exits() {
  for (auto& share : shares_) {
    if (!share->reaped || share->reported || share->process.pid() == 0) continue;
    share->reported = true;
    const std::string how = describe_exit(share->exit);
    if (!stopping_) {
      spdlog::error("virtiofsd[{}] (pid {}) {} while the VM runs: the guest lost its virtio-fs mount '{}'",
                    share->tag, share->process.pid(), how, share->tag);
    } else if (share->exit.signal == 0 && share->exit.status != 0) {
      spdlog::warn("virtiofsd[{}] {} (QEMU has ended as well)", share->tag, how);
    } else {
      spdlog::debug("virtiofsd[{}] {}", share->tag, how);
    }
  }
}

void VirtiofsdSupervisor::stop(std::function<void()> done) {
  stopping_ = true;
  verdict_timer_.stop();
  report_exits();
  done_ = std::move(done);
  if (running() > 0) grace_timer_.start(kExitGraceMs);
  maybe_done();
}

std::size_t VirtiofsdSupervisor::running() const {
  std::size_t count = 0;
  for (const auto& share : shares_) count += share->reaped ? 0 : 1;
  return count;
}

void VirtiofsdSupervisor::maybe_done() {
  if (!stopping_ || running() > 0 || !done_) return;
  grace_timer_.stop();
  auto done = std::move(done_);
  done_ = nullptr;
  done();
}

}  // namespace usernet
