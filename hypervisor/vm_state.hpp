// The VM's lifecycle as seen by the launcher, driven by QMP events and REST requests;
// pure code (no sockets). Names and capabilities follow vfkit's REST API
// (GET /vm/state -> {state, canStart, canPause, canResume, canStop, canHardStop};
// POST /vm/state {"state": "Pause"|"Resume"|"Stop"|"HardStop"}).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace usernet {

enum class VmState { starting, running, pausing, paused, resuming, stopping, stopped, error };

/// vfkit's (Virtualization.framework's) names: "VirtualMachineStateRunning", ...
std::string_view vm_state_name(VmState state);

struct VmCapabilities {
  bool can_start = false;  // always false: a QEMU VM is started once, by the launcher
  bool can_pause = false;
  bool can_resume = false;
  bool can_stop = false;
  bool can_hard_stop = false;
};

/// What a client may ask for in each state.
VmCapabilities vm_capabilities(VmState state);

/// REST state-change requests.
enum class StateChange { pause, resume, stop, hard_stop };

/// "Pause", "Resume", "Stop", "HardStop" (exact, as vfkit); nullopt otherwise.
std::optional<StateChange> parse_state_change(std::string_view text);

/// The QMP command carrying out a change: stop, cont, system_powerdown, quit.
std::string_view qmp_command_for(StateChange change);

/// How the VM ended, for the launcher's exit status.
enum class VmEnd {
  running,        // not ended yet
  guest_poweroff, // the guest shut down (also after system_powerdown)
  guest_reset,    // the guest rebooted; -no-reboot turns that into an exit
  guest_panic,    // GUEST_PANICKED, or SHUTDOWN reason guest-panic
  host_quit,      // QMP quit (HardStop or the 5 s shutdown timeout), or a signal to QEMU
  crashed,        // QEMU exited without a SHUTDOWN event
};

/// Launcher exit status for an end: 0 for a guest poweroff or a requested quit, 1 for a
/// crash, 2 is reserved for usage errors, 3 for a guest panic, 4 for a guest reset.
int exit_status_for(VmEnd end);

class VmStateMachine {
 public:
  VmState state() const { return state_; }
  VmEnd end() const { return end_; }

  /// QMP is up; running: query-status said the CPUs run (else they are paused).
  void on_qmp_ready(bool running);
  /// A QMP event (STOP, RESUME, POWERDOWN, SHUTDOWN, GUEST_PANICKED...); reason: the
  /// SHUTDOWN event's data.reason ("guest-shutdown", "host-qmp-quit", ...), else empty.
  void on_event(std::string_view event, std::string_view reason = {});
  /// The QEMU process is gone.
  void on_qemu_exited();

  /// Checks a REST request against the current state. On success returns the QMP command
  /// to send and moves to the transitional state (pausing, resuming, stopping); otherwise
  /// returns nullopt and leaves the state alone.
  std::optional<std::string_view> request(StateChange change);
  /// The QMP command for change failed: go back to the state before the request.
  void on_request_failed(StateChange change);

 private:
  VmState state_ = VmState::starting;
  VmState before_request_ = VmState::starting;
  VmEnd end_ = VmEnd::running;
};

}  // namespace usernet
