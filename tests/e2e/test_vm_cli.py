#!/usr/bin/env python3
"""End-to-end: usernet-vm's errors, without booting a guest.

- A bad --device string exits 2 and names the bad key.
- Two virtio-vsock devices on one port exit 2 naming the key (vfkit: one per port).
- A missing kernel or initrd is reported (both, by path) before QEMU starts: exit 2.
- --ignition with a missing file, or beside a virtio-vsock device on its port 1024, exits 2.
- --accel auto logs which accelerator it chose and why.
- QEMU dying unexpectedly (a "kernel" that is not one, with an initrd: QEMU refuses it
  after starting) is reported with QEMU's last stderr lines, exit 1.
"""
import os
import re
import subprocess
import tempfile

from vm_harness import USERNET_VM, enter_private_netns, fail


def run(args, timeout=60):
    result = subprocess.run([USERNET_VM] + args, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return result.returncode, result.stderr.decode(errors="replace")


def main():
    enter_private_netns()
    with tempfile.TemporaryDirectory(prefix="usernet-vm-cli-") as work:
        code, err = run(["--bootloader", "linux,kernel=/k", "--device", "virtio-net,macc=5a:94:ef:e4:0c:ee"])
        if code != 2 or "macc" not in err:
            fail("bad device key: exit %d, stderr %r" % (code, err))
        code, err = run(["--bootloader", "linux,kernel=/k", "--device", "virtio-net,transport=tcp"])
        if code != 2 or "transport" not in err:
            fail("bad transport: exit %d, stderr %r" % (code, err))

        code, err = run(["--bootloader", "linux,kernel=/k", "--device", "virtio-vsock,port=1024,socketURL=/tmp/v",
                         "--device", "virtio-vsock,port=1024,socketURL=/tmp/w,connect"])
        if code != 2 or "port 1024 is used twice" not in err or "bad key: port" not in err:
            fail("duplicate vsock port: exit %d, stderr %r" % (code, err))

        kernel, initrd = os.path.join(work, "no-vmlinux"), os.path.join(work, "no-initrd")
        code, err = run(["--bootloader", "linux,kernel=%s,initrd=%s" % (kernel, initrd), "--device", "virtio-net"])
        if code != 2 or kernel not in err or initrd not in err:
            fail("missing files: exit %d, stderr %r" % (code, err))
        if "qemu:" in err:
            fail("QEMU was started although the kernel is missing: %r" % err)

        fake = os.path.join(work, "not-a-kernel")
        with open(fake, "wb") as f:
            f.write(b"\0" * 4096)
        missing_ignition = os.path.join(work, "no.ign")
        code, err = run(["--bootloader", "linux,kernel=%s" % fake, "--ignition", missing_ignition])
        if code != 2 or missing_ignition not in err or "qemu:" in err:
            fail("missing --ignition file: exit %d, stderr %r" % (code, err))
        code, err = run(["--bootloader", "linux,kernel=%s" % fake, "--ignition", fake,
                         "--device", "virtio-vsock,port=1024,socketURL=%s" % os.path.join(work, "v.sock")])
        if code != 2 or "port 1024 is used twice" not in err or "qemu:" in err:
            fail("--ignition beside a vsock port-1024 device: exit %d, stderr %r" % (code, err))
        code, err = run(["--bootloader", "linux,kernel=%s,initrd=%s" % (fake, fake), "--memory", "128"])
        if code != 1 or "unexpectedly" not in err or "qemu: " not in err or "ram disk" not in err:
            fail("QEMU death not reported with its stderr: exit %d, stderr %r" % (code, err))
        # --accel auto (default) names its choice and why; this machine's KVM either runs
        # stock guests (vmx/svm) or not (e.g. nested PVM): the log must say which.
        if not re.search(r"accelerator: (kvm|tcg) \(.+\)", err):
            fail("no accelerator choice in the log: %r" % err)
    print("PASS: bad device key, missing files and QEMU's death are reported")


if __name__ == "__main__":
    main()
