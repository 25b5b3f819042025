#!/usr/bin/env python3
"""End-to-end: usernet-vm boots the test guest through UEFI firmware
(`--bootloader efi,variable-store=V,create`, OVMF from Debian's ovmf package).

The disk is made by tools/make-efi-disk.sh from Debian packages only: a unified kernel
image (systemd-stub + the guest's bzImage, initramfs and command line) as
\\EFI\\BOOT\\BOOTX64.EFI on a FAT image, attached with `--device virtio-blk,path=`.

In a private network namespace (a DNS upstream and an HTTP server on its 127.0.0.1):
0. efi without `create` and with no store exits 2 naming the store, before QEMU starts.
1. First boot with `create`: V is created from the template, which holds no boot entry
   at all, so the firmware must find the disk's removable-media path by itself. The guest
   gets its lease over the embedded network, resolves a name, fetches a page, and counts
   its boots in EFI variables it writes through efivarfs (count=1). Afterwards V holds
   the boot entries the firmware made.
2. Second boot with `create` again: V is reused, not replaced: the guest finds the variable
   it wrote in the first boot (count=2).
Boot times (usernet-vm start to USERNET-RESULT) are printed.
"""
import os
import subprocess
import sys
import tempfile
import time

from vm_harness import SOURCE, DnsServer, HttpServer, Vm, build_guest, enter_private_netns, fail, guest_cmdline

OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
EFI_STUB = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"
NAME, ADDRESS = "efi.usernet-e2e.test", "203.0.113.11"
# OVMF + a UKI need more than the 128 MiB a PVH boot needs: with 128 MiB the firmware
# faults while starting the kernel (seen as #PF/#UD exceptions on the console).
MEMORY_MIB = 256
# OVMF under TCG on a loaded 2-core machine: firmware 10-30 s before the kernel starts.
EFI_BOOT_TIMEOUT = 240

# Guest test script: counts boots in EFI variables (efivarfs), proving the variable store
# survives from one boot to the next.
EFI_BOOTS = """\
# Test (e2e): count the variables UsernetBootN-<USERNET_ARG_efi_guid> earlier boots left,
# then add the next one. (Variables read from the firmware are immutable in efivarfs and
# busybox has no chattr, so each boot writes a new one instead of updating a counter.)
. /usernet/lib.sh
[ -d /sys/firmware/efi ] || { echo "not booted through UEFI"; exit 1; }
mkdir -p /sys/firmware/efi/efivars
mount -t efivarfs efivarfs /sys/firmware/efi/efivars || exit 1
count=1
while [ -e "/sys/firmware/efi/efivars/UsernetBoot$count-$USERNET_ARG_efi_guid" ]; do
  count=$((count + 1))
done
# One write(2): attributes NON_VOLATILE|BOOTSERVICE_ACCESS|RUNTIME_ACCESS (7), then the data.
printf '\\007\\000\\000\\000boot %s' "$count" >"/sys/firmware/efi/efivars/UsernetBoot$count-$USERNET_ARG_efi_guid" || exit 1
step efi.boots PASS "count=$count"
"""
EFI_GUID = "6e2e7573-6572-6e65-7400-000000000001"


def skip(reason):
    print("SKIP: " + reason, flush=True)
    sys.exit(77)


def boot_entries(path):
    """Names of the Boot#### variables in an OVMF variable store (UTF-16 names)."""
    data = open(path, "rb").read()
    names = set()
    start = 0
    marker = "Boot".encode("utf-16-le")
    while True:
        at = data.find(marker, start)
        if at < 0:
            return sorted(names)
        name = data[at:at + 16].decode("utf-16-le", errors="replace")
        if all(c in "0123456789ABCDEF" for c in name[4:]):
            names.add(name)
        start = at + 2


