#!/usr/bin/env bash
# Installs everything usernet needs from Debian's packages and fetches lwIP's
# source tarball (Debian's orig tarball, checked against known SHA-256 sums).
# Idempotent; run as root. Usage: tools/setup-deps.sh [--no-e2e]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
lwip_dir="$here/.cache/lwip"

want_e2e=1
[ "${1:-}" = "--no-e2e" ] && want_e2e=0

export DEBIAN_FRONTEND=noninteractive

# Build toolchain and libraries.
pkgs=(build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev libfuzzer-14-dev
      clang-tidy  # tools/tidy.sh, run by CI
      libuv1-dev libboost-program-options-dev libboost-dev libspdlog-dev libfmt-dev doctest-dev
      nlohmann-json3-dev libc-ares-dev libre2-dev libssh-dev libyaml-cpp-dev
      libseccomp-dev  # usernetd --sandbox: the system-call allow-list
      # test and benchmark tools: real clients, real peers
      iproute2 iputils-ping iperf3 busybox-static isc-dhcp-client bind9-dnsutils dnsmasq-base curl socat
      python3 procps psmisc openssh-server openssh-client tshark slirp4netns passt xz-utils
      ndisc6  # rdisc6: reads router advertisements off the wire (IPv6 tests)
      podman crun uidmap  # tests/integration/test_podman_slirp4netns.py: real rootless podman (conmon comes along)
      rootlesskit)  # tests/integration/test_rootlesskit_slirp4netns.py: Docker/nerdctl rootless's network half
if [ "$want_e2e" = 1 ]; then
  # VM launcher and guest image (QEMU under TCG, Debian kernel + busybox initramfs);
  # EFI boot: OVMF firmware, systemd's EFI stub for the unified kernel image, mtools for
  # its FAT disk (tools/make-efi-disk.sh)
  pkgs+=(qemu-system-x86 qemu-utils cpio kmod zstd ovmf systemd-boot-efi mtools)
fi

# deb-src entry so `apt-get source` can fetch lwIP's orig tarball.
src_list=/etc/apt/sources.list.d/usernet-src.sources
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ /etc/apt/sources.list 2>/dev/null \
   && ! grep -qs '^deb-src' /etc/apt/sources.list 2>/dev/null; then
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  cat >"$src_list" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  need_update=1
fi

stamp=/var/lib/apt/periodic/usernet-update-stamp
if [ "${need_update:-0}" = 1 ] || [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +360 2>/dev/null)" ]; then
  apt-get update -q
  mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  # wireshark-common asks whether non-root users may capture; answer no.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# lwIP: the orig tarball, verified against the hashes of upstream releases we accept.
declare -A known_sha256=(
  [lwip_2.1.3+dfsg1.orig.tar.xz]=0a8276d09fc4e97bbba2f953d74af2388fc2195ea156be9d7589e297a68fde24
)
mkdir -p "$lwip_dir"
if ! ls "$lwip_dir"/lwip_*.orig.tar.* >/dev/null 2>&1; then
  (cd "$lwip_dir" && apt-get source --download-only -q lwip)
fi
ok=0
for f in "$lwip_dir"/lwip_*.orig.tar.*; do
  name=$(basename "$f")
  sum=$(sha256sum "$f" | cut -d' ' -f1)
  if [ "${known_sha256[$name]:-}" = "$sum" ]; then
    ln -sf "$name" "$lwip_dir/lwip.orig.tar.xz"
    ok=1
  else
    echo "setup-deps: $name has unknown SHA-256 $sum; refusing it" >&2
  fi
done
[ "$ok" = 1 ] || { echo "setup-deps: no verified lwIP tarball" >&2; exit 1; }
echo "setup-deps: ok (lwIP tarball: $(readlink "$lwip_dir/lwip.orig.tar.xz"))"
