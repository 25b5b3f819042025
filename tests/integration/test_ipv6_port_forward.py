"""Port forwards with IPv6 on either side: host clients on the host namespace's ::1 reach
a guest server over the guest's IPv4 (--forward '[::1]:P=:P'), host clients reach the
guest's SLAAC address (an API expose with remote "[fd00::…]:P"), TCP and UDP. What enters
the guest comes from the gateway's address of the guest side's family (192.168.127.1 or
fd00::1), as for IPv4 forwards."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import GATEWAY  # noqa: E402

GATEWAY6 = "fd00::1"

TCP_CLIENT = """
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
c.sendall(b"x" * 100000 + b"\\n"); print(c.recv(100).decode().strip())"""

UDP_CLIENT = """
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.sendto(b"ping", (sys.argv[1], int(sys.argv[2]))); print(s.recv(100).decode())"""


class Ipv6PortForwards(harness.UsernetdTestCase):
    @classmethod
    def setUpClass(cls):
        cls.net = harness.Network()
        cls.api = os.path.join(cls.net.scratch(), "api.sock")
        cls.usernetd = cls.net.start_usernetd(
            "--services", f"unix://{cls.api}",
            "--forward", "[::1]:18000=:8000",        # IPv6 host side, the guest's IPv4
            "--forward", "udp:[::1]:18001=:8001")
        cls.net.start(cls.net.guest, [sys.executable, harness.FORWARD_TARGET], log_name="guest-server")
        cls.net.wait_for(lambda: "8000" in cls.net.guest.run(["ss", "-ltn"]).stdout, "guest server")
        cls.guest6 = harness.wait_for_slaac(cls.net)

    def host_python(self, code, *args):
        return self.net.host.run([sys.executable, "-c", code, *args], timeout=30).stdout.strip()

    def expose(self, local, remote, protocol="tcp"):
        body = json.dumps({"local": local, "remote": remote, "protocol": protocol})
        return harness.run(["curl", "-s", "--max-time", "5", "--unix-socket", self.api, "-w", "%{http_code}",
                            "-o", "/dev/null", "-d", body, "http://x/services/forwarder/expose"],
                           check=False).stdout

    def test_ipv6_host_side_reaches_the_guest_ipv4(self):
        self.assertEqual(self.host_python(TCP_CLIENT, "::1", "18000"), f"from {GATEWAY} got 100001")
        self.assertEqual(self.host_python(UDP_CLIENT, "::1", "18001"), f"PING via {GATEWAY}")

    def test_ipv6_host_side_is_ipv6_alone(self):
        # "[::1]:P" binds ::1 only: 127.0.0.1:P stays free for someone else.
        out = self.host_python("""
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 18000)); s.listen(); print("bound")""")
        self.assertEqual(out, "bound")

    def test_api_expose_to_the_guest_ipv6_address(self):
        remote = f"[{self.guest6}]"
        self.assertEqual(self.expose("127.0.0.1:18010", remote + ":8000"), "200")
        self.assertEqual(self.expose("[::1]:18011", remote + ":8000"), "200")
        self.assertEqual(self.expose("[::1]:18012", remote + ":8001", "udp"), "200")
        self.assertEqual(self.host_python(TCP_CLIENT, "127.0.0.1", "18010"), f"from {GATEWAY6} got 100001")
        self.assertEqual(self.host_python(TCP_CLIENT, "::1", "18011"), f"from {GATEWAY6} got 100001")
        self.assertEqual(self.host_python(UDP_CLIENT, "::1", "18012"), f"PING via {GATEWAY6}")
        listed = json.loads(harness.run(["curl", "-sf", "--max-time", "5", "--unix-socket", self.api,
                                         "http://x/services/forwarder/all"]).stdout)
        self.assertIn({"local": "[::1]:18011", "remote": f"[{self.guest6}]:8000", "protocol": "tcp"}, listed)

    def test_closed_guest_ipv6_port_resets_the_host_client(self):
        self.assertEqual(self.expose("[::1]:18020", f"[{self.guest6}]:8999"), "200")
        self.assertEqual(harness.connection_outcome(self.net.host, "::1", 18020), "reset")


class Ipv6OffRefusesIpv6GuestSide(unittest.TestCase):
    def test_forward_to_an_ipv6_guest_address_is_a_startup_error(self):
        self.assertIn("IPv6 off", harness.startup_failure("--no-ipv6", "--forward", "127.0.0.1:18030=[fd00::5]:80"))


if __name__ == "__main__":
    unittest.main()
