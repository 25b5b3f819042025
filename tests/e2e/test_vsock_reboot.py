#!/usr/bin/env python3
"""e2e: a guest reboot (QMP system_reset) under usernet-vsockd. QEMU stops the
vhost-user rings, the device drops the old connections, and the rebooted guest's fresh
driver gets a working vsock again: the same echo test passes on both boots."""
import hashlib
import json
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vsock_e2e as e2e  # noqa: E402

BYTES = 1 << 20


def echo_rounds(listener, rounds, results):
    """Per accepted connection: send BYTES random bytes, read the echo, compare."""
    for _ in range(rounds):
        conn, _ = listener.accept()
        with conn:
            data = os.urandom(BYTES)
            received = bytearray()
            reader = threading.Thread(target=lambda: received.extend(iter_recv(conn)))
            reader.start()
            conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)
            reader.join()
            results.append(hashlib.sha256(data).digest() == hashlib.sha256(received).digest())


def iter_recv(conn):
    while True:
        chunk = conn.recv(1 << 16)
        if not chunk:
            return
        yield from chunk


def qmp(path, command):
    """Runs one QMP command on QEMU's monitor socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    f = s.makefile("rw")
    json.loads(f.readline())  # greeting
    for cmd in ({"execute": "qmp_capabilities"}, {"execute": command}):
        f.write(json.dumps(cmd) + "\n")
        f.flush()
        while "return" not in (reply := json.loads(f.readline())) and "error" not in reply:
            pass  # skip events
    s.close()
    return reply


def main():
    e2e.require_qemu()
    with e2e.Session() as session:
        work = session.work
        kernel, initrd = e2e.build_guest(work, {"vsock_echo": "vsock-echo connect-echo 5000\n"})
        vsockd, vhost, uds = e2e.start_vsockd(session)
        results = []
        server = threading.Thread(target=echo_rounds, daemon=True,
                                  args=(e2e.listen_unix(uds + "_5000"), 2, results))
        server.start()
        monitor = work("qmp.sock")
        guest = e2e.Guest(session, kernel, initrd, vhost, "usernet.test=vsock_echo usernet.end=wait",
                          ["-qmp", f"unix:{monitor},server=on,wait=off"], allow_reboot=True)
        first = guest.wait_for("USERNET-WAITING", 600)
        e2e.check(first is not None, "first boot: echo test done")
        if first:
            e2e.check("return" in qmp(monitor, "system_reset"), "QMP system_reset accepted")
            second = guest.wait_for("USERNET-WAITING", 600, occurrence=2)
            e2e.check(second is not None, "second boot reached the end of its tests")
        server.join(30)
        steps = [line for line in guest.lines if line and line.startswith("USERNET-STEP vsock_echo")]
        e2e.check(steps == ["USERNET-STEP vsock_echo PASS"] * 2, f"echo passed on both boots: {steps}")
        e2e.check(results == [True, True], f"1 MiB echoed intact on both boots: {results}")
        e2e.check(vsockd.poll() is None, "usernet-vsockd kept running across the reboot")
        log = open(work("vsockd.log")).read()
        e2e.check(log.count("queues running") == 2 and "connections reset" in log,
                  "the device stopped and restarted its queues")
    return e2e.result()


if __name__ == "__main__":
    sys.exit(main())
