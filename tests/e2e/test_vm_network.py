#!/usr/bin/env python3
"""End-to-end: usernet-vm boots the test guest with usernet embedded in the launcher.

Everything runs in a network namespace this test creates (only a loopback). On its
127.0.0.1 the test runs a DNS server (the --dns-upstream) and an HTTP server.

1. stream socketpair (-netdev stream,addr.type=fd): the guest gets its lease from the
   embedded DHCP server, resolves a name through the test's upstream, fetches the page
   through 192.168.127.254, takes a SLAAC address from the router advertisement, pings
   fd00::1 and fd00::254 and fetches a page from the host's ::1 through fd00::254,
   powers off; usernet-vm exits 0.
2. dgram socketpair (-netdev dgram,local.type=fd): the same checks; then the guest
   serves HTTP and waits, a host client reaches it through --forward, and the REST API
   (unix socket) walks Running -> Pause -> Resume -> Stop; Stop powers the guest off.
   A virtio-serial,pty console's ptyName from GET /vm/inspect carries what the guest
   writes to /dev/hvc0.
"""
import os
import re
import select
import tempfile
import time

from vm_harness import (DnsServer, HttpServer, Vm, build_guest, enter_private_netns, fail, free_port,
                        guest_cmdline, http_get, rest)

NAME, ADDRESS = "www.usernet-e2e.test", "203.0.113.7"


def network_args(dns, page_port, page6_port, marker, extra_tests=(), extra_args=None):
    args = {"dns_name": NAME, "dns_expect": ADDRESS,
            "http_url": "http://192.168.127.254:%d/page.txt" % page_port, "http_expect": marker,
            "ipv6_port": page6_port}
    args.update(extra_args or {})
    return ["dns", "http", "ipv6"] + list(extra_tests), args


def expect_network_steps(vm, marker):
    vm.expect_steps({
        "dhcp": r"^ip=192\.168\.127\.2/24 router=192\.168\.127\.1 dns=192\.168\.127\.1 mtu=1500 ",
        "dns.answer": "^%s=%s$" % (NAME.replace(".", r"\."), ADDRESS.replace(".", r"\.")),
        "http.fetch": r"bytes=\d+",
        "ipv6.slaac": r"^address=fd00:",
        "ipv6.fetch": r"bytes=\d+",
    })


def state_of(rest_path):
    status, body = rest("/vm/state", unix_path=rest_path)
    if status != 200:
        fail("GET /vm/state: %d %r" % (status, body))
    return body


def wait_state(rest_path, name, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        body = state_of(rest_path)
        if body["state"] == "VirtualMachineState" + name:
            return body
        if time.monotonic() > deadline:
            fail("state %r, expected %s" % (body, name))
        time.sleep(0.1)


def stream_run(guest, dns, page_port, page6_port, marker):
    tests, args = network_args(dns, page_port, page6_port, marker)
    vm = Vm(guest, guest_cmdline(tests, args), ["virtio-net,mac=5a:94:ef:e4:0c:ee"],
            ["--dns-upstream", "127.0.0.1:%d" % dns.port, "--dns-search", "e2e.test"])
    vm.wait_for(r"^USERNET-RESULT")
    code = vm.finish()
    expect_network_steps(vm, marker)
    if "USERNET-RESULT PASS" not in vm.text():
        fail("guest tests failed\n" + vm.report())
    if code != 0:
        fail("usernet-vm exited %d after the guest powered off\n%s" % (code, vm.report()))
    expect_one_log_format(vm)
    print("PASS: stream socketpair: lease, DNS via upstream, HTTP via host alias, IPv6 SLAAC/ping/HTTP (%.1f s)"
          % (time.monotonic() - vm.started), flush=True)


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} usernet-vm (trace|debug|info|warning|error|critical) ")


def expect_one_log_format(vm):
    """Every component logs through the launcher's logger (so --log-level governs it),
    the NIC's switch port included: one format, no bare "[info] ..." lines."""
    lines = [line for line in vm.log.decode(errors="replace").splitlines() if line.strip()]
    stray = [line for line in lines if not LOG_LINE.match(line)]
    if stray:
        fail("usernet-vm log lines outside its format: %r\n%s" % (stray[:5], vm.report()))
    if not any("virtio-net net0 (stream): connected" in line for line in lines):
        fail("no log line for the NIC's switch port\n%s" % vm.report())


