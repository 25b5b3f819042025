#!/usr/bin/env bash
# Builds an EFI-bootable disk image for the test guest from Debian packages only, with no
# root and no loop mounts:
#  1. a unified kernel image (UKI): systemd's EFI stub (package systemd-boot-efi) with the
#     kernel (bzImage vmlinuz; the EFI stub cannot start the PVH ELF vmlinux), the initramfs,
#     the kernel command line and an os-release added as PE sections by objcopy;
#  2. a FAT file system (mtools) holding it as \EFI\BOOT\BOOTX64.EFI, the removable-media
#     path UEFI firmware boots when no boot entry exists. No partition table: OVMF mounts
#     an unpartitioned FAT disk ("superfloppy") like a USB stick.
#
# Usage: tools/make-efi-disk.sh --kernel VMLINUZ --initrd INITRD [--cmdline TEXT] [--uki-only] OUT
#   --kernel VMLINUZ   a bzImage built with the kernel's EFI stub (tools/make-guest.sh's vmlinuz)
#   --initrd INITRD    initramfs (tools/make-guest.sh's initramfs.cpio.gz)
#   --cmdline TEXT     kernel command line baked into the UKI (default: console=ttyS0)
#   --uki-only         write the UKI itself to OUT instead of a disk image
#
# Section layout: systemd-stub (252) finds .osrel, .cmdline, .initrd and .linux by name in
# the PE section table and uses them where the firmware loaded them, so each one needs its
# own virtual address range past the stub's own sections; they are laid out one after
# another from the first 64 KiB boundary after the stub's image, each 4 KiB aligned, with
# .linux last.
set -euo pipefail

stub=${USERNET_EFI_STUB:-/usr/lib/systemd/boot/efi/linuxx64.efi.stub}

die() { echo "make-efi-disk: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

kernel= initrd= cmdline="console=ttyS0" out= uki_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel) [ $# -ge 2 ] || die "--kernel needs a file"; kernel=$2; shift 2 ;;
    --initrd) [ $# -ge 2 ] || die "--initrd needs a file"; initrd=$2; shift 2 ;;
    --cmdline) [ $# -ge 2 ] || die "--cmdline needs text"; cmdline=$2; shift 2 ;;
    --uki-only) uki_only=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$out" ] || die "only one OUT"; out=$1; shift ;;
  esac
done
[ -n "$out" ] && [ -n "$kernel" ] && [ -n "$initrd" ] || { usage >&2; exit 2; }
[ -f "$kernel" ] || die "no kernel $kernel"
[ -f "$initrd" ] || die "no initrd $initrd"
[ -f "$stub" ] || die "no EFI stub $stub (package systemd-boot-efi; run tools/setup-deps.sh)"
for tool in objcopy objdump mformat mmd mcopy; do
  command -v "$tool" >/dev/null || die "$tool is missing (packages binutils, mtools; run tools/setup-deps.sh)"
done
# The EFI stub hands over through the bzImage's setup header: "HdrS" at offset 0x202.
[ "$(dd if="$kernel" bs=1 skip=514 count=4 status=none | tr -d '\0')" = HdrS ] ||
  die "$kernel is not a bzImage (no HdrS header)"

work=$(mktemp -d "${TMPDIR:-/tmp}/usernet-efi.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- unified kernel image -----------------------------------------------------------------
printf '%s' "$cmdline" >"$work/cmdline"
printf 'ID=usernet-guest\nNAME="usernet test guest"\nPRETTY_NAME="usernet test guest (%s)"\n' \
  "$(basename "$kernel")" >"$work/osrel"

# Prints $1 rounded up to a multiple of $2 (a power of two).
align_up() { echo $(( ($1 + $2 - 1) & ~($2 - 1) )); }
# Prints the end of the stub's image (highest section VMA + size) in decimal.
stub_end() {
  local idx name size vma max=0 rest
  while read -r idx name size vma rest; do
    [[ "$idx" =~ ^[0-9]+$ ]] || continue
    (( 0x$vma + 0x$size > max )) && max=$(( 0x$vma + 0x$size ))
  done < <(objdump -h "$stub")
  echo "$max"
}
# objdump's VMAs include the ImageBase, and so does objcopy's --change-section-vma.
end=$(stub_end)
(( end > 0 )) || die "cannot read the section table of $stub"
next=$(align_up "$end" 65536)

add_args=()
for section in osrel:"$work/osrel" cmdline:"$work/cmdline" initrd:"$initrd" linux:"$kernel"; do
  name=.${section%%:*} file=${section#*:}
  add_args+=(--add-section "$name=$file" --change-section-vma "$name=$(printf '0x%x' "$next")")
  next=$(align_up $(( next + $(stat -c %s "$file") )) 4096)
done
uki="$work/BOOTX64.EFI"
objcopy "${add_args[@]}" "$stub" "$uki"

if [ "$uki_only" = 1 ]; then
  cp "$uki" "$out.tmp" && mv "$out.tmp" "$out"
  exit 0
fi

# --- FAT image ------------------------------------------------------------------------------
# Twice the UKI plus 8 MiB of room, rounded up to whole MiB; 64 heads x 32 sectors = 1 MiB
# per cylinder, so the geometry matches the size exactly.
uki_bytes=$(stat -c %s "$uki")
mib=$(( (2 * uki_bytes) / 1048576 + 8 ))
rm -f "$out.tmp"
truncate -s "${mib}M" "$out.tmp"
mformat -i "$out.tmp" -T $(( mib * 2048 )) -h 64 -s 32 -m 0xf8 -v USERNETEFI ::
mmd -i "$out.tmp" ::/EFI ::/EFI/BOOT
mcopy -i "$out.tmp" "$uki" ::/EFI/BOOT/BOOTX64.EFI
mv "$out.tmp" "$out"
