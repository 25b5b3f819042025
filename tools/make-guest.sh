#!/usr/bin/env bash
# Builds the usernet test guest from Debian packages only: the current Debian kernel
# (ELF vmlinux for PVH boot) and a busybox-static initramfs whose /init loads the virtio
# and vsock modules, runs udhcpc and the tests named on the kernel command line, printing
# `USERNET-STEP name PASS|FAIL detail` lines (protocol: tools/guest/init).
#
# Usage: tools/make-guest.sh [options] OUTDIR
#   --add SRC[:DEST]      put file SRC into the initramfs at DEST (default /usr/bin/NAME);
#                         for static programs such as usernet-forwarder (repeatable)
#   --test FILE           add a test script, run as `usernet.test=NAME` (NAME = basename
#                         without .sh; [A-Za-z0-9_-] only) (repeatable)
#   --modules LIST        extra kernel modules (comma separated) to load after the defaults
#   --kernel-package PKG  kernel package to use (default: what linux-image-amd64 depends on)
#
# OUTDIR receives: vmlinux, vmlinuz (the bzImage, for EFI boot through
# tools/make-efi-disk.sh), initramfs.cpio.gz, kernel-release, modules.list and guest.json
# ({"kernel","initrd","cmdline","release"}). The kernel .deb, its unpacked tree and the
# extracted vmlinux are cached under <repo>/.cache/guest (or $USERNET_GUEST_CACHE); the
# initramfs is rebuilt only when its inputs change, so a second run takes well under a second.
# Needs no root: dpkg -x, depmod -b and cpio -R 0:0 work as any user.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
guest_src="$here/guest"
cache=${USERNET_GUEST_CACHE:-$repo/.cache/guest}

# Modules every guest loads, in dependency order after modprobe --show-depends: virtio PCI
# transport, NIC, disk, console/serial, rng, balloon, vsock, TAP (usernet-forwarder),
# virtio-fs, and the ACPI power button with evdev (system_powerdown in usernet.end=wait).
default_modules=(virtio_pci virtio_net virtio_blk virtio_console virtio_rng virtio_balloon
                 vmw_vsock_virtio_transport tun virtiofs button evdev)

die() { echo "make-guest: $*" >&2; exit 1; }
log() { echo "make-guest: $*" >&2; }

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

extras=() tests=() extra_modules=() kernel_pkg= outdir=
while [ $# -gt 0 ]; do
  case "$1" in
    --add) [ $# -ge 2 ] || die "--add needs SRC[:DEST]"; extras+=("$2"); shift 2 ;;
    --test) [ $# -ge 2 ] || die "--test needs FILE"; tests+=("$2"); shift 2 ;;
    --modules) [ $# -ge 2 ] || die "--modules needs a list"; IFS=, read -r -a m <<<"$2"; extra_modules+=("${m[@]}"); shift 2 ;;
    --kernel-package) [ $# -ge 2 ] || die "--kernel-package needs a name"; kernel_pkg=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$outdir" ] || die "only one OUTDIR"; outdir=$1; shift ;;
  esac
done
[ -n "$outdir" ] || { usage >&2; exit 2; }

for tool in apt-get dpkg depmod modprobe cpio gzip xz od; do
  command -v "$tool" >/dev/null || die "$tool is missing (run tools/setup-deps.sh)"
done

mkdir -p "$cache/debs" "$cache/kernels" "$outdir"
outdir=$(cd "$outdir" && pwd)
# One builder at a time per cache (parallel ctest runs share it).
exec 9>"$cache/lock"
flock 9

# --- kernel package -----------------------------------------------------------------------

# Prints the kernel package linux-image-amd64 depends on, or nothing if apt does not know.
resolve_kernel_package() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1
}

