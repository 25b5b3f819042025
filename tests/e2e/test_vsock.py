#!/usr/bin/env python3
"""e2e: a real Linux guest under QEMU/TCG with vhost-user-vsock-pci served by
usernet-vsockd (hybrid vsock over unix sockets).

- guest connects to host port 5000 and echoes: 64 MiB each way, SHA-256 equal;
- 50 concurrent guest connections to host port 5001, each echoed;
- host client `CONNECT 6000` reaches the guest's listener (OK line first), 1 MiB echoed;
- usernet-vsockd survives the VM's exit and stops cleanly on SIGTERM."""
import hashlib
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vsock_e2e as e2e  # noqa: E402

STREAM_BYTES = 64 << 20
CONNECTIONS = 50
HOST_CONNECT_BYTES = 1 << 20


def pump_and_hash(sock, data_chunks, result):
    """Sends the chunks (then half-closes) while reading everything back; stores the
    SHA-256 of both directions and the byte counts in `result`."""
    sent = hashlib.sha256()
    received = hashlib.sha256()
    counts = {"received": 0}

    def reader():
        while True:
            data = sock.recv(1 << 20)
            if not data:
                break
            received.update(data)
            counts["received"] += len(data)

    t = threading.Thread(target=reader)
    t.start()
    total = 0
    for chunk in data_chunks:
        sock.sendall(chunk)
        sent.update(chunk)
        total += len(chunk)
    sock.shutdown(socket.SHUT_WR)
    t.join()
    result.update(sent=sent.hexdigest(), received=received.hexdigest(), sent_bytes=total,
                  received_bytes=counts["received"])


def random_chunks(total, size=1 << 20):
    for _ in range(total // size):
        yield os.urandom(size)


def stream_server(listener, result):
    conn, _ = listener.accept()
    with conn:
        pump_and_hash(conn, random_chunks(STREAM_BYTES), result)


def echo_server(listener, count, result):
    """Accepts `count` connections and echoes each (one thread per connection)."""
    threads = []
    result["accepted"] = 0

    def serve(conn):
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)

    for _ in range(count):
        conn, _ = listener.accept()
        result["accepted"] += 1
        t = threading.Thread(target=serve, args=(conn,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()


def host_connect(uds, port, result):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(120)
    s.connect(uds)
    s.sendall(f"CONNECT {port}\n".encode())
    line = b""
    while not line.endswith(b"\n"):
        byte = s.recv(1)
        if not byte:
            break
        line += byte
    result["ok_line"] = line.decode(errors="replace")
    pump_and_hash(s, random_chunks(HOST_CONNECT_BYTES, 64 << 10), result)
    s.close()


def main():
    e2e.require_qemu()
    with e2e.Session() as session:
        work = session.work
        kernel, initrd = e2e.build_guest(work, {
            "vsock_stream": "vsock-echo connect-echo 5000\n",
            "vsock_multi": f"vsock-echo multi 5001 {CONNECTIONS}\n",
        })
        vsockd, vhost, uds = e2e.start_vsockd(session)
        stream_listener = e2e.listen_unix(uds + "_5000")
        echo_listener = e2e.listen_unix(uds + "_5001")
        stream_result, echo_result, connect_result = {}, {}, {}
        threads = [threading.Thread(target=stream_server, args=(stream_listener, stream_result)),
                   threading.Thread(target=echo_server,
                                    args=(echo_listener, CONNECTIONS, echo_result))]
        for t in threads:
            t.daemon = True
            t.start()
        guest = e2e.Guest(session, kernel, initrd, vhost,
                          "usernet.test=devices,vsock_stream,vsock_multi,vsock-listen "
                          "usernet.arg.devices=vsock usernet.arg.vsock_listen_port=6000 "
                          "usernet.timeout=600")
        if guest.wait_for("USERNET-STEP vsock.listening", 900):
            host_connect(uds, 6000, connect_result)
        result = guest.wait_for("USERNET-RESULT", 300)
        for t in threads:
            t.join(10)
        steps = guest.steps()
        for name in ("devices", "vsock_stream", "vsock_multi", "vsock-listen"):
            e2e.check(steps.get(name, ("missing",))[0] == "PASS", f"guest step {name}: {steps.get(name)}")
        e2e.check(result is not None and result.startswith("USERNET-RESULT PASS"), f"guest result: {result}")
        e2e.check(stream_result.get("received_bytes") == STREAM_BYTES,
                  f"64 MiB echoed back: {stream_result.get('received_bytes')} bytes")
        e2e.check(stream_result.get("sent") == stream_result.get("received"),
                  "SHA-256 of 64 MiB sent == SHA-256 of the echo")
        e2e.check(echo_result.get("accepted") == CONNECTIONS,
                  f"{CONNECTIONS} concurrent guest connections accepted: {echo_result.get('accepted')}")
        e2e.check(connect_result.get("ok_line", "").startswith("OK "),
                  f"host CONNECT answered: {connect_result.get('ok_line')!r}")
        e2e.check(connect_result.get("received_bytes") == HOST_CONNECT_BYTES and
                  connect_result.get("sent") == connect_result.get("received"),
                  "host CONNECT: 1 MiB echoed by the guest listener, SHA-256 equal")
        guest.proc.wait(60)
        e2e.check(vsockd.poll() is None, "usernet-vsockd still running after the VM exited")
        e2e.check(e2e.stop_process(vsockd) == 0, "usernet-vsockd exits 0 on SIGTERM")
    return e2e.result()


if __name__ == "__main__":
    sys.exit(main())
