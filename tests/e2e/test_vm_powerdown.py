#!/usr/bin/env python3
"""End-to-end: SIGTERM to usernet-vm when the guest ignores the ACPI power button.

The guest boots with usernet.acpid=off (nothing listens to the power button) and
usernet.dhcp=off, prints USERNET-WAITING and keeps running.
1. One SIGTERM: usernet-vm presses the power button (QMP system_powerdown), waits
   Launcher::kPowerdownGraceMs (5 s), then quits QEMU. It must exit with status 0 (a
   requested stop, README) no sooner than the grace period and within grace + a bound,
   and the guest must not have powered itself off.
2. Two SIGTERMs half a second apart: the second one quits QEMU at once, well before the
   grace period ends; exit status 0.
"""
import signal
import time

from vm_harness import Vm, build_guest, enter_private_netns, fail, guest_cmdline

GRACE_S = 5.0        # Launcher::kPowerdownGraceMs
QUIT_BOUND_S = 4.0   # QMP quit (+ the launcher's 3 s SIGKILL fallback) and slack on a loaded machine


def waiting_guest(guest):
    """A guest that ignores the power button, booted up to USERNET-WAITING."""
    cmdline = guest_cmdline([], {}, end="wait") + " usernet.dhcp=off usernet.acpid=off"
    vm = Vm(guest, cmdline, [])
    vm.wait_for(r"^USERNET-WAITING")
    return vm


def sigterm_until_exit(vm, count):
    """Sends count SIGTERMs half a second apart; returns (exit status, seconds from the
    last signal to usernet-vm's exit)."""
    try:
        for n in range(count):
            if n:
                time.sleep(0.5)
            sent = time.monotonic()
            vm.signal(signal.SIGTERM)
        code = vm.finish(timeout=GRACE_S + QUIT_BOUND_S + 10)
        return code, vm.ended - sent
    finally:
        vm.kill()


def one_signal(guest):
    vm = waiting_guest(guest)
    code, took = sigterm_until_exit(vm, 1)
    log = vm.log.decode(errors="replace")
    if "USERNET-POWERDOWN" in vm.text():
        fail("the guest reacted to the power button although acpid is off\n" + vm.report())
    if "did not power off within" not in log:
        fail("no log line about the powerdown timeout\n" + vm.report())
    if code != 0:
        fail("exit status %d after the powerdown fallback (want 0)\n%s" % (code, vm.report()))
    if not GRACE_S - 0.2 <= took <= GRACE_S + QUIT_BOUND_S:
        fail("usernet-vm exited %.1f s after SIGTERM (want %.1f-%.1f s)\n%s"
             % (took, GRACE_S, GRACE_S + QUIT_BOUND_S, vm.report()))
    print("PASS: guest ignored the power button; usernet-vm quit QEMU and exited 0 %.1f s after SIGTERM"
          % took, flush=True)


def two_signals(guest):
    vm = waiting_guest(guest)
    code, took = sigterm_until_exit(vm, 2)
    if "second signal" not in vm.log.decode(errors="replace"):
        fail("the second SIGTERM was not taken as 'quit now'\n" + vm.report())
    if code != 0:
        fail("exit status %d after the second SIGTERM (want 0)\n%s" % (code, vm.report()))
    if took > GRACE_S - 1.5:
        fail("usernet-vm took %.1f s to exit after the second SIGTERM\n%s" % (took, vm.report()))
    print("PASS: a second SIGTERM quit QEMU at once: exit 0 %.1f s after it" % took, flush=True)


def main():
    enter_private_netns()
    guest = build_guest()
    one_signal(guest)
    two_signals(guest)


if __name__ == "__main__":
    main()
