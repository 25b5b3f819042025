"""End-to-end: QEMU never outlives a usernet-vm that was killed without warning.

QEMU runs in its own session (a terminal's Ctrl-C reaches only the launcher), so the
launcher starts it through an exec shim that sets PR_SET_PDEATHSIG. Here the launcher is
SIGKILLed while the guest runs; its QEMU child must be gone within a few seconds.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vm_harness import Vm, build_guest, enter_private_netns, fail, guest_cmdline  # noqa: E402


def qemu_children(pid):
    """Pids of QEMU processes whose parent is pid."""
    out = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if "qemu" in line]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie waiting for init counts as gone
        return f.read().split(")")[-1].split()[0] != "Z"


def main():
    enter_private_netns()
    guest = build_guest()
    vm = Vm(guest, guest_cmdline([], {}, end="wait"), ["virtio-net,mac=5a:94:ef:e4:0c:ee"])
    vm.wait_for(r"^USERNET-STEP boot PASS")
    children = qemu_children(vm.process.pid)
    if len(children) != 1:
        vm.kill()
        fail(f"expected one QEMU child of usernet-vm, found {children}")
    qemu = children[0]
    vm.process.kill()  # SIGKILL: the launcher gets no chance to stop QEMU
    vm.process.wait()
    deadline = time.monotonic() + 5
    while alive(qemu) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(qemu):
        os.kill(qemu, 9)
        fail("QEMU kept running after usernet-vm was killed")
    print("ok   QEMU ended with its killed launcher")
    return 0


if __name__ == "__main__":
    sys.exit(main())
