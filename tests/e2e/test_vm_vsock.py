#!/usr/bin/env python3
"""End-to-end: usernet-vm's `--device virtio-vsock,port=N,socketURL=P[,listen|connect]`
through its embedded vhost-user-vsock backend, with the real test guest under QEMU/TCG.

- --ignition FILE (vfkit's): the guest's HTTP GET to vsock port 1024 returns the file.
- listen (guest -> host): the guest's usernet-forwarder dials vsock://2:1025/connect;
  port 1025 maps to the unix socket of a separately started usernetd (`--listen unix://...`). The guest's TAP gets a DHCP lease and fetches a page
  from the test's 127.0.0.1 through 192.168.127.254.
- listen, bytes: the guest connects to port 1030 and echoes; the test's unix server behind
  that socketURL sends 1 MiB, half-closes and must read the same bytes back.
- a guest connection to a port with no mapping is refused (the guest sees a reset).
- connect (host -> guest): the guest listens on vsock port 2000; a host client of the
  socketURL reaches it directly (no CONNECT/OK lines: the first bytes back are the echo)
  and 1 MiB is echoed; a client of a `connect` socket whose guest port has no listener is
  closed promptly.
- when the guest powers off, usernet-vm exits 0 and removes the sockets it listened on,
  but not the one it only dialled.

Runs in a private network namespace (only a loopback): usernetd's NAT can reach nothing
but the test's own 127.0.0.1. Needs a statically linked usernet-forwarder (release build
or $USERNET_FORWARDER), skipped otherwise.
"""
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

from vm_harness import BUILD, SOURCE, USERNETD, HttpServer, Vm, enter_private_netns, fail, guest_cmdline
from test_vsock_forwarder import find_forwarder

MARKER = "usernet-vm-vsock-marker"
ECHO_BYTES = 1 << 20
GUEST_SCRIPTS = {
    # Ignition's fetch: an HTTP GET to the host's vsock port 1024.
    "vm_vsock_ignition": (
        "printf 'GET /config.ign HTTP/1.1\\r\\nHost: vsock\\r\\n\\r\\n' | vsock-echo request 1024 "
        ">/run/usernet/ignition.http || exit 1\n"
        "grep -q \"HTTP/1.1 200\" /run/usernet/ignition.http || { cat /run/usernet/ignition.http; exit 1; }\n"
        "grep -q \"$USERNET_ARG_ignition_marker\" /run/usernet/ignition.http || exit 1\n"
        "step vsock.ignition PASS \"$(wc -c </run/usernet/ignition.http) bytes\"\n"),
    # The guest connects to host port 1030 (listen) and echoes until the host half-closes.
    "vm_vsock_echo": "vsock-echo connect-echo 1030 || exit 1\nstep vsock.echo PASS\n",
    # No virtio-vsock device maps port 3333: the connect must fail.
    "vm_vsock_unmapped": (
        "if vsock-echo connect-echo 3333 2>/run/usernet/unmapped.err; then exit 1; fi\n"
        "step vsock.unmapped PASS \"$(cat /run/usernet/unmapped.err)\"\n"),
}


def build_guest(forwarder):
    """The test guest with vsock-echo, usernet-forwarder (+ its udhcpc hook) and the scripts
    above, in a fixed build-tree directory so make-guest.sh's cache hits on reruns."""
    outdir = os.path.join(BUILD, "e2e-vm-vsock-guest")
    os.makedirs(outdir, exist_ok=True)
    args = [os.path.join(SOURCE, "tools", "make-guest.sh"),
            "--add", os.path.join(BUILD, "tools", "vsock-echo"),
            "--add", forwarder + ":/usr/bin/usernet-forwarder",
            "--add", os.path.join(SOURCE, "tools", "guest", "udhcpc.script") + ":/etc/udhcpc/default.script"]
    for name, body in GUEST_SCRIPTS.items():
        path = os.path.join(outdir, name + ".sh")
        text = ". /usernet/lib.sh\n" + body
        if not os.path.exists(path) or open(path).read() != text:
            with open(path, "w") as f:
                f.write(text)
        args += ["--test", path]
    subprocess.run(args + [outdir], check=True, stdout=subprocess.DEVNULL)
    return outdir


def exchange(sock, payload):
    """Sends payload (then half-closes) while reading to the end; returns what came back."""
    received = []

    def reader():
        while True:
            data = sock.recv(1 << 16)
            if not data:
                return
            received.append(data)

    thread = threading.Thread(target=reader)
    thread.start()
    sock.sendall(payload)
    sock.shutdown(socket.SHUT_WR)
    thread.join(120)
    return b"".join(received)


def serve_echo_check(listener, result):
    """The host service behind the listen socket: one guest connection, 1 MiB round trip."""
    try:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(120)
            payload = os.urandom(ECHO_BYTES)
            back = exchange(conn, payload)
            result["ok"] = hashlib.sha256(back).digest() == hashlib.sha256(payload).digest()
            result["bytes"] = len(back)
    except OSError as e:
        result["error"] = str(e)


