#!/usr/bin/env python3
"""Benchmark: stream throughput host<->guest under QEMU/TCG through
usernet-vsockd (vhost-user-vsock) beside a virtio-serial port as the reference.

Each direction moves BENCH_BYTES (default 32 MiB; env USERNET_BENCH_MIB) and is timed on
the host from the first to the last byte. The test fails only if bytes go missing; the
numbers are printed (one line per transport and direction)."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vsock_e2e as e2e  # noqa: E402

BENCH_BYTES = int(os.environ.get("USERNET_BENCH_MIB", "32")) << 20
CHUNK = 1 << 20


def receive_timed(conn, expected, result):
    """Reads until `expected` bytes or end of stream; records count and seconds."""
    total, start = 0, None
    while total < expected:
        data = conn.recv(CHUNK)
        if not data:
            break
        if start is None:
            start = time.monotonic()
        total += len(data)
    result.update(bytes=total, seconds=time.monotonic() - (start or time.monotonic()))


def send_timed(conn, count, result, close=True):
    block = bytes(range(256)) * (CHUNK // 256)
    start = time.monotonic()
    sent = 0
    while sent < count:
        conn.sendall(block[: min(CHUNK, count - sent)])
        sent += min(CHUNK, count - sent)
    result.update(bytes=sent, seconds=time.monotonic() - start)
    if close:
        conn.shutdown(socket.SHUT_WR)


def serve_once(listener, action):
    conn, _ = listener.accept()
    with conn:
        action(conn)


def report(name, result):
    mbps = result.get("bytes", 0) / max(result.get("seconds", 0), 1e-9) / 1e6
    print(f"BENCH {name}: {result.get('bytes', 0)} bytes in {result.get('seconds', 0):.2f} s "
          f"= {mbps:.1f} MB/s", flush=True)
    e2e.check(result.get("bytes") == BENCH_BYTES, f"{name}: all {BENCH_BYTES} bytes arrived")


def main():
    e2e.require_qemu()
    n = BENCH_BYTES
    with e2e.Session() as session:
        work = session.work
        find_port = ("port=\n"
                     "for p in /sys/class/virtio-ports/*; do\n"
                     "  [ \"$(cat $p/name 2>/dev/null)\" = bench.0 ] && port=/dev/$(basename $p)\n"
                     "done\n"
                     "[ -n \"$port\" ] || { echo no bench.0 port; exit 1; }\n")
        kernel, initrd = e2e.build_guest(work, {
            "bench_vsock_tx": f"vsock-echo send 7000 {n}\n",
            "bench_vsock_rx": "vsock-echo recv 7001\n",
            "bench_serial_tx": find_port + f"dd if=/dev/zero of=$port bs=65536 count={n // 65536}\n",
            "bench_serial_rx": find_port + "step bench.serial.ready PASS\n"
                               f"head -c {n} $port | wc -c\n",
        })
        vsockd, vhost, uds = e2e.start_vsockd(session)
        results = {k: {} for k in ("vsock guest->host", "vsock host->guest",
                                   "virtio-serial guest->host", "virtio-serial host->guest")}
        tx_listener = e2e.listen_unix(uds + "_7000")
        rx_listener = e2e.listen_unix(uds + "_7001")
        serial_listener = e2e.listen_unix(work("serial.sock"))
        threading.Thread(daemon=True, target=serve_once, args=(
            tx_listener, lambda c: receive_timed(c, n + 1, results["vsock guest->host"]))).start()
        threading.Thread(daemon=True, target=serve_once, args=(
            rx_listener, lambda c: send_timed(c, n, results["vsock host->guest"]))).start()
        guest = e2e.Guest(session, kernel, initrd, vhost,
                          "usernet.test=bench_vsock_tx,bench_vsock_rx,bench_serial_tx,"
                          "bench_serial_rx usernet.timeout=900",
                          ["-device", "virtio-serial-pci",
                           "-chardev", f"socket,id=vp0,path={work('serial.sock')}",
                           "-device", "virtserialport,chardev=vp0,name=bench.0"])
        serial, _ = serial_listener.accept()
        receive_timed(serial, n, results["virtio-serial guest->host"])
        if guest.wait_for("USERNET-STEP bench.serial.ready", 900):
            send_timed(serial, n, results["virtio-serial host->guest"], close=False)
        result = guest.wait_for("USERNET-RESULT", 900)
        serial.close()
        for name, r in results.items():
            report(name, r)
        e2e.check(result is not None and result.startswith("USERNET-RESULT PASS"), f"guest: {result}")
    return e2e.result()


if __name__ == "__main__":
    sys.exit(main())
