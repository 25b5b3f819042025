#!/usr/bin/env python3
"""End-to-end: the test guest built by tools/make-guest.sh boots under QEMU TCG.

Builds the guest (cached after the first run), adds an extra file and an extra test
script to prove --add/--test, then boots it with QEMU's own user networking (slirp) inside
a network namespace this test creates (`unshare --net`), so nothing can leave the machine.
Asserts the USERNET-STEP protocol: boot, every module loaded, virtio_net bound, a DHCP
lease from slirp, the ping and extra tests passing, USERNET-RESULT PASS, and QEMU exiting
by itself (guest poweroff) within the time limit. A second boot with usernet.end=wait
proves the guest powers off on QMP system_powerdown (what usernet-vm sends on SIGTERM).
"""
import os
import json
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SOURCE = os.environ.get("USERNET_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("USERNET_BUILD_DIR", os.path.join(SOURCE, "build", "asan"))
BOOT_TIMEOUT = 90  # seconds; a boot takes 5-15 s under TCG on a loaded 2-core machine

EXTRA_TEST = """\
# Extra test from the e2e harness: the file added with --add is in place.
. /usernet/lib.sh
grep -qx "$USERNET_ARG_marker" /usr/share/usernet-e2e/marker || exit 1
step extra.marker PASS "marker=$USERNET_ARG_marker"
"""


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def build_guest(work):
    """Runs make-guest.sh with one extra file and one extra test; returns OUTDIR."""
    marker = os.path.join(work, "marker")
    with open(marker, "w") as f:
        f.write("usernet-e2e-%d\n" % os.getpid())
    extra = os.path.join(work, "extra-check.sh")
    with open(extra, "w") as f:
        f.write(EXTRA_TEST)
    outdir = os.path.join(BUILD, "e2e-guest")
    started = time.monotonic()
    subprocess.run([os.path.join(SOURCE, "tools", "make-guest.sh"),
                    "--add", marker + ":/usr/share/usernet-e2e/marker",
                    "--test", extra, outdir], check=True, stdout=subprocess.DEVNULL)
    print("guest built in %.1f s" % (time.monotonic() - started))
    return outdir, "usernet-e2e-%d" % os.getpid()


def boot(outdir, marker):
    """Boots the guest in a fresh network namespace; returns (console text, exit code, seconds)."""
    cmdline = ("console=ttyS0 panic=-1 loglevel=4 usernet.test=ping-gateway,devices,extra-check "
               "usernet.arg.devices=net usernet.arg.marker=" + marker)
    qemu = ["qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-accel", "tcg", "-smp", "1", "-m", "128M", "-machine", "pc",
            "-kernel", os.path.join(outdir, "vmlinux"),
            "-initrd", os.path.join(outdir, "initramfs.cpio.gz"),
            "-append", cmdline,
            "-netdev", "user,id=net0",
            "-device", "virtio-net-pci,netdev=net0,romfile=,mac=5a:94:ef:e4:0c:ee",
            "-chardev", "stdio,signal=off,id=serial0", "-serial", "chardev:serial0"]
    # A private network namespace with only a loopback: slirp's traffic stays in QEMU.
    unshare = ["unshare", "--net"] + ([] if os.geteuid() == 0 else ["--map-root-user"])
    started = time.monotonic()
    try:
        result = subprocess.run(unshare + ["--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"] + qemu,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                timeout=BOOT_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        fail("guest did not power off within %d s; console:\n%s" %
             (BOOT_TIMEOUT, (e.stdout or b"").decode(errors="replace")))
    return result.stdout.decode(errors="replace"), result.returncode, time.monotonic() - started


def qmp_powerdown(path):
    """Connects to QEMU's QMP socket, negotiates, sends system_powerdown; returns the replies."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as qmp:
        qmp.settimeout(10)
        qmp.connect(path)
        reader = qmp.makefile("r")
        greeting = json.loads(reader.readline())
        if "QMP" not in greeting:
            fail("no QMP greeting: %r" % greeting)
        qmp.sendall(b'{"execute": "qmp_capabilities", "id": 1}\r\n')
        qmp.sendall(b'{"execute": "system_powerdown", "id": 2}\r\n')
        replies = []
        while not any(r.get("id") == 2 for r in replies):
            replies.append(json.loads(reader.readline()))
        return replies


def boot_and_power_down(outdir, work):
    """Boots with usernet.end=wait and no NIC, presses the ACPI power button over QMP once
    the guest waits, and expects a clean poweroff."""
    qmp_path = os.path.join(work, "qmp.sock")
    qemu = ["qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-accel", "tcg", "-m", "128M", "-kernel", os.path.join(outdir, "vmlinux"),
            "-initrd", os.path.join(outdir, "initramfs.cpio.gz"),
            "-append", "console=ttyS0 panic=-1 loglevel=4 usernet.dhcp=off usernet.end=wait",
            "-chardev", "stdio,signal=off,id=serial0", "-serial", "chardev:serial0",
            "-chardev", "socket,id=qmp,path=%s,server=on,wait=off" % qmp_path,
            "-mon", "chardev=qmp,mode=control"]
    unshare = ["unshare", "--net"] + ([] if os.geteuid() == 0 else ["--map-root-user"])
    process = subprocess.Popen(unshare + ["--"] + qemu, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    console = b""
    deadline = time.monotonic() + BOOT_TIMEOUT
    try:
        while b"USERNET-WAITING" not in console:
            if time.monotonic() > deadline or process.poll() is not None:
                fail("guest never reached USERNET-WAITING; console:\n" + console.decode(errors="replace"))
            if select.select([process.stdout], [], [], 1)[0]:
                console += os.read(process.stdout.fileno(), 65536)
        replies = qmp_powerdown(qmp_path)
        if not any(r.get("event") == "POWERDOWN" for r in replies) and not any(r.get("id") == 2 and "return" in r for r in replies):
            fail("system_powerdown was not accepted: %r" % replies)
        rest, _ = process.communicate(timeout=20)
        console += rest
    except subprocess.TimeoutExpired:
        fail("guest ignored system_powerdown; console:\n" + console.decode(errors="replace"))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = console.decode(errors="replace")
    if "USERNET-POWERDOWN" not in text:
        fail("no USERNET-POWERDOWN on the console:\n" + text)
    if process.returncode != 0:
        fail("QEMU exited with %d after system_powerdown" % process.returncode)
    print("PASS: system_powerdown powered the guest off")


def main():
    if shutil.which("qemu-system-x86_64") is None:
        fail("qemu-system-x86_64 is missing (tools/setup-deps.sh)")
    with tempfile.TemporaryDirectory(prefix="usernet-e2e-") as work:
        outdir, marker = build_guest(work)
        console, code, seconds = boot(outdir, marker)
        print(console)
        boot_and_power_down(outdir, work)
    print("QEMU exited with %d after %.1f s" % (code, seconds))

    steps = {}
    for name, result, detail in re.findall(r"^USERNET-STEP (\S+) (PASS|FAIL) ?(.*?)\r?$", console, re.M):
        steps[name] = (result, detail)

    def expect(name, pattern=""):
        if name not in steps:
            fail("no USERNET-STEP %s line" % name)
        result, detail = steps[name]
        if result != "PASS":
            fail("step %s failed: %s" % (name, detail))
        if pattern and not re.search(pattern, detail):
            fail("step %s detail %r does not match %r" % (name, detail, pattern))

    with open(os.path.join(outdir, "modules.list")) as f:
        module_count = len([line for line in f if line.strip()])
    expect("boot", r"^kernel=\S+ uptime=")
    expect("modules", r"^loaded=%d$" % module_count)
    expect("virtio", r"devices=.*\b1:virtio_net\b")
    expect("dhcp", r"^ip=10\.0\.2\.15/24 router=10\.0\.2\.2 dns=10\.0\.2\.3 mtu=1500 ")
    expect("ping-gateway")
    expect("devices")
    expect("extra.marker", "marker=" + re.escape(marker))
    expect("extra-check")
    if not re.search(r"^USERNET-RESULT PASS\r?$", console, re.M):
        fail("no USERNET-RESULT PASS line")
    if code != 0:
        fail("QEMU exited with %d, expected 0 (guest poweroff)" % code)
    print("PASS: guest booted, got a lease and ran its tests in %.1f s" % seconds)


if __name__ == "__main__":
    main()
