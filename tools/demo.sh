#!/usr/bin/env bash
# The README's main job: installs, builds, and puts a demo guest network namespace on
# usernet. The guest gets its address from usernetd, fetches a page from a web server on
# the host's 127.0.0.1 through 192.168.127.254, pings the gateway, and says so.
# Everything happens inside two network namespaces this script creates and deletes.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "tools/demo.sh: run as root (network namespaces)" >&2; exit 1; }

host=usernet-demo-host-$$ guest=usernet-demo-guest-$$ work=$(mktemp -d)
quietly() { "$@" >"$work/step.log" 2>&1 || { cat "$work/step.log" >&2; echo "failed: $*" >&2; exit 1; }; }
quietly tools/setup-deps.sh
quietly cmake --preset release
quietly cmake --build --preset release
usernetd=build/release/tools/usernetd

cleanup() {
  [ -n "${usernetd_pid:-}" ] && kill "$usernetd_pid" 2>/dev/null && wait "$usernetd_pid" 2>/dev/null || true
  [ -n "${web_pid:-}" ] && kill "$web_pid" 2>/dev/null || true
  ip netns del "$host" 2>/dev/null || true
  ip netns del "$guest" 2>/dev/null || true
  rm -rf "$work"
}
step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
trap cleanup EXIT

step "creating a host namespace (its own loopback, no way out) and a guest namespace"
ip netns add "$host"; ip netns add "$guest"
ip -n "$host" link set lo up; ip -n "$guest" link set lo up
ip -n "$host" link add bh0 type veth peer name bh1
ip -n "$host" link set bh0 up; ip -n "$host" link set bh1 up
ip -n "$host" addr add 10.255.255.1/24 dev bh0
ip -n "$host" route add default via 10.255.255.2
ip netns exec "$host" sysctl -qw net.ipv4.ping_group_range="0 2147483647"

step "starting a web server on the host's 127.0.0.1:8080"
echo "Hello from the host's loopback, served to a guest through usernet." > "$work/index.html"
ip netns exec "$host" python3 -m http.server 8080 --bind 127.0.0.1 --directory "$work" >/dev/null 2>&1 &
web_pid=$!
for _ in $(seq 100); do ip netns exec "$host" curl -s -o /dev/null http://127.0.0.1:8080/ && break; sleep 0.05; done

step "starting usernetd with a TAP device inside the guest namespace"
ip netns exec "$host" "$usernetd" --tap tap0 --netns "/run/netns/$guest" --dns-search usernet.test \
  --log-file "$work/usernetd.log" &
usernetd_pid=$!
for _ in $(seq 100); do ip -n "$guest" link show tap0 >/dev/null 2>&1 && break; sleep 0.05; done

step "guest asks usernetd's DHCP server for an address (busybox udhcpc)"
ip -n "$guest" link set tap0 address 5a:94:ef:e4:0c:ee up
USERNET_DHCP_LOG="$work/dhcp.log" ip netns exec "$guest" busybox udhcpc -i tap0 -q -f -n -t 5 -T 2 \
  -s "$PWD/tests/integration/dhcp_record.sh" >/dev/null 2>&1
ip -n "$guest" -4 addr show tap0 | awk '/inet /{print "    guest address: " $2}'
ip -n "$guest" route | awk '/default/{print "    default route: " $0}'

step "guest fetches http://192.168.127.254:8080/ (the host's 127.0.0.1)"
page=$(ip netns exec "$guest" curl -sS -m 10 http://192.168.127.254:8080/)
echo "    $page"

step "guest pings the gateway 192.168.127.1"
ip netns exec "$guest" ping -c 3 -i 0.2 -W 2 192.168.127.1 | sed -n 's/^/    /;/received/p'

step "demo passed: the guest got its address, reached the host's loopback and the gateway"
