#!/usr/bin/env python3
"""End-to-end: `--device virtio-net,fd=N` (vfkit semantics: a connected SOCK_DGRAM socket
inherited from the parent process).

In a private network namespace: usernetd with --listen-vfkit, its own subnet
(10.0.99.0/24, so a lease from it cannot be mistaken for one from usernet-vm's embedded
network) and a --dns-upstream on 127.0.0.1. The test itself does what vfkit's caller does: a unix datagram socket bound to
a temporary path, connected to usernetd's socket, "VFKT" sent, then handed to usernet-vm
as fd=N (pass_fds). The guest gets its lease from usernetd, resolves a name and fetches a
page from the namespace's 127.0.0.1 through 10.0.99.254; usernet-vm exits 0.
Two runs: N = the socket's own number, and N = 3 as the guest's eth0 followed by an
embedded-network NIC (QEMU's inherited descriptors start at 3, so the two must not be
mixed up). A descriptor that is not a
datagram socket is refused before QEMU starts (exit 2).
"""
import os
import socket
import tempfile

from vm_harness import (DnsServer, HttpServer, Vm, build_guest, enter_private_netns, fail, guest_cmdline,
                        start_usernetd_vfkit)

NAME, ADDRESS = "fd.usernet-e2e.test", "203.0.113.13"
MAC = "5a:94:ef:e4:0c:ee"


def vfkit_socket(work, daemon_path, index):
    """A unixgram socket bound in work, connected to usernetd, "VFKT" sent (vfkit's hand-off)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(os.path.join(work, "client-%d.sock" % index))
    sock.connect(daemon_path)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.send(b"VFKT")
    return sock


def expect_usernetd_network(vm, code, what):
    """The guest's eth0 got its lease from usernetd (its subnet), resolved and fetched."""
    vm.expect_steps({
        "dhcp": r"^ip=10\.0\.99\.\d+/24 router=10\.0\.99\.1 dns=10\.0\.99\.1 ",
        "dns.answer": "=" + ADDRESS.replace(".", r"\.") + "$",
        "http.fetch": r"bytes=\d+",
    })
    if "USERNET-RESULT PASS" not in vm.text() or code != 0:
        fail("%s: guest failed or usernet-vm exited %d\n%s" % (what, code, vm.report()))


def guest_run(guest, tests, args, devices, fd_map):
    vm = Vm(guest, guest_cmdline(tests, args), devices, fd_map=fd_map)
    try:
        vm.wait_for(r"^USERNET-RESULT")
        code = vm.finish()
    finally:
        vm.kill()
    return vm, code


def main():
    enter_private_netns()
    with tempfile.TemporaryDirectory(prefix="usernet-vm-fd-") as work:
        guest = build_guest()
        marker = "fd-page-%d" % os.getpid()
        page = HttpServer(marker + "\n")
        dns = DnsServer({NAME: ADDRESS})
        daemon_path = os.path.join(work, "usernetd.sock")
        daemon = start_usernetd_vfkit(daemon_path, "--subnet", "10.0.99.0/24",
                                      "--dns-upstream", "127.0.0.1:%d" % dns.port)
        try:
            args = {"dns_name": NAME, "dns_expect": ADDRESS,
                    "http_url": "http://10.0.99.254:%d/" % page.port, "http_expect": marker}

            # 1. fd=N with N the socket's own descriptor number.
            sock = vfkit_socket(work, daemon_path, 1)
            n = sock.fileno()
            vm, code = guest_run(guest, ["dns", "http"], args, ["virtio-net,mac=%s,fd=%d" % (MAC, n)], {n: n})
            sock.close()
            expect_usernetd_network(vm, code, "fd=%d" % n)
            print("PASS: fd=N to a separate usernetd: lease, DNS via upstream, HTTP via host alias, exit 0",
                  flush=True)

            # 2. fd=3 as eth0, with an embedded-network NIC after it.
            sock = vfkit_socket(work, daemon_path, 2)
            vm, code = guest_run(guest, ["dns", "http"], args,
                                 ["virtio-net,mac=%s,fd=3" % MAC, "virtio-net,mac=5a:94:ef:e4:0c:01"],
                                 {3: sock.fileno()})
            sock.close()
            expect_usernetd_network(vm, code, "fd=3 beside an embedded NIC")
            if vm.steps()["virtio"][1].count("virtio_net") != 2:
                fail("expected two virtio-net devices\n" + vm.report())
            print("PASS: fd=3 as eth0 next to an embedded-network NIC: lease from usernetd, DNS, HTTP, exit 0",
                  flush=True)

            # 3. A descriptor that is not a datagram socket is refused before QEMU starts.
            with open(os.devnull) as not_a_socket:
                n = not_a_socket.fileno()
                vm = Vm(guest, guest_cmdline([], {}), ["virtio-net,fd=%d" % n], pass_fds=(n,))
                code = vm.finish()
            log = vm.log.decode(errors="replace")
            if code != 2 or "fd=%d" % n not in log or "qemu:" in log:
                fail("fd=N of a character device: exit %d\n%s" % (code, vm.report()))
            print("PASS: fd=N that is not a datagram socket: exit 2 before QEMU starts", flush=True)
        finally:
            daemon.terminate()
            daemon.wait(timeout=10)


if __name__ == "__main__":
    main()
