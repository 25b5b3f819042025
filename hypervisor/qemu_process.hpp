// The QEMU child process: spawned with uv_spawn, with the NIC sockets the launcher
// prepared mapped to fixed descriptor numbers (3, 4, ...), stdin/stdout inherited (serial
// console on stdio) and stderr captured: every line is passed on to our stderr and the
// last few are kept, so an unexpected death can be reported with QEMU's own words.
// The launcher's helper daemons (virtiofsd) run in the same kind of supervised child,
// with stdin/stdout on /dev/null and their stderr lines handed to a logger.
#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "netstack/base/result.hpp"

namespace usernet {

/// How the child ended: exit status, or the signal that killed it.
struct ProcessExit {
  std::int64_t status = 0;
  int signal = 0;
};

/// Child descriptor number of the i-th extra fd passed to spawn().
constexpr int child_fd_for(std::size_t index) { return 3 + static_cast<int>(index); }

class QemuProcess {
 public:
  using ExitHandler = std::function<void(const ProcessExit&)>;

  explicit QemuProcess(uv_loop_t* loop);
  ~QemuProcess();
  QemuProcess(const QemuProcess&) = delete;
  QemuProcess& operator=(const QemuProcess&) = delete;

  /// Starts argv[0] (looked up in PATH) with extra_fds[i] as child fd child_fd_for(i).
  /// An error says why it could not start. on_exit runs once stderr is drained and the child reaped.
  Status spawn(const std::vector<std::string>& argv, const std::vector<int>& extra_fds, ExitHandler on_exit);

  bool running() const { return process_ != nullptr && !exited_; }
  int pid() const { return pid_; }
  /// Whether QEMU's stderr is copied to ours as it arrives (default on; tests turn it off).
  void set_echo_stderr(bool echo) { echo_stderr_ = echo; }
  /// Instead of copying raw stderr, hand every complete line to handler (a prefixing
  /// logger for a helper daemon). Call before spawn().
  void set_stderr_line_handler(std::function<void(const std::string&)> handler) {
    line_handler_ = std::move(handler);
  }
  /// Whether the child shares our stdin/stdout (default on: QEMU's serial console);
  /// off gives it /dev/null. Call before spawn().
  void set_stdio_inherited(bool inherited) { stdio_inherited_ = inherited; }
  /// Sends a signal to the child (SIGKILL when QMP is gone).
  void kill(int signal);
  /// The last lines QEMU wrote to stderr (at most kKeptLines).
  const std::deque<std::string>& last_stderr_lines() const { return lines_; }

  static constexpr std::size_t kKeptLines = 20;

 private:
  static void on_process_exit(uv_process_t* process, std::int64_t status, int signal);
  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  void keep_line(std::string line);
  void maybe_finish();

  uv_loop_t* loop_;
  uv_process_t* process_ = nullptr;
  uv_pipe_t* stderr_pipe_ = nullptr;
  ExitHandler on_exit_;
  ProcessExit exit_;
  bool exited_ = false;
  bool stderr_done_ = false;
  bool reported_ = false;
  bool echo_stderr_ = true;
  bool stdio_inherited_ = true;
  std::function<void(const std::string&)> line_handler_;
  int pid_ = 0;
  std::string partial_;
  std::deque<std::string> lines_;
  char buffer_[4096];
};

/// argv[1] of usernet-vm when it re-executes itself as the QEMU exec shim.
inline constexpr const char* kParentDeathShimFlag = "--exec-with-parent-death-signal";
/// Optional first shim argument: enter a user namespace as root before the exec.
inline constexpr const char* kUserNamespaceShimFlag = "--in-user-namespace";

/// The exec shim: asks the kernel to SIGKILL this process when its parent (the launcher)
/// dies, then execs argv[0] with argv. QEMU runs in its own session so that a terminal's
/// Ctrl-C reaches only the launcher; without this, a launcher killed by SIGKILL would
/// leave QEMU running. When argv[0] is kUserNamespaceShimFlag, the shim first moves into
/// a user namespace of its own as root (see user_namespace.hpp) and execs argv[1...].
/// Returns only on failure (exit status for the caller).
int exec_with_parent_death_signal(char** argv);

/// Prefixes a child's argv so that it starts through the shim of the running program,
/// inside a user namespace of its own when in_user_namespace is set.
std::vector<std::string> through_parent_death_shim(const std::vector<std::string>& argv,
                                                   bool in_user_namespace = false);

}  // namespace usernet
