#!/usr/bin/env python3
"""e2e, the mission path: usernet-forwarder in a QEMU/TCG guest dials its default
vsock://2:1024/connect; usernet-vsockd maps guest port 1024 to the unix socket
<uds-path>_1024 where usernetd listens (`--listen unix://<uds-path>_1024`). The guest's
TAP gets a DHCP lease from usernetd and fetches a page from the host's 127.0.0.1 through
192.168.127.254; then IPv6 over the same TAP (SLAAC, ping6, a page from the host's ::1
through fd00::254).

Safety: usernetd and the HTTP server run in a network namespace this test creates
(loopback plus a veth pair whose ends both stay inside, default route into it: a black
hole), so NAT traffic can only reach that namespace's 127.0.0.1.

Needs root (ip netns) and a statically linked usernet-forwarder: the one in the build
directory if static (release/debug presets), else $USERNET_FORWARDER; skipped otherwise."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vsock_e2e as e2e  # noqa: E402

MARKER = "usernet-vsock-mission-marker"


def is_static(path):
    out = subprocess.run(["readelf", "-l", path], capture_output=True, text=True).stdout
    return "Requesting program interpreter" not in out


def find_forwarder():
    for path in (os.environ.get("USERNET_FORWARDER"),
                 os.path.join(e2e.BUILD, "tools", "usernet-forwarder"),
                 os.path.join(e2e.SOURCE, "build", "release", "tools", "usernet-forwarder")):
        if path and os.access(path, os.X_OK) and is_static(path):
            return path
    e2e.skip("no statically linked usernet-forwarder (set USERNET_FORWARDER or use a "
             "release/debug build)")


def usernetd_path():
    path = os.environ.get("USERNETD") or e2e.program("usernetd")
    help_text = subprocess.run([path, "--help"], capture_output=True, text=True).stdout
    if "--listen" not in help_text:
        e2e.skip(f"{path} has no --listen option yet")
    return path


class Namespace:
    """A throw-away network namespace with loopback and a black-hole default route."""

    def __init__(self):
        self.name = f"usernet-vsock-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.ip("link", "set", "lo", "up")
        self.ip("link", "add", "vb0", "type", "veth", "peer", "name", "vb1")
        self.ip("addr", "add", "198.51.100.2/24", "dev", "vb0")
        self.ip("link", "set", "vb0", "up")
        self.ip("link", "set", "vb1", "up")
        self.ip("route", "add", "default", "via", "198.51.100.1")
        self.procs = []

    def ip(self, *args):
        subprocess.run(["ip", "-n", self.name, *args], check=True)

    def start(self, args, log_path, cwd=None):
        log = open(log_path, "w")
        proc = subprocess.Popen(["ip", "netns", "exec", self.name, *args], stdout=log,
                                stderr=subprocess.STDOUT, cwd=cwd)
        self.procs.append(proc)
        return proc

    def close(self):
        for proc in self.procs:
            e2e.stop_process(proc)
        subprocess.run(["ip", "netns", "delete", self.name], check=False)


def main():
    e2e.require_qemu()
    if os.geteuid() != 0:
        e2e.skip("needs root for ip netns")
    forwarder = find_forwarder()
    usernetd = usernetd_path()
    with e2e.Session() as session:
        work = session.work
        script = (
            "usernet-forwarder >/run/usernet/forwarder.log 2>&1 &\n"
            "i=0\n"
            "until ip addr show dev tap0 2>/dev/null | grep -q \"inet \"; do\n"
            "  sleep 0.5; i=$((i+1)); [ $i -lt 60 ] || break\n"
            "done\n"
            "if ip addr show dev tap0 2>/dev/null | grep -q \"inet \"; then\n"
            "  step vsock.lease PASS \"$(ip addr show dev tap0 | grep \"inet \")\"\n"
            "else\n"
            "  # No lease: still check the rest of the path with gvproxy's static address.\n"
            "  step vsock.lease FAIL \"no DHCP lease on tap0 in 30 s\"\n"
            "  sed 's/^/forwarder: /' /run/usernet/forwarder.log\n"
            "  ip addr add 192.168.127.2/24 dev tap0 && ip route add default via 192.168.127.1\n"
            "fi\n"
            "timeout 30 wget -q -O /tmp/page http://192.168.127.254:8080/page.txt || exit 1\n"
            f"grep -q {MARKER} /tmp/page || exit 1\n"
            "step vsock.http PASS \"$(wc -c </tmp/page) bytes\"\n"
            # IPv6 over the same relayed TAP: SLAAC, ping6, the host's ::1 through fd00::254.
            "USERNET_ARG_ipv6_dev=tap0 USERNET_ARG_ipv6_port=8081 USERNET_ARG_ipv6_path=page.txt "
            f"USERNET_ARG_http_expect={MARKER} "
            "sh /usernet/tests/ipv6 || exit 1\n")
        kernel, initrd = build_guest_with_forwarder(work, forwarder, script)
        www = work("www")
        os.mkdir(www)
        with open(os.path.join(www, "page.txt"), "w") as f:
            f.write(MARKER + "\n")
        netns = Namespace()
        session.on_exit(netns.close)
        netns.start(["python3", "-m", "http.server", "8080", "--bind", "127.0.0.1",
                     "--directory", www], work("http.log"))
        netns.start(["python3", "-m", "http.server", "8081", "--bind", "::1",
                     "--directory", www], work("http6.log"))
        vsockd, vhost, uds = e2e.start_vsockd(session)
        daemon = netns.start([usernetd, "--listen", f"unix://{uds}_1024"], work("usernetd.log"))
        for _ in range(500):
            if os.path.exists(uds + "_1024") or daemon.poll() is not None:
                break
            time.sleep(0.01)
        e2e.check(os.path.exists(uds + "_1024"), "usernetd listens on <uds-path>_1024")
        guest = e2e.Guest(session, kernel, initrd, vhost,
                          "usernet.test=vsock_mission usernet.timeout=120")
        result = guest.wait_for("USERNET-RESULT", 600)
        steps = guest.steps()
        e2e.check(steps.get("vsock.lease", ("missing",))[0] == "PASS",
                  f"guest TAP got a DHCP lease over vsock: {steps.get('vsock.lease')}")
        e2e.check(steps.get("vsock.http", ("missing",))[0] == "PASS",
                  f"guest fetched the host's 127.0.0.1 page via 192.168.127.254: {steps.get('vsock.http')}")
        for name in ("ipv6.slaac", "ipv6.ping", "ipv6.fetch"):
            e2e.check(steps.get(name, ("missing",))[0] == "PASS", f"IPv6 over the relayed TAP, {name}: {steps.get(name)}")
        e2e.check(result is not None and result.startswith("USERNET-RESULT PASS"), f"guest: {result}")
    return e2e.result()


def build_guest_with_forwarder(work, forwarder, script):
    """The test guest plus usernet-forwarder and the udhcpc hook at Debian busybox's default path,
    /etc/udhcpc/default.script
    (the forwarder runs `udhcpc -f -q -i tap0 -v` like gvforwarder)."""
    path = work("vsock_mission.sh")
    with open(path, "w") as f:
        f.write(". /usernet/lib.sh\n" + script)
    out = work("guest")
    subprocess.run([os.path.join(e2e.SOURCE, "tools", "make-guest.sh"),
                    "--add", forwarder + ":/usr/bin/usernet-forwarder",
                    "--add", os.path.join(e2e.SOURCE, "tools", "guest", "udhcpc.script") +
                    ":/etc/udhcpc/default.script",
                    "--test", path, out], check=True, stdout=subprocess.DEVNULL)
    return os.path.join(out, "vmlinux"), os.path.join(out, "initramfs.cpio.gz")


if __name__ == "__main__":
    sys.exit(main())