def efi_boot(guest, disk, store, dns, create=True):
    """One EFI boot of the network tests; returns (vm, exit status, seconds to the result)."""
    bootloader = "efi,variable-store=%s%s" % (store, ",create" if create else "")
    vm = Vm(guest, None, ["virtio-blk,path=" + disk, "virtio-net,mac=5a:94:ef:e4:0c:ee"],
            ["--dns-upstream", "127.0.0.1:%d" % dns.port], memory=MEMORY_MIB, bootloader=bootloader)
    try:
        vm.wait_for(r"^USERNET-RESULT", timeout=EFI_BOOT_TIMEOUT)
        seconds = time.monotonic() - vm.started
        code = vm.finish()
    finally:
        vm.kill()
    return vm, code, seconds


def expect_guest_passed(vm, code, boots):
    vm.expect_steps({
        "dhcp": r"^ip=192\.168\.127\.2/24 router=192\.168\.127\.1 dns=192\.168\.127\.1 ",
        "dns.answer": "=" + ADDRESS.replace(".", r"\.") + "$",
        "http.fetch": r"bytes=\d+",
        "efi.boots": "^count=%d$" % boots,
    })
    if "USERNET-RESULT PASS" not in vm.text() or code != 0:
        fail("EFI boot %d: guest failed or usernet-vm exited %d\n%s" % (boots, code, vm.report()))


def main():
    for path, package in ((OVMF_CODE, "ovmf"), (OVMF_VARS, "ovmf"), (EFI_STUB, "systemd-boot-efi")):
        if not os.path.exists(path):
            skip("%s missing (package %s; run tools/setup-deps.sh)" % (path, package))
    enter_private_netns()
    if boot_entries(OVMF_VARS):
        fail("the OVMF template already has boot entries %r: the removable-media path would be untested"
             % boot_entries(OVMF_VARS))
    with tempfile.TemporaryDirectory(prefix="usernet-vm-efi-") as work:
        guest = build_guest("e2e-efi-guest", {"efi-boots.sh": EFI_BOOTS}, ["efivarfs"])
        marker = "efi-page-%d" % os.getpid()
        page = HttpServer(marker + "\n")
        dns = DnsServer({NAME: ADDRESS})
        args = {"dns_name": NAME, "dns_expect": ADDRESS, "http_url": "http://192.168.127.254:%d/" % page.port,
                "http_expect": marker, "efi_guid": EFI_GUID}
        disk = os.path.join(work, "efi-disk.img")
        subprocess.run([os.path.join(SOURCE, "tools", "make-efi-disk.sh"),
                        "--kernel", os.path.join(guest, "vmlinuz"),
                        "--initrd", os.path.join(guest, "initramfs.cpio.gz"),
                        "--cmdline", guest_cmdline(["dns", "http", "efi-boots"], args), disk], check=True)
        store = os.path.join(work, "vars.fd")

        vm = Vm(guest, None, ["virtio-blk,path=" + disk], memory=MEMORY_MIB,
                bootloader="efi,variable-store=" + store)
        code = vm.finish()
        log = vm.log.decode(errors="replace")
        if code != 2 or store not in log or "qemu:" in log:
            fail("efi without create and no store: exit %d\n%s" % (code, vm.report()))
        print("PASS: a missing variable store without create is refused (exit 2)", flush=True)

        vm, code, first = efi_boot(guest, disk, store, dns)
        expect_guest_passed(vm, code, 1)
        if os.path.getsize(store) != os.path.getsize(OVMF_VARS):
            fail("variable store %s has %d bytes, the template %d" % (store, os.path.getsize(store),
                                                                      os.path.getsize(OVMF_VARS)))
        entries = boot_entries(store)
        if not entries:
            fail("the firmware stored no boot entry after booting\n" + vm.report())
        started = [line.strip() for line in vm.text().splitlines() if "BdsDxe: starting" in line]
        print("PASS: EFI boot with create: lease, DNS, HTTP, efivar count=1 in %.1f s; firmware made %s; %s"
              % (first, ",".join(entries), started[-1] if started else "(no BdsDxe line)"), flush=True)

        vm, code, second = efi_boot(guest, disk, store, dns)
        expect_guest_passed(vm, code, 2)
        print("PASS: second EFI boot reused the variable store (efivar count=2) in %.1f s" % second, flush=True)


if __name__ == "__main__":
    main()
