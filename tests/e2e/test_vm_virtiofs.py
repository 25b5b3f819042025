#!/usr/bin/env python3
"""End-to-end: usernet-vm shares a host directory with the guest over virtio-fs.

usernet-vm starts one virtiofsd per `--device virtio-fs,sharedDir=D,mountTag=T`, on a
socket that listens before QEMU starts. Everything runs in a private network namespace.

1. As the test's user: the host puts a random value in D/in.txt (D has a ',' in its name,
   which virtiofsd's -o parser needs escaped); the guest mounts `-t virtiofs T /mnt`,
   compares the file with the value passed on the kernel command line, writes a new file
   and powers off. usernet-vm exits 0, the guest's file is on the host with the right
   content, no virtiofsd is left and the runtime directory (sockets) is gone.
2. The same as an unprivileged user (when the test runs as root): virtiofsd then runs as
   root of its own user namespace, and the guest's file belongs to that user on the host.
3. Two shares, guest waiting: one virtiofsd is killed while the VM runs, which is logged
   as an error; then usernet-vm is SIGKILLed, and the other virtiofsd dies with it.
4. Errors before QEMU starts, exit 2: a missing sharedDir (named), a --virtiofsd that does
   not exist or is not a virtiofsd.
"""
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vm_harness import USERNET_VM, Vm, build_guest, enter_private_netns, fail, guest_cmdline  # noqa: E402

TAG = "hostshare"
NOBODY = 65534

# Guest test script (`usernet.test=virtiofs`).
VIRTIOFS_TEST = """\
# Test (e2e): mount the virtio-fs tag USERNET_ARG_fs_tag on /mnt, compare the host's file
# USERNET_ARG_fs_read with USERNET_ARG_fs_expect, write USERNET_ARG_fs_reply into the new
# file USERNET_ARG_fs_write, unmount.
. /usernet/lib.sh
mkdir -p /mnt
if ! mount -t virtiofs "$USERNET_ARG_fs_tag" /mnt; then
  step virtiofs.mount FAIL "tag=$USERNET_ARG_fs_tag"
  exit 1
fi
step virtiofs.mount PASS "$(grep ' /mnt ' /proc/mounts)"
got=$(cat "/mnt/$USERNET_ARG_fs_read")
if [ "$got" != "$USERNET_ARG_fs_expect" ]; then
  step virtiofs.read FAIL "got=$got"
  umount /mnt
  exit 1
fi
step virtiofs.read PASS "content=$got"
if ! echo "$USERNET_ARG_fs_reply" >"/mnt/$USERNET_ARG_fs_write"; then
  step virtiofs.write FAIL "cannot write $USERNET_ARG_fs_write"
  umount /mnt
  exit 1
fi
sync
umount /mnt || { step virtiofs.write FAIL "umount"; exit 1; }
step virtiofs.write PASS "file=$USERNET_ARG_fs_write"
"""


def have_virtiofsd():
    paths = os.environ.get("PATH", "").split(":") + ["/usr/lib/qemu", "/usr/libexec"]
    return any(os.access(os.path.join(d, "virtiofsd"), os.X_OK) for d in paths if d)


