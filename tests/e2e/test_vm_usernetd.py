#!/usr/bin/env python3
"""End-to-end: the test guest attached to a separately started usernetd through vfkit's
unixSocketPath (usernet-vm binds its own unixgram socket, connects it to usernetd's
--listen-vfkit socket, sends "VFKT" and hands the socket to QEMU's -netdev dgram).

In a private network namespace: usernetd with --listen-vfkit and a --dns-upstream on
127.0.0.1; the guest gets its lease from usernetd, resolves a name through that upstream
and fetches a page from the namespace's 127.0.0.1 through 192.168.127.254, and over IPv6
(SLAAC) one from its ::1 through fd00::254. Then the
guest waits, and SIGTERM to usernet-vm presses its power button (QMP system_powerdown):
the guest powers off and usernet-vm exits 0. A second boot uses krunkit's form
`type=unixgram,path=P,vfkitMagic=off` (no handshake: usernetd learns the peer from the
first frame) and only needs its lease.
"""
import os
import signal
import subprocess
import tempfile

from vm_harness import (USERNETD, DnsServer, HttpServer, Vm, build_guest, enter_private_netns, fail,
                        guest_cmdline, start_usernetd_vfkit)

NAME, ADDRESS = "db.usernet-e2e.test", "203.0.113.9"


def main():
    enter_private_netns()
    help_text = subprocess.run([USERNETD, "--help"], capture_output=True, text=True).stdout
    if "--listen-vfkit" not in help_text:
        fail("usernetd has no --listen-vfkit")
    with tempfile.TemporaryDirectory(prefix="usernet-vm-gv-") as work:
        guest = build_guest()
        marker = "usernetd-page-%d" % os.getpid()
        page = HttpServer(marker + "\n")
        page6 = HttpServer(marker + "\n", "::1")
        dns = DnsServer({NAME: ADDRESS})
        socket_path = os.path.join(work, "usernetd.sock")
        daemon = start_usernetd_vfkit(socket_path, "--dns-upstream", "127.0.0.1:%d" % dns.port,
                                      "--dns-search", "e2e.test")
        try:
            args = {"dns_name": NAME, "dns_expect": ADDRESS,
                    "http_url": "http://192.168.127.254:%d/" % page.port, "http_expect": marker,
                    "ipv6_port": page6.port}
            vm = Vm(guest, guest_cmdline(["dns", "http", "ipv6"], args, end="wait"),
                    ["virtio-net,mac=5a:94:ef:e4:0c:ee,unixSocketPath=" + socket_path])
            try:
                vm.wait_for(r"^USERNET-WAITING")
                vm.signal(signal.SIGTERM)
                code = vm.finish()
            finally:
                vm.kill()
            if "USERNET-POWERDOWN" not in vm.text():
                fail("SIGTERM did not power the guest down\n" + vm.report())
            vm.expect_steps({
                "dhcp": r"^ip=192\.168\.127\.2/24 router=192\.168\.127\.1 dns=192\.168\.127\.1 ",
                "dns.answer": "=" + ADDRESS.replace(".", r"\.") + "$",
                "http.fetch": r"bytes=\d+",
                "ipv6.slaac": r"^address=fd00:",
                "ipv6.fetch": r"bytes=\d+",
            })
            if "USERNET-RESULT PASS" not in vm.text() or code != 0:
                fail("guest run failed (exit %d)\n%s" % (code, vm.report()))
            vm = Vm(guest, guest_cmdline([], {}),
                    ["virtio-net,mac=5a:94:ef:e4:0c:ee,type=unixgram,path=%s,vfkitMagic=off" % socket_path])
            vm.wait_for(r"^USERNET-RESULT")
            code = vm.finish()
            vm.expect_steps({"dhcp": r"^ip=192\.168\.127\.2/24 router=192\.168\.127\.1 "})
            if code != 0:
                fail("type=unixgram run: exit %d\n%s" % (code, vm.report()))
            leftovers = [n for n in os.listdir(work) if n.startswith("usernet-vm-")]
            if leftovers:
                fail("usernet-vm left its local sockets behind: %r" % leftovers)
        finally:
            daemon.terminate()
            daemon.wait(timeout=10)
    print("PASS: guest on a separate usernetd through unixSocketPath: lease, DNS, HTTP; "
          "SIGTERM powered it down, exit 0; type=unixgram,vfkitMagic=off got its lease")


if __name__ == "__main__":
    main()
