// The virtio-fs backends of one VM. For every VirtioFs device the launcher gets a
// listening unix socket in its private runtime directory and a supervised virtiofsd that
// inherits it (--fd): the socket listens before QEMU starts, so QEMU's connect cannot race
// virtiofsd's startup. Each virtiofsd starts through the parent-death exec shim (it dies
// with the launcher), in its own session, with its stderr lines logged as
// "virtiofsd[TAG]: ...". Without root it runs as root of a user namespace of its own:
// measured with QEMU 7.2's virtiofsd as an ordinary user, sandbox=namespace fails once
// QEMU connects ("unshare(CLONE_NEWPID | CLONE_NEWNS): Operation not permitted", exit 1,
// QEMU then exits with "vhost_backend_init failed") and sandbox=chroot fails the same way
// on chroot(2); inside a user namespace both work. virtiofsd serves one connection and
// exits when QEMU hangs up; a virtiofsd that ends while the VM still runs is reported as
// an error.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hypervisor/virtiofsd_command.hpp"
#include "hypervisor/vm_config.hpp"
#include "netstack/base/uv_handles.hpp"

namespace usernet {

/// Runs `binary --help` (stdout and stderr, at most 64 KiB, 5 s) and returns its flavour.
/// Throws ConfigError (key "virtiofsd") when it cannot run or its help is not virtiofsd's.
VirtiofsdFlavour probe_virtiofsd_flavour(const std::string& binary);

/// The unix socket path of share index (0, 1, ...) inside the runtime directory.
std::string virtiofs_socket_path(const std::string& runtime_dir, std::size_t index);

class VirtiofsdSupervisor {
 public:
  /// What start() needs besides the devices.
  struct Settings {
    std::string binary_option;   // --virtiofsd (empty: search, see find_virtiofsd)
    std::string runtime_dir;     // the launcher's private directory for the sockets
    bool verbose = false;        // virtiofsd logs at info level
    bool in_user_namespace = false;  // true when the launcher is not root
  };

  explicit VirtiofsdSupervisor(uv_loop_t* loop);
  /// SIGKILLs any virtiofsd still running and removes the sockets.
  ~VirtiofsdSupervisor();
  VirtiofsdSupervisor(const VirtiofsdSupervisor&) = delete;
  VirtiofsdSupervisor& operator=(const VirtiofsdSupervisor&) = delete;

  /// Starts one virtiofsd per VirtioFs device of config; returns the socket paths in
  /// device order (QemuRuntime::virtiofs_sockets). Throws ConfigError when no usable
  /// virtiofsd exists (then nothing was started), std::runtime_error when a socket or a
  /// process cannot be created.
  std::vector<std::string> start(const VmConfig& config, const Settings& settings);

  /// QEMU has ended: every virtiofsd gets kExitGraceMs to exit by itself (it does once
  /// QEMU hangs up), then SIGKILL; done() runs once all are reaped (at once if none runs).
  void stop(std::function<void()> done);

  /// Number of virtiofsd processes not reaped yet.
  std::size_t running() const;

  static constexpr std::uint64_t kExitGraceMs = 2000;
  /// A virtiofsd that exits while QEMU runs is reported as a failure only if QEMU has not
  /// ended within this time (QEMU hangs up on it just before exiting).
  static constexpr std::uint64_t kVerdictDelayMs = 1000;

 private:
  struct Share;
  void on_share_exit(Share& share);
  void report_exits();
  void maybe_done();

  uv_loop_t* loop_;
  std::vector<std::unique_ptr<Share>> shares_;
  Timer grace_timer_;
  Timer verdict_timer_;
  std::function<void()> done_;
  bool stopping_ = false;
};

}  // namespace usernet
