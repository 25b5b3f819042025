"""Test peers for usernet integration tests: servers (host side) and clients (guest side).

Run as `python3 peer.py MODE ARGS...` inside a namespace. Servers print "ready" and
serve until killed; clients print one result line (JSON) and exit 0 on success.
"""
import hashlib
import json
import os
import random
import socket
import sys
import threading
import time

CHUNK = 1 << 20
# Servers listen on 127.0.0.1 unless PEER_BIND names another address (e.g. "::1").
BIND = os.environ.get("PEER_BIND", "127.0.0.1")


def family_of(address):
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def serve_tcp(port, handler):
    server = socket.socket(family_of(BIND))
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((BIND, port))
    server.listen(512)
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=handler, args=(conn,), daemon=True).start()


def sink_handler(conn):
    """Reads to EOF, answers with the byte count and SHA-256 of what arrived."""
    digest, total = hashlib.sha256(), 0
    while True:
        data = conn.recv(CHUNK)
        if not data:
            break
        digest.update(data)
        total += len(data)
    conn.sendall(json.dumps({"bytes": total, "sha256": digest.hexdigest()}).encode())
    conn.close()


def seeded_stream(seed, size):
    """The same pseudo-random bytes on both ends, so the receiver can check them."""
    rng, left = random.Random(seed), size
    while left:
        block = rng.randbytes(min(CHUNK, left))
        left -= len(block)
        yield block


def source_handler(conn):
    """Reads "SIZE SEED\n", sends SIZE seeded bytes, then closes its write side."""
    request = b""
    while not request.endswith(b"\n"):
        data = conn.recv(64)
        if not data:
            return
        request += data
    size, seed = (int(x) for x in request.split())
    for block in seeded_stream(seed, size):
        conn.sendall(block)
    conn.shutdown(socket.SHUT_WR)
    conn.close()


def hello_handler(conn):
    """Says hi and closes first (the server-closes-first pattern of HTTP/1.0)."""
    conn.sendall(b"hi")
    conn.close()


def echo_handler(conn):
    while True:
        data = conn.recv(65536)
        if not data:
            break
        conn.sendall(data)
    conn.close()


def serve_udp_echo(port):
    sock = socket.socket(family_of(BIND), socket.SOCK_DGRAM)
    sock.bind((BIND, port))
    print("ready", flush=True)
    while True:
        data, addr = sock.recvfrom(65535)
        sock.sendto(data, addr)


def client_upload(host, port, size):
    sock = socket.create_connection((host, port), timeout=60)
    digest, left = hashlib.sha256(), size
    while left:
        block = os.urandom(min(CHUNK, left))
        digest.update(block)
        sock.sendall(block)
        left -= len(block)
    sock.shutdown(socket.SHUT_WR)  # half-close: the server still answers
    answer = b""
    while True:
        data = sock.recv(4096)
        if not data:
            break
        answer += data
    remote = json.loads(answer)
    print(json.dumps({"sent": size, "sha256": digest.hexdigest(), "remote": remote}))


def client_download(host, port, size):
    seed = random.randrange(1 << 30)
    sock = socket.create_connection((host, port), timeout=60)
    sock.sendall(f"{size} {seed}\n".encode())
    digest, total = hashlib.sha256(), 0
    while True:
        data = sock.recv(CHUNK)
        if not data:
            break
        digest.update(data)
        total += len(data)
    sock.close()
    expected = hashlib.sha256()
    for block in seeded_stream(seed, size):
        expected.update(block)
    print(json.dumps({"bytes": total, "sha256": digest.hexdigest(), "expected": expected.hexdigest()}))


def client_connect(host, port):
    """Reports how a connect ends: ok, or the errno name, and how long it took."""
    start = time.monotonic()
    sock = socket.socket(family_of(host))
    sock.settimeout(30)
    try:
        sock.connect((host, port))
        outcome = "ok"
    except OSError as e:
        outcome = {111: "ECONNREFUSED", 113: "EHOSTUNREACH", 101: "ENETUNREACH", 104: "ECONNRESET"}.get(
            e.errno, str(e.errno)) if e.errno else "timeout"
    print(json.dumps({"outcome": outcome, "seconds": time.monotonic() - start}))


def client_udp(host, port, count):
    sock = socket.socket(family_of(host), socket.SOCK_DGRAM)
    sock.settimeout(2)
    sock.connect((host, port))
    ok = 0
    for i in range(count):
        payload = os.urandom(16 + i * 97 % 1400)
        sock.send(payload)
        try:
            if sock.recv(65535) == payload:
                ok += 1
        except socket.timeout:
            pass
    print(json.dumps({"sent": count, "echoed": ok, "local_port": sock.getsockname()[1]}))


def client_parallel(host, port, count):
    """Opens `count` connections at once; each echoes 4 KiB; reports how many completed."""
    results = []
    lock = threading.Lock()

    def one():
        try:
            sock = socket.create_connection((host, port), timeout=30)
            payload = os.urandom(4096)
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            got = b""
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                got += data
            sock.close()
            ok = got == payload
        except OSError:
            ok = False
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"opened": count, "completed": sum(results)}))


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "tcp-sink":
        serve_tcp(int(args[0]), sink_handler)
    elif mode == "tcp-source":
        serve_tcp(int(args[0]), source_handler)
    elif mode == "tcp-hello":
        serve_tcp(int(args[0]), hello_handler)
    elif mode == "tcp-echo":
        serve_tcp(int(args[0]), echo_handler)
    elif mode == "udp-echo":
        serve_udp_echo(int(args[0]))
    elif mode == "upload":
        client_upload(args[0], int(args[1]), int(args[2]))
    elif mode == "download":
        client_download(args[0], int(args[1]), int(args[2]))
    elif mode == "connect":
        client_connect(args[0], int(args[1]))
    elif mode == "udp":
        client_udp(args[0], int(args[1]), int(args[2]))
    elif mode == "parallel":
        client_parallel(args[0], int(args[1]), int(args[2]))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
