#!/usr/bin/env bash
# The README's main command: installs the dependencies, builds usernet, makes the test
# guest (Debian kernel + busybox initramfs) and boots it with usernet-vm, the network
# running inside the launcher. The guest gets a DHCP lease, resolves a name through a DNS
# server on the host's 127.0.0.1, fetches a page from a web server on the host's
# 127.0.0.1 through 192.168.127.254, and serves a page that the host then reaches through
# a port forward. The VM is driven through the REST API and stopped with it.
# Everything runs in a private network namespace (only a loopback): nothing leaves the
# machine. Prints each step; exits 0 when every step passed.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${USERNET_DEMO_PRESET:-release}  # the CMake preset to build and run

if [ "${USERNET_VM_DEMO_INNER:-}" != 1 ]; then
  [ "$(id -u)" = 0 ] || { echo "tools/vm-demo.sh: run as root (it installs packages)" >&2; exit 1; }
  step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  quietly() { "$@" >"$work/step.log" 2>&1 || { cat "$work/step.log" >&2; echo "failed: $*" >&2; exit 1; }; }
  step "installing dependencies, building ($preset)"
  quietly tools/setup-deps.sh
  quietly cmake --preset "$preset"
  quietly cmake --build --preset "$preset"
  step "making the test guest (first run downloads the Debian kernel package, ~70 MB)"
  cat >"$work/serve-http.sh" <<'GUEST'
# Demo guest service: busybox httpd on :80.
. /usernet/lib.sh
mkdir -p /run/www
echo "Hello from inside the guest, reached through a usernet port forward." >/run/www/index.html
httpd -p 80 -h /run/www || exit 1
step serve-http.listening PASS "port=80"
GUEST
  quietly tools/make-guest.sh --test "$work/serve-http.sh" "build/$preset/demo-guest"
  step "entering a private network namespace (loopback only)"
  USERNET_VM_DEMO_INNER=1 USERNET_DEMO_PRESET=$preset exec unshare --net -- "$0"
fi

# --- inside the namespace -------------------------------------------------------------------
step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
work=$(mktemp -d)
guest=build/$preset/demo-guest
vm=build/$preset/tools/usernet-vm
cleanup() {
  for pid in ${vm_pid:-} ${web_pid:-} ${dns_pid:-}; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip link set lo up

step "host services on 127.0.0.1: a web server (:8080) and a DNS server (:5353)"
echo "Hello from the host's loopback, fetched by the guest through usernet." >"$work/page.txt"
python3 -m http.server 8080 --bind 127.0.0.1 --directory "$work" >/dev/null 2>&1 &
web_pid=$!
dnsmasq --keep-in-foreground --no-resolv --no-hosts --listen-address=127.0.0.1 --port=5353 \
  --bind-interfaces --user=root --host-record=demo.usernet.test,203.0.113.10 >/dev/null 2>&1 &
dns_pid=$!
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:8080/ && break; sleep 0.05; done

step "booting the guest with usernet-vm (QEMU TCG; the network runs inside the launcher)"
cmdline="console=ttyS0 panic=-1 loglevel=4 usernet.test=dns,http,serve-http usernet.end=wait"
cmdline+=" usernet.arg.dns_name=demo.usernet.test usernet.arg.dns_expect=203.0.113.10"
cmdline+=" usernet.arg.http_url=http://192.168.127.254:8080/page.txt usernet.arg.http_expect=loopback"
"$vm" --cpus 1 --memory 128 \
  --bootloader "linux,kernel=$guest/vmlinux,initrd=$guest/initramfs.cpio.gz,\"cmdline=$cmdline\"" \
  --device serial,stdio --device virtio-net,mac=5a:94:ef:e4:0c:ee \
  --dns-upstream 127.0.0.1:5353 --dns-search usernet.test \
  --forward 127.0.0.1:8022=192.168.127.2:80 --restful-uri "unix://$work/rest.sock" \
  >"$work/console.txt" 2>"$work/vm.log" &
vm_pid=$!

# Prints the guest's step lines as they appear, until USERNET-WAITING (or the VM ends).
shown=0
for _ in $(seq 1200); do
  lines=$(grep -a '^USERNET-STEP\|^USERNET-RESULT' "$work/console.txt" | tr -d '\r' || true)
  count=$(printf '%s' "$lines" | grep -c . || true)
  if [ "$count" -gt "$shown" ]; then
    printf '%s\n' "$lines" | tail -n +"$((shown + 1))" | sed 's/^/    guest: /'
    shown=$count
  fi
  grep -aq '^USERNET-WAITING' "$work/console.txt" && break
  kill -0 "$vm_pid" 2>/dev/null || { cat "$work/vm.log" >&2; echo "usernet-vm ended early" >&2; exit 1; }
  sleep 0.1
done
grep -aq '^USERNET-RESULT PASS' "$work/console.txt" || { cat "$work/console.txt" "$work/vm.log" >&2; exit 1; }

step "the host reaches the guest's web server through the port forward 127.0.0.1:8022"
echo "    $(curl -sS -m 10 http://127.0.0.1:8022/)"

step "REST API: GET /vm/state, then POST Stop (the guest's power button)"
echo "    $(curl -sS --unix-socket "$work/rest.sock" http://vm/vm/state)"
curl -sS -o /dev/null --unix-socket "$work/rest.sock" -X POST -d '{"state":"Stop"}' http://vm/vm/state
status=0
wait "$vm_pid" || status=$?
vm_pid=
grep -aq '^USERNET-POWERDOWN' "$work/console.txt" && echo "    guest: powered down"
[ "$status" = 0 ] || { cat "$work/vm.log" >&2; echo "usernet-vm exited with $status" >&2; exit 1; }
step "demo passed: lease, DNS, HTTP to the host, a port forward into the guest, REST stop"
