#include <doctest/doctest.h>

#include "hypervisor/vm_state.hpp"

using namespace usernet;

TEST_CASE("state names and capabilities follow vfkit") {
  CHECK(vm_state_name(VmState::running) == "VirtualMachineStateRunning");
  CHECK(vm_state_name(VmState::stopped) == "VirtualMachineStateStopped");
  CHECK(vm_state_name(VmState::paused) == "VirtualMachineStatePaused");
  const auto running = vm_capabilities(VmState::running);
  CHECK(running.can_pause);
  CHECK(running.can_stop);
  CHECK(running.can_hard_stop);
  CHECK_FALSE(running.can_resume);
  CHECK_FALSE(running.can_start);
  const auto paused = vm_capabilities(VmState::paused);
  CHECK(paused.can_resume);
  CHECK_FALSE(paused.can_pause);
  CHECK_FALSE(paused.can_stop);
  const auto stopped = vm_capabilities(VmState::stopped);
  CHECK_FALSE(stopped.can_hard_stop);
  CHECK_FALSE(stopped.can_resume);
}

TEST_CASE("REST state names map to QMP commands") {
  CHECK(parse_state_change("Pause") == StateChange::pause);
  CHECK(parse_state_change("Resume") == StateChange::resume);
  CHECK(parse_state_change("Stop") == StateChange::stop);
  CHECK(parse_state_change("HardStop") == StateChange::hard_stop);
  CHECK_FALSE(parse_state_change("stop"));
  CHECK_FALSE(parse_state_change(""));
  CHECK(qmp_command_for(StateChange::pause) == "stop");
  CHECK(qmp_command_for(StateChange::resume) == "cont");
  CHECK(qmp_command_for(StateChange::stop) == "system_powerdown");
  CHECK(qmp_command_for(StateChange::hard_stop) == "quit");
}

TEST_CASE("pause and resume round trip through QMP events") {
  VmStateMachine vm;
  CHECK(vm.state() == VmState::starting);
  CHECK_FALSE(vm.request(StateChange::pause));
  vm.on_qmp_ready(true);
  CHECK(vm.state() == VmState::running);

  CHECK(vm.request(StateChange::pause) == "stop");
  CHECK(vm.state() == VmState::pausing);
  vm.on_event("STOP");
  CHECK(vm.state() == VmState::paused);
  CHECK_FALSE(vm.request(StateChange::pause));
  CHECK_FALSE(vm.request(StateChange::stop));

  CHECK(vm.request(StateChange::resume) == "cont");
  CHECK(vm.state() == VmState::resuming);
  vm.on_event("RESUME");
  CHECK(vm.state() == VmState::running);
}

TEST_CASE("a failed command restores the previous state") {
  VmStateMachine vm;
  vm.on_qmp_ready(true);
  REQUIRE(vm.request(StateChange::pause));
  vm.on_request_failed(StateChange::pause);
  CHECK(vm.state() == VmState::running);
}

TEST_CASE("QEMU started paused (-S) is reported paused") {
  VmStateMachine vm;
  vm.on_qmp_ready(false);
  CHECK(vm.state() == VmState::paused);
}

TEST_CASE("Stop asks the guest; its poweroff ends the VM cleanly") {
  VmStateMachine vm;
  vm.on_qmp_ready(true);
  CHECK(vm.request(StateChange::stop) == "system_powerdown");
  CHECK(vm.state() == VmState::running);  // the guest may ignore the button
  vm.on_event("POWERDOWN");
  CHECK(vm.state() == VmState::running);
  vm.on_event("SHUTDOWN", "guest-shutdown");
  CHECK(vm.state() == VmState::stopping);
  vm.on_event("STOP");
  CHECK(vm.state() == VmState::stopping);
  vm.on_qemu_exited();
  CHECK(vm.state() == VmState::stopped);
  CHECK(vm.end() == VmEnd::guest_poweroff);
  CHECK(exit_status_for(vm.end()) == 0);
  CHECK_FALSE(vm.request(StateChange::hard_stop));
  vm.on_event("RESUME");
  CHECK(vm.state() == VmState::stopped);
}

TEST_CASE("HardStop quits QEMU") {
  VmStateMachine vm;
  vm.on_qmp_ready(true);
  CHECK(vm.request(StateChange::hard_stop) == "quit");
  CHECK(vm.state() == VmState::stopping);
  vm.on_event("SHUTDOWN", "host-qmp-quit");
  vm.on_qemu_exited();
  CHECK(vm.state() == VmState::stopped);
  CHECK(vm.end() == VmEnd::host_quit);
  CHECK(exit_status_for(vm.end()) == 0);
}

TEST_CASE("QEMU dying without SHUTDOWN is a crash; reset and panic are told apart") {
  VmStateMachine crashed;
  crashed.on_qmp_ready(true);
  crashed.on_qemu_exited();
  CHECK(crashed.state() == VmState::error);
  CHECK(crashed.end() == VmEnd::crashed);
  CHECK(exit_status_for(crashed.end()) == 1);

  VmStateMachine reset;
  reset.on_qmp_ready(true);
  reset.on_event("SHUTDOWN", "guest-reset");
  reset.on_qemu_exited();
  CHECK(reset.end() == VmEnd::guest_reset);
  CHECK(exit_status_for(reset.end()) == 4);

  VmStateMachine panic;
  panic.on_qmp_ready(true);
  panic.on_event("GUEST_PANICKED");
  panic.on_event("SHUTDOWN", "guest-shutdown");
  panic.on_qemu_exited();
  CHECK(panic.end() == VmEnd::guest_panic);
  CHECK(exit_status_for(panic.end()) == 3);
}
