#include "hypervisor/vm_state.hpp"

namespace usernet {

std::string_view vm_state_name(VmState state) {
  switch (state) {
    case VmState::starting: return "VirtualMachineStateStarting";
    case VmState::running: return "VirtualMachineStateRunning";
    case VmState::pausing: return "VirtualMachineStatePausing";
    case VmState::paused: return "VirtualMachineStatePaused";
    case VmState::resuming: return "VirtualMachineStateResuming";
    case VmState::stopping: return "VirtualMachineStateStopping";
    case VmState::stopped: return "VirtualMachineStateStopped";
    case VmState::error: return "VirtualMachineStateError";
  }
  return "VirtualMachineStateError";
}

VmCapabilities vm_capabilities(VmState state) {
  VmCapabilities caps;
  switch (state) {
    case VmState::running:
      caps.can_pause = caps.can_stop = caps.can_hard_stop = true;
      break;
    case VmState::paused:
      caps.can_resume = caps.can_hard_stop = true;
      break;
    case VmState::starting:
    case VmState::pausing:
    case VmState::resuming:
    case VmState::stopping:
      caps.can_hard_stop = true;
      break;
    case VmState::stopped:
    case VmState::error:
      break;
  }
  return caps;
}

std::optional<StateChange> parse_state_change(std::string_view text) {
  if (text == "Pause") return StateChange::pause;
  if (text == "Resume") return StateChange::resume;
  if (text == "Stop") return StateChange::stop;
  if (text == "HardStop") return StateChange::hard_stop;
  return std::nullopt;
}

std::string_view qmp_command_for(StateChange change) {
  switch (change) {
    case StateChange::pause: return "stop";
    case StateChange::resume: return "cont";
    case StateChange::stop: return "system_powerdown";
    case StateChange::hard_stop: return "quit";
  }
  return "quit";
}

int exit_status_for(VmEnd end) {
  switch (end) {
    case VmEnd::running:
    case VmEnd::guest_poweroff:
    case VmEnd::host_quit: return 0;
    case VmEnd::crashed: return 1;
    case VmEnd::guest_panic: return 3;
    case VmEnd::guest_reset: return 4;
  }
  return 1;
}

void VmStateMachine::on_qmp_ready(bool running) {
  if (state_ != VmState::starting) return;
  state_ = running ? VmState::running : VmState::paused;
}

void VmStateMachine::on_event(std::string_view event, std::string_view reason) {
  if (state_ == VmState::stopped || state_ == VmState::error) return;
  if (event == "STOP") {
    // QEMU also stops the CPUs on its way out; that is not a pause.
    if (state_ != VmState::stopping) state_ = VmState::paused;
  } else if (event == "RESUME") {
    if (state_ != VmState::stopping) state_ = VmState::running;
  } else if (event == "GUEST_PANICKED") {
    end_ = VmEnd::guest_panic;
    state_ = VmState::stopping;
  } else if (event == "SHUTDOWN") {
    // POWERDOWN is only a request the guest may ignore; SHUTDOWN means QEMU is leaving.
    state_ = VmState::stopping;
    if (end_ == VmEnd::guest_panic) return;
    if (reason == "guest-shutdown") {
      end_ = VmEnd::guest_poweroff;
    } else if (reason == "guest-reset") {
      end_ = VmEnd::guest_reset;
    } else if (reason == "guest-panic") {
      end_ = VmEnd::guest_panic;
    } else {
      end_ = VmEnd::host_quit;  // host-qmp-quit, host-signal, host-ui...
    }
  }
}

void VmStateMachine::on_qemu_exited() {
  if (end_ == VmEnd::running) end_ = VmEnd::crashed;
  state_ = end_ == VmEnd::crashed ? VmState::error : VmState::stopped;
}

std::optional<std::string_view> VmStateMachine::request(StateChange change) {
  const VmCapabilities caps = vm_capabilities(state_);
  const bool allowed = (change == StateChange::pause && caps.can_pause) ||
                       (change == StateChange::resume && caps.can_resume) ||
                       (change == StateChange::stop && caps.can_stop) ||
                       (change == StateChange::hard_stop && caps.can_hard_stop);
  if (!allowed) return std::nullopt;
  before_request_ = state_;
  switch (change) {
    case StateChange::pause: state_ = VmState::pausing; break;
    case StateChange::resume: state_ = VmState::resuming; break;
    case StateChange::stop: break;  // a powerdown request: the guest decides; state follows events
    case StateChange::hard_stop: state_ = VmState::stopping; break;
  }
  return qmp_command_for(change);
}

void VmStateMachine::on_request_failed(StateChange change) {
  if (change == StateChange::stop) return;
  if (state_ == VmState::pausing || state_ == VmState::resuming || state_ == VmState::stopping) {
    state_ = before_request_;
  }
}

}  // namespace usernet