def read_pty_marker(pty, marker, timeout=30):
    """Reads the pty QEMU made for `virtio-serial,pty` until the guest's marker shows up."""
    if not pty or not pty.startswith("/dev/pts/"):
        fail("GET /vm/inspect has no ptyName for virtio-serial,pty: %r" % pty)
    fd = os.open(pty, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        seen, deadline = b"", time.monotonic() + timeout
        while marker.encode() not in seen:
            if time.monotonic() > deadline:
                fail("no %r from the guest's hvc0 on %s within %d s (read %r)" % (marker, pty, timeout, seen[-200:]))
            if select.select([fd], [], [], 0.5)[0]:
                try:
                    seen += os.read(fd, 4096)
                except BlockingIOError:
                    pass
    finally:
        os.close(fd)
    print("PASS: virtio-serial,pty: ptyName %s in /vm/inspect carries the guest's hvc0" % pty, flush=True)


def dgram_run(guest, dns, page_port, page6_port, marker, work):
    forward_port = free_port()
    rest_path = os.path.join(work, "rest.sock")
    serve_marker = "guest-page-%d" % os.getpid()
    console_marker = "console-%d" % os.getpid()
    tests, args = network_args(dns, page_port, page6_port, marker, ["serve-http", "console-marker"],
                               {"serve_marker": serve_marker, "console_marker": console_marker})
    vm = Vm(guest, guest_cmdline(tests, args, end="wait"),
            ["virtio-net,mac=5a:94:ef:e4:0c:ee,transport=dgram", "virtio-serial,pty"],
            ["--dns-upstream", "127.0.0.1:%d" % dns.port, "--dns-search", "e2e.test",
             "--forward", "127.0.0.1:%d=192.168.127.2:80" % forward_port,
             "--restful-uri", "unix://" + rest_path])
    try:
        vm.wait_for(r"^USERNET-WAITING")
        expect_network_steps(vm, marker)
        vm.expect_steps({"serve-http.listening": "port=80"})
        body = http_get(forward_port)
        if body.strip() != serve_marker:
            fail("forwarded GET returned %r, expected %r" % (body, serve_marker))
        print("PASS: dgram socketpair: lease, DNS, HTTP; host reached the guest through --forward", flush=True)

        running = wait_state(rest_path, "Running")
        if not (running["canPause"] and running["canStop"] and not running["canResume"]):
            fail("capabilities while running: %r" % running)
        status, inspect = rest("/vm/inspect", unix_path=rest_path)
        if status != 200 or inspect["devices"][0]["kind"] != "serial" or inspect["memory"] != 128:
            fail("GET /vm/inspect: %d %r" % (status, inspect))
        read_pty_marker(inspect["devices"][2].get("ptyName"), console_marker)
        for change, name in (("Pause", "Paused"), ("Resume", "Running")):
            status, body = rest("/vm/state", "POST", {"state": change}, unix_path=rest_path)
            if status != 202:
                fail("POST %s: %d %r" % (change, status, body))
            wait_state(rest_path, name)
        status, body = rest("/vm/state", "POST", {"state": "Resume"}, unix_path=rest_path)
        if status != 409:
            fail("Resume while running: %d %r (expected 409)" % (status, body))
        # The guest still works after the pause: the forward answers again.
        if http_get(forward_port).strip() != serve_marker:
            fail("forward dead after Pause/Resume")
        status, body = rest("/vm/state", "POST", {"state": "Stop"}, unix_path=rest_path)
        if status != 202:
            fail("POST Stop: %d %r" % (status, body))
        code = vm.finish()
    finally:
        vm.kill()
    if "USERNET-POWERDOWN" not in vm.text():
        fail("Stop did not reach the guest's power button\n" + vm.report())
    if code != 0:
        fail("usernet-vm exited %d after Stop\n%s" % (code, vm.report()))
    if os.path.exists(rest_path):
        fail("REST socket left behind")
    print("PASS: REST Running -> Pause -> Resume -> Stop; guest powered off, exit 0", flush=True)


def main():
    enter_private_netns()
    with tempfile.TemporaryDirectory(prefix="usernet-vm-e2e-") as work:
        guest = build_guest()
        marker = "usernet-page-%d" % os.getpid()
        page = HttpServer(marker + "\n")
        page6 = HttpServer(marker + "\n", "::1")
        dns = DnsServer({NAME: ADDRESS})
        stream_run(guest, dns, page.port, page6.port, marker)
        dgram_run(guest, dns, page.port, page6.port, marker, work)
        if not any(name == NAME for name, _ in dns.queries):
            fail("the DNS upstream never saw %s: %r" % (NAME, dns.queries))


if __name__ == "__main__":
    main()
