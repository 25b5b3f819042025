#!/usr/bin/env python3
"""End-to-end: usernet-vm's other vfkit devices in the real test guest under QEMU/TCG.

- nvme,path=P: the guest reads the host's marker from /dev/nvme0n1 and writes a reply at
  byte 4096, which the host finds in the image after the guest powered off;
- usb-mass-storage,path=P[,readonly]: two USB sticks on one xHCI controller, each with its
  marker, the readonly one read-only in the guest (/sys/block/sdX/ro);
- virtio-gpu,width,height and virtio-input,pointing|keyboard: the guest sees the devices
  bound to their drivers;
- vfkit's deprecated --kernel/--initrd/--kernel-cmdline boot the same guest;
- GET /vm/inspect lists the devices with vfkit's kinds.
Runs in a private network namespace; no network device at all.
"""
import os
import tempfile

from vm_harness import Vm, build_guest, enter_private_netns, fail, guest_cmdline, rest

EXTRA_MODULES = ("nvme", "xhci_pci", "usb_storage", "sd_mod", "virtio_input", "virtio_gpu")
IMAGE_BYTES = 1 << 20


def make_image(path, first_line):
    with open(path, "wb") as f:
        f.write((first_line + "\n").encode())
        f.truncate(IMAGE_BYTES)


def main():
    enter_private_netns()
    guest = build_guest("e2e-vm-devices-guest", scripts={}, modules=EXTRA_MODULES)
    tag = str(os.getpid())
    markers = {"nvme_marker": "nvme-" + tag, "usb_ro_marker": "usb-ro-" + tag, "usb_rw_marker": "usb-rw-" + tag,
               "nvme_reply": "reply-" + tag}
    with tempfile.TemporaryDirectory(prefix="usernet-vm-devices-") as work:
        nvme, usb_ro, usb_rw = (os.path.join(work, name) for name in ("nvme.img", "ro.img", "rw.img"))
        make_image(nvme, markers["nvme_marker"])
        make_image(usb_ro, markers["usb_ro_marker"])
        make_image(usb_rw, markers["usb_rw_marker"])
        rest_path = os.path.join(work, "rest.sock")
        cmdline = guest_cmdline(["devices", "disks"], dict(markers, devices="gpu,input"), end="wait")
        cmdline += " usernet.dhcp=off"
        vm = Vm(guest, cmdline, ["nvme,path=" + nvme, "usb-mass-storage,path=%s,readonly" % usb_ro,
                                 "usb-mass-storage,path=" + usb_rw, "virtio-gpu,width=1024,height=768",
                                 "virtio-input,pointing", "virtio-input,keyboard"],
                ["--restful-uri", "unix://" + rest_path], legacy_boot=True)
        try:
            vm.wait_for(r"^USERNET-WAITING")
            vm.expect_steps({"modules": "", "devices": "", "disks.nvme": "^ro=0$",
                             "disks.usb": r"^readonly=sd[a-z] writable=sd[a-z]$", "disks.nvme-write": ""})
            status, inspect = rest("/vm/inspect", unix_path=rest_path)
            kinds = [d.get("kind") for d in inspect.get("devices", [])] if status == 200 else []
            if kinds != ["serial", "nvme", "usb-mass-storage", "usb-mass-storage", "virtio-gpu", "virtio-input",
                         "virtio-input"]:
                fail("GET /vm/inspect: %d %r" % (status, inspect))
            status, _ = rest("/vm/state", "POST", {"state": "Stop"}, unix_path=rest_path)
            if status != 202:
                fail("POST Stop: %d" % status)
            code = vm.finish()
        finally:
            vm.kill()
        if code != 0:
            fail("usernet-vm exited %d\n%s" % (code, vm.report()))
        with open(nvme, "rb") as f:
            f.seek(4096)
            reply = f.read(64).split(b"\n")[0].decode(errors="replace")
        if reply != markers["nvme_reply"]:
            fail("the guest's NVMe write is not in the image: %r" % reply)
    print("PASS: nvme read/write, two USB sticks (readonly honoured), virtio-gpu and virtio-input bound, "
          "deprecated --kernel flags, inspect kinds")


if __name__ == "__main__":
    main()