def wait_for_path(path, process, timeout=10):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if process.poll() is not None or time.monotonic() > deadline:
            fail("%s did not appear (process exit %s)" % (path, process.poll()))
        time.sleep(0.02)


def main():
    enter_private_netns()
    forwarder = find_forwarder()
    guest = build_guest(forwarder)
    page = HttpServer(MARKER)
    with tempfile.TemporaryDirectory(prefix="usernet-vm-vsock-") as work:
        net_socket = os.path.join(work, "usernetd.sock")
        echo_socket = os.path.join(work, "echo.sock")
        guest_socket = os.path.join(work, "guest-2000.sock")
        silent_socket = os.path.join(work, "guest-2001.sock")
        with open(os.path.join(work, "usernetd.log"), "w") as log:
            daemon = subprocess.Popen([USERNETD, "--listen", "unix://" + net_socket], stdout=log, stderr=log)
        try:
            wait_for_path(net_socket, daemon)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(echo_socket)
            listener.listen(1)
            listener.settimeout(300)
            echo_result = {}
            threading.Thread(target=serve_echo_check, args=(listener, echo_result), daemon=True).start()

            ignition_marker = "ignition-%d" % os.getpid()
            ignition = os.path.join(work, "config.ign")
            with open(ignition, "w") as f:
                f.write('{"ignition": {"version": "3.4.0"}, "marker": "%s"}\n' % ignition_marker)
            cmdline = guest_cmdline(["vm_vsock_ignition", "forwarder", "http", "vm_vsock_echo", "vm_vsock_unmapped",
                                     "vsock-listen"],
                                    {"http_url": "http://192.168.127.254:%d/" % page.port, "http_expect": MARKER,
                                     "vsock_listen_port": "2000", "forwarder_url": "vsock://2:1025/connect",
                                     "ignition_marker": ignition_marker})
            cmdline += " usernet.dhcp=off usernet.timeout=120"
            vm = Vm(guest, cmdline, [
                "virtio-vsock,port=1025,socketURL=%s" % net_socket,
                "virtio-vsock,port=1030,socketURL=unix://%s,listen" % echo_socket,
                "virtio-vsock,port=2000,socketURL=%s,connect" % guest_socket,
                "virtio-vsock,port=2001,socketURL=%s,connect" % silent_socket,
            ], ["--ignition", ignition], memory=256)
            try:
                run_connect_checks(vm, guest_socket, silent_socket)
                vm.wait_for(r"^USERNET-RESULT [^\n]*\n", timeout=300)  # the whole line
                vm.expect_steps({
                    "vsock.ignition": r"^\d+ bytes$",
                    "forwarder.lease": r"^192\.168\.127\.\d+/24$",
                    "http.fetch": r"bytes=\d+",
                    "vsock.echo": "",
                    "vsock.unmapped": "",
                    "vsock.served": r"echoed %d bytes" % ECHO_BYTES,
                })
                if "USERNET-RESULT PASS" not in vm.text():
                    fail("guest result not PASS\n" + vm.report())
                status = vm.finish()
            finally:
                vm.kill()
            if status != 0:
                fail("usernet-vm exited %d after the guest powered off\n%s" % (status, vm.report()))
            if not echo_result.get("ok"):
                fail("listen echo through port 1030: %r\n%s" % (echo_result, vm.report()))
            for path in (guest_socket, silent_socket):
                if os.path.exists(path):
                    fail("usernet-vm left its connect socket %s behind" % path)
            if not os.path.exists(echo_socket):
                fail("usernet-vm removed %s, a socket it only dialled" % echo_socket)
        finally:
            daemon.terminate()
            daemon.wait(10)
    print("PASS: --ignition over vsock 1024, forwarder over embedded vsock (lease + HTTP), listen and connect echo of %d bytes each, "
          "unmapped and unanswered ports refused, sockets cleaned up" % ECHO_BYTES)


def run_connect_checks(vm, guest_socket, silent_socket):
    """Host -> guest: once the guest listens on 2000, 1 MiB round trip through its socketURL;
    the 2001 socket (no guest listener) must close without data."""
    vm.wait_for(r"^USERNET-STEP vsock\.listening PASS", timeout=300)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.settimeout(20)
        silent.connect(silent_socket)
        try:
            data = silent.recv(100)
        except ConnectionResetError:
            data = b""
        except socket.timeout:
            fail("a client of the port-2001 socket (no guest listener) was not closed within 20 s")
        if data:
            fail("the port-2001 socket (no guest listener) sent %r" % data)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(120)
        client.connect(guest_socket)
        payload = os.urandom(ECHO_BYTES)
        back = exchange(client, payload)
        if back != payload:
            fail("connect echo through port 2000: sent %d bytes, got %d back (first %r)\n%s"
                 % (len(payload), len(back), back[:20], vm.report()))


if __name__ == "__main__":
    sys.exit(main())
