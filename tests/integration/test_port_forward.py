"""Port forwarding: host clients in the host namespace reach servers inside the guest
namespace through usernetd --forward (TCP, UDP, unix socket → TCP)."""
import json
import os
import socket
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import GATEWAY, GUEST_IP  # noqa: E402


class PortForwards(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.net = harness.Network()
        cls.sock = tempfile.mktemp(prefix="usernet-fwd-", suffix=".sock")
        cls.usernetd = cls.net.start_usernetd(
            "--forward", "127.0.0.1:18000=192.168.127.2:8000",
            "--forward", "udp::18001=:8001",
            "--forward", f"unix:{cls.sock}=:8000",
            "--forward", "127.0.0.1:18002=:8999")  # nobody listens on guest port 8999
        cls.net.start(cls.net.guest, [sys.executable, harness.FORWARD_TARGET], log_name="guest-server")
        cls.net.wait_for(lambda: "8000" in cls.net.guest.run(["ss", "-ltn"]).stdout, "guest server")

    @classmethod
    def tearDownClass(cls):
        cls.net.stop(cls.usernetd)
        cls.net.close()

    def host_python(self, code):
        return self.net.host.run([sys.executable, "-c", code], timeout=30).stdout.strip()

    def test_tcp_forward_reaches_guest_from_the_gateway_address(self):
        out = self.host_python("""
import socket
c = socket.create_connection(("127.0.0.1", 18000), timeout=10)
c.sendall(b"x" * 100000 + b"\\n"); print(c.recv(100).decode().strip())""")
        self.assertEqual(out, f"from {GATEWAY} got 100001")

    def test_udp_forward_round_trip(self):
        out = self.host_python("""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.sendto(b"ping", ("127.0.0.1", 18001)); print(s.recv(100).decode())""")
        self.assertEqual(out, f"PING via {GATEWAY}")

    def test_unix_socket_forward(self):
        self.assertEqual(os.stat(self.sock).st_mode & 0o777, 0o600)
        out = self.host_python(f"""
import socket
c = socket.socket(socket.AF_UNIX); c.settimeout(10); c.connect({self.sock!r})
c.sendall(b"hello\\n"); print(c.recv(100).decode().strip())""")
        self.assertEqual(out, f"from {GATEWAY} got 6")

    def test_closed_guest_port_resets_the_host_client(self):
        self.assertEqual(harness.connection_outcome(self.net.host, "127.0.0.1", 18002), "reset")

    def test_local_address_in_use_is_a_clear_startup_error(self):
        blocker = self.net.start(self.net.host, [sys.executable, "-c", """
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 18500)); s.listen(); print("ready", flush=True); time.sleep(60)"""])
        self.net.wait_for(lambda: "18500" in self.net.host.run(["ss", "-ltn"]).stdout, "blocker")
        result = self.net.host.run([harness.binary("usernetd"), "--tap", "tapx", "--netns", self.net.guest.path,
                                    "--forward", "127.0.0.1:18500=:80"], check=False, timeout=20)
        blocker.kill()
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("127.0.0.1:18500", result.stderr + result.stdout)
        self.assertIn("Address already in use", result.stderr + result.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