# Prints the path of the cached .deb of package $1, downloading it if needed.
fetch_deb() {
  local pkg=$1 deb
  deb=$(ls -t "$cache/debs/${pkg}_"*.deb 2>/dev/null | head -n 1 || true)
  if [ -z "$deb" ]; then
    log "downloading $pkg"
    (cd "$cache/debs" && apt-get download -q "$pkg" >&2) || die "apt-get download $pkg failed"
    deb=$(ls -t "$cache/debs/${pkg}_"*.deb 2>/dev/null | head -n 1 || true)
    [ -n "$deb" ] || die "apt-get download left no .deb for $pkg"
  fi
  echo "$deb"
}

if [ -z "$kernel_pkg" ]; then
  kernel_pkg=$(resolve_kernel_package)
  if [ -z "$kernel_pkg" ]; then
    # Offline, or apt lists missing: use the newest kernel already cached.
    cached=$(ls -t "$cache/debs/"linux-image-[0-9]*.deb 2>/dev/null | head -n 1 || true)
    [ -n "$cached" ] || die "apt-cache knows no linux-image-amd64 (apt-get update?) and nothing is cached"
    kernel_pkg=$(basename "$cached" | cut -d_ -f1)
  fi
fi
case "$kernel_pkg" in linux-image-*) ;; *) die "not a kernel package: $kernel_pkg" ;; esac
deb=$(fetch_deb "$kernel_pkg")
release=${kernel_pkg#linux-image-}
kdir="$cache/kernels/$(basename "$deb" .deb)"

# Unpack, depmod and extract vmlinux once per .deb; the .done stamp marks a complete job.
if [ ! -e "$kdir/.done" ]; then
  log "unpacking $(basename "$deb")"
  rm -rf "$kdir" && mkdir -p "$kdir"
  dpkg -x "$deb" "$kdir/root"
  [ -d "$kdir/root/lib/modules/$release" ] || die "$deb has no /lib/modules/$release"
  depmod -b "$kdir/root" "$release"
  "$guest_src/extract-vmlinux.sh" "$kdir/root/boot/vmlinuz-$release" "$kdir/vmlinux"
  touch "$kdir/.done"
fi

# --- modules ------------------------------------------------------------------------------
# Module files in load order (modprobe resolves dependencies; each module appears once).
mapfile -t module_files < <(
  modprobe -d "$kdir/root" -S "$release" -a --show-depends \
    "${default_modules[@]}" "${extra_modules[@]}" |
    awk '$1 == "insmod" && !seen[$2]++ { print $2 }'
) || die "modprobe could not resolve the module list"
[ "${#module_files[@]}" -gt 0 ] || die "no modules resolved for $release"

# --- busybox ------------------------------------------------------------------------------
# Prints the path of a statically linked busybox: the installed busybox-static if it is
# one, else the one from the busybox-static package (downloaded and cached).
find_busybox() {
  local candidate
  for candidate in /bin/busybox /usr/bin/busybox; do
    if [ -x "$candidate" ] && ! readelf -l "$candidate" 2>/dev/null | grep -q 'Requesting program interpreter'; then
      echo "$candidate"
      return
    fi
  done
  local bdeb bdir="$cache/busybox-static"
  bdeb=$(fetch_deb busybox-static)
  [ -x "$bdir/bin/busybox" ] || dpkg -x "$bdeb" "$bdir"
  echo "$bdir/bin/busybox"
}
busybox=$(find_busybox)

# --- inputs fingerprint -------------------------------------------------------------------
# Everything the initramfs depends on; unchanged fingerprint = nothing to rebuild.
check_extra() {
  local spec=$1 src=${1%%:*}
  [ -f "$src" ] || die "--add $spec: no such file $src"
  if readelf -l "$src" 2>/dev/null | grep -q 'Requesting program interpreter'; then
    log "warning: $src is dynamically linked; the guest has no libc"
  fi
}
for spec in "${extras[@]}"; do check_extra "$spec"; done
for t in "${tests[@]}"; do
  [ -f "$t" ] || die "--test $t: no such file"
  name=$(basename "$t" .sh)
  [[ "$name" =~ ^[A-Za-z0-9_-]+$ ]] || die "--test $t: name '$name' must be [A-Za-z0-9_-]"
done

fingerprint=$(
  {
    echo "release $release $(basename "$deb")"
    printf 'module %s\n' "${module_files[@]}"
    sha256sum "$busybox" "$0"
    (cd "$guest_src" && find . -type f | LC_ALL=C sort | xargs sha256sum)
    for spec in "${extras[@]}"; do echo "extra $spec $(sha256sum <"${spec%%:*}")"; done
    for t in "${tests[@]}"; do echo "test $(basename "$t" .sh) $(sha256sum <"$t")"; done
  } | sha256sum | cut -d' ' -f1
)

# --- initramfs ----------------------------------------------------------------------------
# Builds the initramfs tree in $1 (busybox applet links, init, scripts, modules, extras).
populate_tree() {
  local root=$1 applet spec src dest t
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,lib/modules/usernet,usernet/tests}
  install -m 0755 "$busybox" "$root/bin/busybox"
  for applet in $("$busybox" --list-full); do
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
  done
  install -m 0755 "$guest_src/init" "$root/init"
  install -m 0755 "$guest_src/udhcpc.script" "$root/etc/udhcpc.script"
  install -m 0644 "$guest_src/lib.sh" "$root/usernet/lib.sh"
  install -D -m 0755 "$guest_src/acpi/PWRF/00000080" "$root/etc/acpi/PWRF/00000080"
  install -m 0644 "$guest_src"/tests/* "$root/usernet/tests/"
  for t in "${tests[@]}"; do install -m 0644 "$t" "$root/usernet/tests/$(basename "$t" .sh)"; done
  : >"$root/usernet/modules.list"
  local file name
  for file in "${module_files[@]}"; do
    name=$(basename "$file" .ko)
    cp "$file" "$root/lib/modules/usernet/$name.ko"
    echo "$name" >>"$root/usernet/modules.list"
  done
  for spec in "${extras[@]}"; do
    src=${spec%%:*}
    dest=${spec#*:}
    [ "$dest" != "$spec" ] || dest=/usr/bin/$(basename "$src")
    case "$dest" in /*) ;; *) die "--add $spec: DEST must be absolute" ;; esac
    install -D -m "$( [ -x "$src" ] && echo 0755 || echo 0644)" "$src" "$root$dest"
  done
  echo "usernet-guest" >"$root/etc/hostname"
}

if [ "$(cat "$outdir/.fingerprint" 2>/dev/null || true)" != "$fingerprint" ] || [ ! -s "$outdir/initramfs.cpio.gz" ]; then
  log "building initramfs ($release, ${#module_files[@]} modules, ${#extras[@]} extra files)"
  tree=$(mktemp -d "$outdir/.tree.XXXXXX")
  trap 'rm -rf "$tree"' EXIT
  populate_tree "$tree"
  # newc archive owned by root, reproducible order; the kernel's built-in initramfs
  # already provides /dev/console.
  (cd "$tree" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc -R 0:0 --reproducible | gzip -9n) >"$outdir/initramfs.cpio.gz.tmp"
  mv "$outdir/initramfs.cpio.gz.tmp" "$outdir/initramfs.cpio.gz"
  cp "$tree/usernet/modules.list" "$outdir/modules.list"
  echo "$fingerprint" >"$outdir/.fingerprint"
fi

# vmlinux (PVH) and vmlinuz (bzImage, the EFI stub's payload): hard links into the cache
# when possible (65 MB and 8 MB), else copies.
for kernel_file in "$kdir/vmlinux" "$kdir/root/boot/vmlinuz-$release"; do
  target="$outdir/$(basename "$kernel_file" | sed 's/-.*//')"
  if ! [ "$target" -ef "$kernel_file" ]; then
    ln -f "$kernel_file" "$target" 2>/dev/null || cp "$kernel_file" "$target"
  fi
done
echo "$release" >"$outdir/kernel-release"
cat >"$outdir/guest.json" <<JSON
{"kernel": "$outdir/vmlinux", "initrd": "$outdir/initramfs.cpio.gz", "release": "$release",
 "cmdline": "console=ttyS0 panic=-1 loglevel=4"}
JSON
echo "$outdir"
