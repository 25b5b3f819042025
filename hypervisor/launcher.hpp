// usernet-vm's supervisor: prepares the NIC sockets, the embedded network and one
// virtiofsd per virtio-fs share (hypervisor/virtiofsd_process.hpp), starts
// QEMU (paused, -S) with QMP, resumes it once QMP is up and every stream NIC reported
// NETDEV_STREAM_CONNECTED, tracks the VM's state from QMP events, serves the REST API,
// turns SIGINT/SIGTERM into an ACPI powerdown (then quit after 5 s) and reports how the
// VM ended as the exit status.
#pragma once

#include <uv.h>

#include <memory>

#include "hypervisor/vm_options.hpp"

namespace usernet {

class Launcher {
 public:
  Launcher(uv_loop_t* loop, VmOptions options);
  ~Launcher();
  Launcher(const Launcher&) = delete;
  Launcher& operator=(const Launcher&) = delete;

  /// Runs the VM to its end; returns the process exit status (exit_status_for, or 1
  /// when it could not start, 2 for configuration errors found before QEMU starts).
  int run();

  /// How long the guest gets to power off after SIGINT/SIGTERM before QEMU is told to quit.
  static constexpr std::uint64_t kPowerdownGraceMs = 5000;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace usernet
