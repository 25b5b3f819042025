#include "hypervisor/qemu_process.hpp"

#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "hypervisor/user_namespace.hpp"
#include "netstack/base/uv_handles.hpp"

namespace usernet {

QemuProcess::QemuProcess(uv_loop_t* loop) : loop_(loop) {}

QemuProcess::~QemuProcess() {
  if (process_ != nullptr) {
    if (!exited_) uv_process_kill(process_, SIGKILL);
    process_->data = nullptr;
    close_and_free(process_);
  }
  if (stderr_pipe_ != nullptr) {
    stderr_pipe_->data = nullptr;
    close_and_free(stderr_pipe_);
  }
}

Status QemuProcess::spawn(const std::vector<std::string>& argv, const std::vector<int>& extra_fds,
                          ExitHandler on_exit) {
  if (process_ != nullptr) return Error{"QEMU was already started"};
  on_exit_ = std::move(on_exit);
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  stderr_pipe_ = new uv_pipe_t;
  uv_pipe_init(loop_, stderr_pipe_, 0);
  stderr_pipe_->data = this;
  std::vector<uv_stdio_container_t> stdio(3 + extra_fds.size());
  stdio[0].flags = stdio_inherited_ ? UV_INHERIT_FD : UV_IGNORE;
  stdio[0].data.fd = 0;
  stdio[1].flags = stdio_inherited_ ? UV_INHERIT_FD : UV_IGNORE;
  stdio[1].data.fd = 1;
  stdio[2].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[2].data.stream = reinterpret_cast<uv_stream_t*>(stderr_pipe_);
  for (std::size_t i = 0; i < extra_fds.size(); ++i) {
    stdio[3 + i].flags = UV_INHERIT_FD;
    stdio[3 + i].data.fd = extra_fds[i];
  }

  uv_process_options_t options{};
  options.file = args[0];
  options.args = args.data();
  options.exit_cb = &QemuProcess::on_process_exit;
  options.stdio_count = static_cast<int>(stdio.size());
  options.stdio = stdio.data();
  // Its own session: a terminal's Ctrl-C reaches only the launcher, which then powers the
  // guest down gracefully instead of QEMU dying at once.
  options.flags = UV_PROCESS_DETACHED;
  process_ = new uv_process_t;
  process_->data = this;
  const int rc = uv_spawn(loop_, process_, &options);
  if (rc != 0) {
    // libuv requires closing the handle even after a failed spawn.
    process_->data = nullptr;
    close_and_free(process_);
    process_ = nullptr;
    stderr_pipe_->data = nullptr;
    close_and_free(stderr_pipe_);
    stderr_pipe_ = nullptr;
    return Error{"cannot start " + argv[0] + ": " + uv_strerror(rc)};
  }
  pid_ = process_->pid;
  uv_read_start(reinterpret_cast<uv_stream_t*>(stderr_pipe_), &QemuProcess::on_alloc, &QemuProcess::on_read);
  return {};
}

void QemuProcess::kill(int signal) {
  if (running()) uv_process_kill(process_, signal);
}

void QemuProcess::on_process_exit(uv_process_t* process, std::int64_t status, int signal) {
  auto* self = static_cast<QemuProcess*>(process->data);
  if (self == nullptr) return;
  self->exited_ = true;
  self->exit_ = ProcessExit{status, signal};
  self->maybe_finish();
}

void QemuProcess::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  auto* self = static_cast<QemuProcess*>(handle->data);
  *buf = uv_buf_init(self->buffer_, sizeof self->buffer_);
}

void QemuProcess::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<QemuProcess*>(stream->data);
  if (self == nullptr) return;
  if (nread < 0) {
    // EOF (or an error): QEMU closed stderr, normally because it exited.
    if (!self->partial_.empty()) self->keep_line(std::move(self->partial_));
    self->partial_.clear();
    uv_read_stop(stream);
    self->stderr_done_ = true;
    self->maybe_finish();
    return;
  }
  // Pass QEMU's messages on unchanged, and keep complete lines for a later report.
  std::size_t written = 0;
  while (self->echo_stderr_ && !self->line_handler_ && written < static_cast<std::size_t>(nread)) {
    const ssize_t n = ::write(2, buf->base + written, static_cast<std::size_t>(nread) - written);
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  for (ssize_t i = 0; i < nread; ++i) {
    const char c = buf->base[i];
    if (c == '\n') {
      self->keep_line(std::move(self->partial_));
      self->partial_.clear();
    } else if (self->partial_.size() < 4096) {
      self->partial_.push_back(c);
    }
  }
}

void QemuProcess::keep_line(std::string line) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) return;
  if (line_handler_) line_handler_(line);
  lines_.push_back(std::move(line));
  while (lines_.size() > kKeptLines) lines_.pop_front();
}

void QemuProcess::maybe_finish() {
  // Report once both the child is reaped and its stderr is drained, so the last lines
  // are complete.
  if (!exited_ || !stderr_done_ || reported_) return;
  reported_ = true;
  if (on_exit_) on_exit_(exit_);
}

int exec_with_parent_death_signal(char** argv) {
  if (argv[0] != nullptr && std::string_view(argv[0]) == kUserNamespaceShimFlag) {
    // Before the death signal is set: credential changes may clear it.
    if (const Status entered = enter_user_namespace_as_root(); !entered) {
      std::fprintf(stderr, "%s\n", entered.error().c_str());
      return 126;
    }
    ++argv;
    if (argv[0] == nullptr) return 127;
  }
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return 127;
  if (::getppid() == 1) return 1;  // the launcher is already gone
  ::execvp(argv[0], argv);
  std::fprintf(stderr, "cannot start %s: %s\n", argv[0], std::strerror(errno));
  return 127;
}

std::vector<std::string> through_parent_death_shim(const std::vector<std::string>& argv, bool in_user_namespace) {
  std::vector<std::string> shimmed = {"/proc/self/exe", kParentDeathShimFlag};
  if (in_user_namespace) shimmed.emplace_back(kUserNamespaceShimFlag);
  shimmed.insert(shimmed.end(), argv.begin(), argv.end());
  return shimmed;
}

}  // namespace usernet
