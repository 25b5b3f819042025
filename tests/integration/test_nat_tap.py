"""usernetd --tap: a guest namespace whose only interface is usernetd's TAP, with the real
Linux TCP/IP stack as the guest, reaches servers on the host namespace's 127.0.0.1."""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import GATEWAY, HOST_ALIAS, NOBODY  # noqa: E402

MIB = 1 << 20


class NatOverTap(harness.UsernetdTestCase):
    @classmethod
    def setUpClass(cls):
        cls.net = harness.Network()
        cls.start_servers(cls.net)
        cls.pid_file = os.path.join(cls.net.scratch(), "usernetd.pid")
        cls.usernetd = cls.net.start_usernetd("--pid-file", cls.pid_file)

    @staticmethod
    def start_servers(net):
        """The host-side servers every test of this class uses (also the forwarder test's)."""
        net.start(net.host, ["python3", "-m", "http.server", "8080", "--bind", "127.0.0.1",
                             "--directory", harness.SOURCE_DIR], log_name="http")
        net.start_peer(net.host, "tcp-sink", "9001")
        net.start_peer(net.host, "tcp-source", "9002")
        net.start_peer(net.host, "tcp-echo", "9003")
        net.start_peer(net.host, "udp-echo", "9004")
        net.start_peer(net.host, "tcp-hello", "9005")

    def test_http_get_from_host_loopback_via_host_alias(self):
        out = self.net.guest.run(["curl", "-sS", "-m", "10", f"http://{HOST_ALIAS}:8080/README.md"]).stdout
        with open(os.path.join(harness.SOURCE_DIR, "README.md")) as f:
            self.assertEqual(out, f.read())

    def test_upload_64mib_arrives_intact(self):
        harness.check_upload(self, self.net, HOST_ALIAS, 9001, 64 * MIB)

    def test_download_64mib_arrives_intact(self):
        harness.check_download(self, self.net, HOST_ALIAS, 9002, 64 * MIB)

    def test_closed_host_port_is_refused_within_a_second(self):
        result = self.peer("connect", HOST_ALIAS, "9999")
        self.assertEqual(result["outcome"], "ECONNREFUSED")
        self.assertLess(result["seconds"], 1.0)

    def test_unreachable_destination_reports_host_unreachable(self):
        result = self.peer("connect", NOBODY, "80")
        self.assertEqual(result["outcome"], "EHOSTUNREACH")

    def test_udp_echo(self):
        result = self.peer("udp", HOST_ALIAS, "9004", "50")
        self.assertEqual(result["echoed"], 50)

    def test_udp_to_closed_port_gets_port_unreachable(self):
        out = self.net.guest.run([sys.executable, "-c", f"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.connect(("{HOST_ALIAS}", 9998)); s.send(b"x")
try:
    s.recv(10); print("answer")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
"""]).stdout.strip()
        self.assertEqual(out, "refused")

    def test_ping_gateway_and_host_alias(self):
        for address in (GATEWAY, HOST_ALIAS):
            result = self.net.guest.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", address], check=False)
            self.assertEqual(result.returncode, 0, f"ping {address}: {result.stdout}")
            self.assertIn("3 received", result.stdout)

    def test_ping_of_silent_address_gets_no_reply(self):
        result = self.net.guest.run(["ping", "-c", "2", "-W", "1", NOBODY], check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(" 0 received", result.stdout)

    def test_link_local_is_refused(self):
        result = self.peer("connect", "169.254.169.254", "80")
        self.assertEqual(result["outcome"], "ECONNREFUSED")  # policy refusal answers with RST

    def test_200_parallel_connections_complete(self):
        result = self.peer("parallel", HOST_ALIAS, "9003", "200")
        self.assertEqual(result["completed"], 200)

    def test_reused_source_port_after_server_closed_first(self):
        # The host server closes first, so lwIP's side of each flow ends in TIME_WAIT; a
        # guest reusing the same source port at once must still get a new connection.
        out = self.net.guest.run([sys.executable, "-c", f"""
import socket, time
done = 0
for i in range(5):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(3); s.bind(("0.0.0.0", 40123))
    s.connect(("{HOST_ALIAS}", 9005))
    data = b""
    while chunk := s.recv(10):  # read to EOF: the server closes first, the guest second
        data += chunk
    done += data == b"hi"
    s.close()
    time.sleep(0.1)  # let the guest's own LAST_ACK finish; lwIP's TIME_WAIT lasts seconds
print(done)"""], timeout=60).stdout.strip()
        self.assertEqual(out, "5")

    def test_request_response_carries_the_ack_in_the_answer(self):
        # 200 one-byte request/response round trips: the echo's data frame carries the ACK
        # of each request, so the guest receives about one frame per round trip, not an
        # ACK frame and then a data frame.
        out = self.net.guest.run([sys.executable, "-c", f"""
import socket
def frames():
    return int(open("/sys/class/net/tap0/statistics/rx_packets").read())
s = socket.create_connection(("{HOST_ALIAS}", 9003), timeout=5)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.sendall(b"x"); s.recv(1)
before = frames()
for i in range(200):
    s.sendall(b"x")
    assert s.recv(1) == b"x"
print(frames() - before)"""], timeout=60).stdout.strip()
        self.assertLessEqual(int(out), 260, "frames to the guest for 200 round trips")

    def test_pid_file_names_the_daemon(self):
        with open(self.pid_file) as f:
            self.assertEqual(int(f.read()), self.usernetd.pid)

    def test_fragmented_udp_is_reassembled_and_replies_fragmented(self):
        # 4000-byte datagrams at MTU 1500: the guest kernel fragments, the gateway
        # reassembles; the 4000-byte echo leaves lwIP fragmented too.
        out = self.net.guest.run([sys.executable, "-c", f"""
import os, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.connect(("{HOST_ALIAS}", 9004))
ok = 0
for _ in range(5):
    payload = os.urandom(4000); s.send(payload)
    ok += s.recv(65535) == payload
print(ok)"""]).stdout.strip()
        self.assertEqual(out, "5")

    def test_large_ping_to_gateway_is_reassembled(self):
        result = self.net.guest.run(["ping", "-c", "2", "-s", "6000", "-W", "2", GATEWAY], check=False)
        self.assertIn("2 received", result.stdout)

    def test_gateway_port_without_service_is_closed(self):
        result = self.peer("connect", GATEWAY, "2345")
        self.assertEqual(result["outcome"], "ECONNREFUSED")


class JumboFrames(unittest.TestCase):
    """MTU 65520: 64 KiB frames through the TAP, lwIP and the relays."""

    @classmethod
    def setUpClass(cls):
        cls.net = harness.Network()
        cls.net.start_peer(cls.net.host, "tcp-sink", "9001")
        cls.net.start_peer(cls.net.host, "tcp-source", "9002")
        cls.usernetd = cls.net.start_usernetd("--mtu", "65520")

    @classmethod
    def tearDownClass(cls):
        cls.net.stop(cls.usernetd)
        cls.net.close()

    def test_guest_interface_has_the_mtu(self):
        self.assertIn("mtu 65520", self.net.guest.ip("link", "show", "tap0").stdout)

    def test_upload_and_download_32mib(self):
        harness.check_upload(self, self.net, HOST_ALIAS, 9001, 32 * MIB)
        harness.check_download(self, self.net, HOST_ALIAS, 9002, 32 * MIB)

    def test_large_ping(self):
        result = self.net.guest.run(["ping", "-c", "2", "-s", "60000", "-W", "2", GATEWAY], check=False)
        self.assertIn("2 received", result.stdout)


class MemoryAfterConnections(unittest.TestCase):
    """RSS returns near its starting point once many connections have closed (release
    build: ASan's quarantine keeps freed memory on purpose)."""

    def test_rss_returns_near_start(self):
        release = os.path.join(harness.SOURCE_DIR, "build", "release")
        if not os.path.exists(harness.binary("usernetd", release)):
            self.skipTest("needs the release build (tools/test.sh builds it)")
        net = harness.Network()
        try:
            net.start_peer(net.host, "tcp-echo", "9003")
            proc = net.start_usernetd(build_dir=release)
            json.loads(net.guest_peer("parallel", HOST_ALIAS, "9003", "20"))  # warm up
            time.sleep(1)
            before = harness.rss_kib(proc.pid)
            for _ in range(3):
                result = json.loads(net.guest_peer("parallel", HOST_ALIAS, "9003", "200"))
                self.assertEqual(result["completed"], 200)
            time.sleep(7)  # let the memory trimmer run
            after = harness.rss_kib(proc.pid)
            self.assertLess(after, before + 2048, f"RSS {before} KiB -> {after} KiB")
            self.assertEqual(net.stop(proc), 0)
        finally:
            net.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