def virtiofsd_pids(marker):
    """Live virtiofsd processes whose command line mentions marker (zombies have none)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if os.path.basename(argv[0]).startswith(b"virtiofsd") and marker.encode() in b" ".join(argv):
            pids.append(int(entry))
    return pids


def wait_gone(marker, timeout=5):
    deadline = time.monotonic() + timeout
    while virtiofsd_pids(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    return virtiofsd_pids(marker)


def make_share(work, name, owner=None):
    """A shared directory with in.txt holding a random value; returns (path, value)."""
    share = os.path.join(work, name)
    os.makedirs(share)
    value = secrets.token_hex(16)
    with open(os.path.join(share, "in.txt"), "w") as f:
        f.write(value + "\n")
    if owner is not None:
        for path in (share, os.path.join(share, "in.txt")):
            os.chown(path, owner, owner)
    return share, value


def runtime_env(work, name, owner=None):
    """An environment whose XDG_RUNTIME_DIR is a fresh directory (to see what is left)."""
    run = os.path.join(work, name)
    os.makedirs(run, mode=0o700)
    if owner is not None:
        os.chown(run, owner, owner)
    return dict(os.environ, XDG_RUNTIME_DIR=run), run


def share_run(guest, work, label, owner=None):
    """Scenarios 1 and 2: read, write, power off, nothing left behind."""
    share, value = make_share(work, "share,%s-%s" % (label, secrets.token_hex(4)), owner)
    reply = secrets.token_hex(16)
    env, run = runtime_env(work, "run-" + label, owner)
    wrapper = () if owner is None else (
        "setpriv", "--reuid=%d" % owner, "--regid=%d" % owner, "--clear-groups", "--")
    args = {"fs_tag": TAG, "fs_read": "in.txt", "fs_expect": value, "fs_write": "from-guest.txt", "fs_reply": reply}
    vm = Vm(guest, guest_cmdline(["virtiofs"], args) + " usernet.dhcp=off",
            ['virtio-fs,"sharedDir=%s",mountTag=%s' % (share, TAG)], wrapper=wrapper, env=env)
    try:
        vm.wait_for(r"^USERNET-RESULT")
        code = vm.finish()
    finally:
        vm.kill()
    vm.expect_steps({"virtiofs.mount": r"^%s /mnt virtiofs " % TAG, "virtiofs.read": "^content=%s$" % value,
                     "virtiofs.write": "^file=from-guest.txt$"})
    if "USERNET-RESULT PASS" not in vm.text():
        fail("guest tests failed\n" + vm.report())
    if code != 0:
        fail("usernet-vm exited %d after the guest powered off\n%s" % (code, vm.report()))
    written = os.path.join(share, "from-guest.txt")
    if not os.path.exists(written):
        fail("the guest's file is not on the host: %r\n%s" % (os.listdir(share), vm.report()))
    with open(written) as f:
        if f.read() != reply + "\n":
            fail("the guest's file has the wrong content")
    if owner is not None:
        if os.stat(written).st_uid != owner:
            fail("the guest's file belongs to uid %d, expected %d" % (os.stat(written).st_uid, owner))
        if "user namespace" not in vm.log.decode(errors="replace"):
            fail("no note that virtiofsd runs in a user namespace\n" + vm.report())
    left = wait_gone(share, timeout=1)
    if left:
        fail("virtiofsd left behind: %r" % left)
    if os.listdir(run):
        fail("left in the runtime directory: %r" % os.listdir(run))
    print("PASS: %s: guest read %s and wrote a file through virtio-fs; exit 0, no virtiofsd or socket left (%.1f s)"
          % (label, value[:8], time.monotonic() - vm.started), flush=True)


def death_run(guest, work):
    """Scenario 3: a virtiofsd that dies is reported; the others die with the launcher."""
    first, _ = make_share(work, "first-" + secrets.token_hex(4))
    second, _ = make_share(work, "second-" + secrets.token_hex(4))
    env, _ = runtime_env(work, "run-death")
    vm = Vm(guest, guest_cmdline([], {}, end="wait") + " usernet.dhcp=off",
            ["virtio-fs,sharedDir=%s,mountTag=first" % first, "virtio-fs,sharedDir=%s,mountTag=second" % second],
            env=env)
    try:
        vm.wait_for(r"^USERNET-WAITING")
        victims, survivors = virtiofsd_pids(first), virtiofsd_pids(second)
        if not victims or not survivors:
            fail("expected a virtiofsd per share, found %r and %r\n%s" % (victims, survivors, vm.report()))
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        pattern = re.compile(rb"error virtiofsd\[first\] \(pid \d+\) was killed by signal 9 while the VM runs")
        while not pattern.search(vm.log):
            if time.monotonic() > deadline:
                fail("the dead virtiofsd was not reported\n" + vm.report())
            vm._pump(0.5)
        if vm.process.poll() is not None:
            fail("usernet-vm ended when one virtiofsd died\n" + vm.report())
        print("PASS: a virtiofsd killed while the VM runs is logged as an error", flush=True)
        vm.process.kill()  # SIGKILL: no chance to stop anything
        vm.process.wait()
    finally:
        vm.kill()
    left = wait_gone(second)
    if left:
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        fail("virtiofsd kept running after usernet-vm was killed: %r" % left)
    print("PASS: virtiofsd ended with its killed launcher", flush=True)


def error_runs(guest, work):
    """Scenario 4: configuration errors exit 2 before QEMU starts and leave nothing."""
    env, run = runtime_env(work, "run-errors")
    share, _ = make_share(work, "ok-share")
    boot = "linux,kernel=%s,initrd=%s" % (os.path.join(guest, "vmlinux"), os.path.join(guest, "initramfs.cpio.gz"))

    def launch(device, extra=()):
        argv = [USERNET_VM, "--memory", "128", "--bootloader", boot, "--device", device] + list(extra)
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, env=env)
        return result.returncode, result.stderr.decode(errors="replace")

    missing = os.path.join(work, "no-such-share")
    cases = [
        ("missing sharedDir", "virtio-fs,sharedDir=%s,mountTag=t" % missing, (), missing),
        ("missing --virtiofsd", "virtio-fs,sharedDir=%s,mountTag=t" % share,
         ("--virtiofsd", "/nonexistent/virtiofsd"), "--virtiofsd /nonexistent/virtiofsd: not an executable file"),
        ("not a virtiofsd", "virtio-fs,sharedDir=%s,mountTag=t" % share, ("--virtiofsd", "/bin/true"),
         "neither"),
    ]
    for name, device, extra, expected in cases:
        code, err = launch(device, extra)
        if code != 2 or expected not in err:
            fail("%s: exit %d (expected 2), stderr %r (expected %r)" % (name, code, err, expected))
        if "VM started" in err or "qemu-system" in err:
            fail("%s: QEMU was started: %r" % (name, err))
    if os.listdir(run):
        fail("failed starts left %r in the runtime directory" % os.listdir(run))
    print("PASS: missing sharedDir, missing and wrong --virtiofsd exit 2 before QEMU starts", flush=True)


def really_root():
    """Root of the initial user namespace (enter_private_netns maps a non-root user to 0)."""
    with open("/proc/self/uid_map") as f:
        return os.geteuid() == 0 and f.read().split()[:3] == ["0", "0", "4294967295"]


def main():
    enter_private_netns()
    if not have_virtiofsd():
        print("SKIP: no virtiofsd (package qemu-system-common)")
        return 77
    guest = build_guest("e2e-vm-virtiofs-guest", {"virtiofs.sh": VIRTIOFS_TEST})
    with tempfile.TemporaryDirectory(prefix="usernet-vm-virtiofs-") as work:
        os.chmod(work, 0o755)  # the unprivileged run reaches its share through it
        error_runs(guest, work)
        share_run(guest, work, "as-%s" % ("root" if really_root() else "user"))
        if really_root():
            share_run(guest, work, "unprivileged", owner=NOBODY)
        else:
            print("SKIP: the unprivileged run needs root to switch users (this run already is unprivileged)")
        death_run(guest, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
