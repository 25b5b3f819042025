"""usernetd's frame transports, each spoken by a Python "VM" that exchanges ARP, ICMP and
ICMPv6 (echo to the router's fe80::1) with the gateway: qemu stream (unix and TCP), vfkit datagrams, bess seqpacket, the HTTP
POST /connect endpoint and stdio. Also: two qemu clients reach each other by MAC, one
client leaving does not disturb the other, a 4-byte vfkit datagram is counted and the
next frame still works, and unix socket paths are refused when in use and unlinked on
exit."""
import ctypes
import os
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import GATEWAY  # noqa: E402

GATEWAY_MAC = bytes.fromhex("5a94efe40cdd")
CLONE_NEWNET = 0x40000000


def enter_namespace(path):
    """Moves this thread (the whole test) into a network namespace, for TCP listeners."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
    finally:
        os.close(fd)


def ip_bytes(text):
    return socket.inet_aton(text)


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def arp_frame(op, src_mac, src_ip, dst_mac, target_mac, target_ip):
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, src_mac, ip_bytes(src_ip),
                      target_mac, ip_bytes(target_ip))
    return dst_mac + src_mac + b"\x08\x06" + arp + bytes(18)


def icmp_echo_frame(src_mac, src_ip, dst_mac, dst_ip, ident, seq, payload=b"usernet-ping"):
    icmp = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + payload
    icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), ident, 0, 64, 1, 0,
                         ip_bytes(src_ip), ip_bytes(dst_ip))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return dst_mac + src_mac + b"\x08\x00" + header + icmp


def icmpv6_echo_frame(src_mac, src_ip6, dst_mac, dst_ip6, ident, seq, payload=b"usernet-ping6"):
    src, dst = socket.inet_pton(socket.AF_INET6, src_ip6), socket.inet_pton(socket.AF_INET6, dst_ip6)
    icmp = struct.pack("!BBHHH", 128, 0, 0, ident, seq) + payload
    pseudo = src + dst + struct.pack("!I3xB", len(icmp), 58)
    icmp = icmp[:2] + struct.pack("!H", checksum(pseudo + icmp)) + icmp[4:]
    header = struct.pack("!IHBB", 6 << 28, len(icmp), 58, 64) + src + dst
    return dst_mac + src_mac + b"\x86\xdd" + header + icmp


class Framing:
    """One transport's client side: send(frame), recv(timeout) -> frame or None."""

    def __init__(self, sock, kind):
        self.sock, self.kind, self.buffer = sock, kind, b""

    def send(self, frame):
        if self.kind == "be32":
            self.sock.sendall(struct.pack("!I", len(frame)) + frame)
        elif self.kind == "le16":
            self.sock.sendall(struct.pack("<H", len(frame)) + frame)
        else:
            self.sock.send(frame)

    def recv(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            frame = self._take()
            if frame is not None:
                return frame
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return None
            if self.kind == "message":
                return data
            if not data:
                raise EOFError("transport closed")
            self.buffer += data

    def _take(self):
        size = {"be32": 4, "le16": 2}.get(self.kind)
        if size is None or len(self.buffer) < size:
            return None
        length = struct.unpack("!I" if size == 4 else "<H", self.buffer[:size])[0]
        if len(self.buffer) < size + length:
            return None
        frame, self.buffer = self.buffer[size:size + length], self.buffer[size + length:]
        return frame

    def close(self):
        self.sock.close()


class PipeFraming(Framing):
    """stdio transport: write to usernetd's stdin, read its stdout."""

    def __init__(self, proc):
        super().__init__(None, "le16")
        self.proc = proc
        os.set_blocking(proc.stdout.fileno(), False)

    def send(self, frame):
        self.proc.stdin.write(struct.pack("<H", len(frame)) + frame)
        self.proc.stdin.flush()

    def recv(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            frame = self._take()
            if frame is not None:
                return frame
            if time.monotonic() > deadline:
                return None
            try:
                data = os.read(self.proc.stdout.fileno(), 65536)
            except BlockingIOError:
                time.sleep(0.01)
                continue
            if not data:
                raise EOFError("stdout closed")
            self.buffer += data


class FakeVm:
    """A guest with one MAC/IP that answers ARP for itself and pings the gateway."""

    def __init__(self, framing, mac_suffix, ip):
        self.link = framing
        self.mac = bytes.fromhex("5a94efe40c") + bytes([mac_suffix])
        self.ip = ip

    def expect(self, match, timeout=5.0):
        """Receives frames until one satisfies match(frame); answers ARP on the way."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frame = self.link.recv(deadline - time.monotonic())
            if frame is None:
                break
            if (frame[12:14] == b"\x08\x06" and frame[20:22] == b"\x00\x01"
                    and frame[38:42] == ip_bytes(self.ip)):
                self.link.send(arp_frame(2, self.mac, self.ip, frame[6:12], frame[6:12],
                                         socket.inet_ntoa(frame[28:32])))
            if match(frame):
                return frame
        return None

    def arp_gateway(self):
        """Resolves the gateway's MAC; returns it (or None)."""
        self.link.send(arp_frame(1, self.mac, self.ip, b"\xff" * 6, bytes(6), GATEWAY))
        reply = self.expect(lambda f: f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02"
                            and f[28:32] == ip_bytes(GATEWAY))
        return reply[22:28] if reply else None

    def ping_gateway(self, seq=1):
        ident = 0x4242
        self.link.send(icmp_echo_frame(self.mac, self.ip, GATEWAY_MAC, GATEWAY, ident, seq))
        reply = self.expect(lambda f: f[12:14] == b"\x08\x00" and f[23] == 1 and f[34] == 0
                            and struct.unpack("!HH", f[38:42]) == (ident, seq))
        return reply is not None


    def ping6_router(self, seq=1):
        """ICMPv6 echo from this VM's link-local address to fe80::1 (the gateway's MAC)."""
        ident = 0x6262
        link_local = "fe80::5894:efff:fee4:c%02x" % self.mac[5]
        self.link.send(icmpv6_echo_frame(self.mac, link_local, GATEWAY_MAC, "fe80::1", ident, seq))
        reply = self.expect(lambda f: f[12:14] == b"\x86\xdd" and f[20] == 58 and f[54] == 129
                            and struct.unpack("!HH", f[58:62]) == (ident, seq)
                            and f[38:54] == socket.inet_pton(socket.AF_INET6, link_local))
        return reply is not None


def connect_unix(path, kind=socket.SOCK_STREAM):
    sock = socket.socket(socket.AF_UNIX, kind)
    sock.connect(path)
    return sock


class TransportListeners(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.net = harness.Network()
        cls.dir = tempfile.mkdtemp(prefix="usernet-transports-")
        cls.qemu = os.path.join(cls.dir, "qemu.sock")
        cls.vfkit = os.path.join(cls.dir, "vfkit.sock")
        cls.bess = os.path.join(cls.dir, "bess.sock")
        cls.api = os.path.join(cls.dir, "api.sock")
        # A permissive umask (as a login shell has): the sockets must still be 0600.
        previous_umask = os.umask(0o022)
        # ASan's default 256 MB quarantine of freed memory would hide whether the MAC
        # table's evictions really give memory back (the random-MAC RSS test).
        asan_options = os.environ.get("ASAN_OPTIONS", "")
        os.environ["ASAN_OPTIONS"] = (asan_options + ":" if asan_options else "") + "quarantine_size_mb=16"
        try:
            cls.usernetd = cls.net.start_usernetd(
                "--listen-qemu", f"unix://{cls.qemu}", "--listen-qemu", "tcp://127.0.0.1:7777",
                "--listen-vfkit", f"unixgram://{cls.vfkit}", "--listen-bess", f"unixpacket://{cls.bess}",
                "--listen", f"unix://{cls.api}", tap=False)
        finally:
            os.umask(previous_umask)
            os.environ["ASAN_OPTIONS"] = asan_options
        harness.Network.wait_for(lambda: all(os.path.exists(p) for p in
                                             (cls.qemu, cls.vfkit, cls.bess, cls.api))
                                 or cls.usernetd.poll() is not None, "listener sockets")
        if cls.usernetd.poll() is not None:
            raise RuntimeError("usernetd exited:\n" + cls.net.log_of("usernetd"))
        enter_namespace(cls.net.host.path)

    @classmethod
    def tearDownClass(cls):
        code = cls.net.stop(cls.usernetd)
        leftovers = [p for p in (cls.qemu, cls.vfkit, cls.bess, cls.api) if os.path.exists(p)]
        cls.net.close()
        assert code == 0, f"usernetd exited with {code} on SIGTERM"
        assert not leftovers, f"socket paths not unlinked on exit: {leftovers}"
        os.rmdir(cls.dir)

    def check_vm(self, vm):
        self.assertEqual(vm.arp_gateway(), GATEWAY_MAC)
        self.assertTrue(vm.ping_gateway(1))
        self.assertTrue(vm.ping_gateway(2))
        self.assertTrue(vm.ping6_router(1), "IPv6 over this transport")

    def test_unix_sockets_are_owner_only_under_umask_022(self):
        for path in (self.qemu, self.vfkit, self.bess, self.api):
            mode = stat.S_IMODE(os.stat(path).st_mode)
            self.assertEqual(mode, 0o600, f"{path} has mode {mode:o}")

    def test_qemu_unix(self):
        vm = FakeVm(Framing(connect_unix(self.qemu), "be32"), 0x10, "192.168.127.10")
        self.check_vm(vm)
        vm.link.close()

    def test_qemu_tcp(self):
        vm = FakeVm(Framing(socket.create_connection(("127.0.0.1", 7777)), "be32"), 0x11,
                    "192.168.127.11")
        self.check_vm(vm)
        vm.link.close()

    def test_http_connect_with_frame_pipelined_in_the_request(self):
        sock = connect_unix(self.api)
        mac = bytes.fromhex("5a94efe40c12")
        arp = arp_frame(1, mac, "192.168.127.12", b"\xff" * 6, bytes(6), GATEWAY)
        # The request and the first frame in one write: gvproxy may lose this frame.
        sock.sendall(b"POST /connect HTTP/1.1\r\nHost: \r\nContent-Length: 0\r\n\r\n"
                     + struct.pack("<H", len(arp)) + arp)
        vm = FakeVm(Framing(sock, "le16"), 0x12, "192.168.127.12")
        reply = vm.expect(lambda f: f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02")
        self.assertIsNotNone(reply, "ARP reply to the pipelined request")
        self.assertEqual(reply[22:28], GATEWAY_MAC)
        self.assertTrue(vm.ping_gateway(1))
        vm.link.close()

    def test_http_connect_to_the_socket_path_like_gvforwarder_over_unix(self):
        sock = connect_unix(self.api)
        sock.sendall(f"POST {self.api} HTTP/1.1\r\nHost: \r\n\r\n".encode())
        vm = FakeVm(Framing(sock, "le16"), 0x15, "192.168.127.15")
        self.check_vm(vm)
        vm.link.close()

    def test_http_other_requests_get_404(self):
        sock = connect_unix(self.api)
        sock.sendall(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = b""
        sock.settimeout(5)
        while True:
            data = sock.recv(4096)
            if not data:
                break
            reply += data
        self.assertTrue(reply.startswith(b"HTTP/1.1 404"), reply)
        sock.close()

    def test_bess(self):
        vm = FakeVm(Framing(connect_unix(self.bess, socket.SOCK_SEQPACKET), "message"), 0x13,
                    "192.168.127.13")
        self.check_vm(vm)
        vm.link.close()

    def test_vfkit_handshake_runt_and_frames(self):
        own = os.path.join(self.dir, "vm.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(own)
        sock.connect(self.vfkit)
        sock.send(b"VFKT")
        vm = FakeVm(Framing(sock, "message"), 0x14, "192.168.127.14")
        self.check_vm(vm)
        # A 4-byte datagram after the handshake is a runt: dropped and counted by the
        # switch (the counter is asserted in the unit tests; /stats comes with the API).
        sock.send(b"abcd")
        self.assertTrue(vm.ping_gateway(3), "the frame after a runt still works")
        self.assertEqual(self.usernetd.poll(), None)
        sock.close()
        os.unlink(own)

    def test_two_qemu_clients_reach_each_other_and_survive_a_departure(self):
        a = FakeVm(Framing(connect_unix(self.qemu), "be32"), 0x20, "192.168.127.20")
        b = FakeVm(Framing(connect_unix(self.qemu), "be32"), 0x21, "192.168.127.21")
        self.check_vm(a)
        self.check_vm(b)
        # A resolves B by ARP (flooded) and sends it a frame by MAC.
        a.link.send(arp_frame(1, a.mac, a.ip, b"\xff" * 6, bytes(6), b.ip))
        request = b.expect(lambda f: f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x01"
                           and f[38:42] == ip_bytes(b.ip))
        self.assertIsNotNone(request, "A's ARP request flooded to B (B answered it)")
        reply = a.expect(lambda f: f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02"
                         and f[28:32] == ip_bytes(b.ip))
        self.assertEqual(reply[22:28], b.mac)
        direct = b.mac + a.mac + b"\x88\xb5" + b"hello from A".ljust(46, b".")
        a.link.send(direct)
        self.assertEqual(b.expect(lambda f: f[12:14] == b"\x88\xb5"), direct)
        # A leaves abruptly; B keeps talking to the gateway.
        a.link.close()
        time.sleep(0.2)
        self.check_vm(b)
        b.link.close()

    def test_a_second_port_cannot_take_over_an_active_mac(self):
        owner = FakeVm(Framing(connect_unix(self.qemu), "be32"), 0x23, "192.168.127.23")
        self.check_vm(owner)
        thief = FakeVm(Framing(connect_unix(self.qemu), "be32"), 0x23, "192.168.127.24")
        self.assertIsNone(thief.arp_gateway(), "frames with another port's MAC are dropped")
        self.assertFalse(thief.ping_gateway(1))
        self.check_vm(owner)
        self.assertGreaterEqual(self.metric('usernet_switch_drops_total{reason="mac_taken"}'), 2, "the refused frames are counted")
        owner.link.close()
        thief.link.close()

    def metric(self, name_and_labels):
        api = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        api.connect(self.api)
        api.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        body = b""
        while chunk := api.recv(65536):
            body += chunk
        api.close()
        for line in body.decode().splitlines():
            if line.startswith(name_and_labels + " "):
                return int(float(line.split()[-1]))
        return None

    def test_random_source_macs_keep_the_mac_table_and_memory_bounded(self):
        flood = Framing(connect_unix(self.qemu), "be32")
        pid = harness.usernetd_pid(self.usernetd)
        before = harness.rss_kib(pid)
        payload = b"\x88\xb5" + bytes(46)
        for n in range(200_000):
            source = bytes([0x02]) + os.urandom(5)
            flood.send(b"\x02\x00\x00\x00\xee\xee" + source + payload)
        owner = FakeVm(Framing(connect_unix(self.qemu), "be32"), 0x25, "192.168.127.25")
        self.check_vm(owner)  # the flood has been worked through and switching still works
        grown_kib = harness.rss_kib(pid) - before
        self.assertLessEqual(self.metric("usernet_switch_mac_entries"), 8192)
        self.assertLess(grown_kib, 32 * 1024, f"RSS grew by {grown_kib} KiB")
        flood.close()
        owner.link.close()

    def test_absurd_qemu_length_disconnects_only_that_client(self):
        good = FakeVm(Framing(connect_unix(self.qemu), "be32"), 0x22, "192.168.127.22")
        bad = connect_unix(self.qemu)
        bad.sendall(struct.pack("!I", 0x10000000) + b"junk")
        bad.settimeout(5)
        self.assertEqual(bad.recv(10), b"", "usernetd closes a peer that breaks the framing")
        self.check_vm(good)
        good.link.close()
        bad.close()

    def test_unix_path_in_use_is_refused(self):
        result = self.net.host.run([harness.binary("usernetd"), "--listen-qemu", f"unix://{self.qemu}"],
                                   check=False, timeout=20)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"unix://{self.qemu}", result.stdout + result.stderr)
        self.assertTrue(os.path.exists(self.qemu), "the live socket was left alone")


class StdioTransport(unittest.TestCase):
    def test_stdio_arp_and_ping(self):
        net = harness.Network()
        try:
            proc = net.host.popen([harness.binary("usernetd"), "--listen-stdio"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL)
            net.processes.append(proc)
            vm = FakeVm(PipeFraming(proc), 0x30, "192.168.127.30")
            self.assertEqual(vm.arp_gateway(), GATEWAY_MAC)
            self.assertTrue(vm.ping_gateway(1))
            self.assertTrue(vm.ping6_router(1), "IPv6 over stdio")
            proc.stdin.close()  # EOF on stdin ends the stdio port, not the daemon
            time.sleep(0.2)
            self.assertIsNone(proc.poll())
            self.assertEqual(net.stop(proc), 0)
            proc.stdout.close()
        finally:
            net.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
