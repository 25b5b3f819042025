"""usernetd started as `gvproxy` serves the in-guest port publishing podman machine relies
on: the guest's agent is usernet-forwarder in gvforwarder mode, and the guest posts to
http://192.168.127.1/services/forwarder/expose {"local":":P","remote":":80"} as libpod
does. The host then reaches the guest server on 127.0.0.1:P and [::1]:P (":P" is every
address, as Go's net.Listen), /all lists the forward under the name the guest gave with
the guest's address as remote, and after unexpose the port is refused. Static leases are
listed before any DHCP, errors carry gvproxy's statuses, /stats has gvproxy's layout, and
-guest-expose-loopback-only keeps guest forwards on 127.0.0.1."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import GATEWAY, GUEST_IP  # noqa: E402
from test_forwarder import ping_works, start_forwarder  # noqa: E402

GUEST_MAC = "5a:94:ef:e4:0c:ee"

HOST_CLIENT = """
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
    c.sendall(b"hello\\n"); print(c.recv(100).decode().strip())
except OSError as e:
    print(type(e).__name__)
"""


class GuestNetwork:
    """A host namespace running usernetd as gvproxy and a guest whose TAP is relayed by
    usernet-forwarder to gvproxy's -listen socket; the guest runs harness.FORWARD_TARGET."""

    def __init__(self, *gvproxy_flags):
        self.net = harness.Network()
        self.dir = tempfile.mkdtemp(prefix="usernet-gvexpose-")
        self.api = os.path.join(self.dir, "api.sock")
        g = self.net.guest
        g.ip("tuntap", "add", "dev", "tap0", "mode", "tap")
        g.ip("link", "set", "tap0", "address", GUEST_MAC)
        g.ip("addr", "add", f"{GUEST_IP}/24", "dev", "tap0")
        g.ip("link", "set", "tap0", "up")
        g.ip("route", "add", "default", "via", GATEWAY)
        self.net.host.run(["sysctl", "-qw", "net.ipv6.conf.lo.disable_ipv6=0"], check=False)
        self.daemon = self.net.start(
            self.net.host, [harness.binary("gvproxy"), "-listen", f"unix://{self.api}", "-ssh-port", "-1",
                            *gvproxy_flags], log_name="usernetd")
        self.net.wait_for(lambda: os.path.exists(self.api) or self.daemon.poll() is not None, "API socket")
        if self.daemon.poll() is not None:
            raise RuntimeError("gvproxy exited:\n" + self.net.log_of("usernetd"))
        self.forwarder = start_forwarder(self.net, self.api, "-preexisting")
        self.net.start(g, [sys.executable, harness.FORWARD_TARGET], log_name="guest-server")
        self.net.wait_for(lambda: "8000" in g.run(["ss", "-ltn"]).stdout, "guest server")
        self.net.wait_for(lambda: ping_works(g, GATEWAY), "the guest reaches the gateway")

    def close(self):
        self.net.stop(self.forwarder)
        self.net.stop(self.daemon)
        self.net.close()
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def host_api(self, path, body=None):
        """(status, body) of a request on the host's API socket."""
        args = ["curl", "-s", "-m", "10", "-o", "-", "-w", "\n%{http_code}", "--unix-socket", self.api, f"http://x{path}"]
        if body is not None:
            args += ["-X", "POST", "--data-binary", body if isinstance(body, str) else json.dumps(body)]
        text, _, code = harness.run(args).stdout.rpartition("\n")
        return int(code), text

    def guest_api(self, path, body=None):
        """(status, body) of a request from inside the guest to the gateway's port 80."""
        args = ["curl", "-s", "-m", "10", "-o", "-", "-w", "\n%{http_code}", f"http://{GATEWAY}{path}"]
        if body is not None:
            args += ["-X", "POST", "--data-binary", body if isinstance(body, str) else json.dumps(body)]
        text, _, code = self.net.guest.run(args).stdout.rpartition("\n")
        return int(code), text

    def host_connect(self, address, port):
        return self.net.host.run([sys.executable, "-c", HOST_CLIENT, address, str(port)], timeout=30).stdout.strip()

    def listening(self, port):
        return self.net.host.run(["ss", "-Hltn", f"sport = :{port}"]).stdout


class GuestExposeAsGvproxy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.g = GuestNetwork()

    @classmethod
    def tearDownClass(cls):
        cls.g.close()

    def test_static_leases_are_listed_before_dhcp(self):
        for path in ("/leases", "/services/dhcp/leases"):
            status, text = self.g.host_api(path)
            self.assertEqual(status, 200)
            # gvproxy mode is dual stack: the gateway's IPv6 address is listed beside its IPv4 one.
            self.assertEqual(json.loads(text), {GATEWAY: "5a:94:ef:e4:0c:dd", "fd00::1": "5a:94:ef:e4:0c:dd",
                                                GUEST_IP: GUEST_MAC})

    def test_guest_publishes_a_port_on_every_host_address_then_withdraws_it(self):
        g = self.g
        self.assertEqual(g.guest_api("/services/forwarder/expose", {"local": ":18080", "remote": ":8000"}), (200, ""))
        status, text = g.host_api("/services/forwarder/all")
        self.assertEqual(status, 200)
        self.assertIn({"local": ":18080", "remote": f"{GUEST_IP}:8000", "protocol": "tcp"}, json.loads(text))
        self.assertIn("*:18080", g.listening(18080))  # ss shows a dual-stack [::] socket as *
        self.assertEqual(g.host_connect("127.0.0.1", 18080), f"from {GATEWAY} got 6")
        self.assertEqual(g.host_connect("::1", 18080), f"from {GATEWAY} got 6")
        # The same name again is gvproxy's 500; the guest sees only the forwarder routes.
        self.assertEqual(g.guest_api("/services/forwarder/expose", {"local": ":18080", "remote": ":8000"}),
                         (500, "proxy already running for tcp on :18080\n"))
        self.assertEqual(g.guest_api("/stats")[0], 404)
        self.assertEqual(g.guest_api("/services/forwarder/unexpose", {"local": ":18080"}), (200, ""))
        self.assertEqual(g.host_connect("127.0.0.1", 18080), "ConnectionRefusedError")
        self.assertEqual(g.guest_api("/services/forwarder/unexpose", {"local": ":18080"}), (500, "proxy not found\n"))

    def test_udp_publishing_from_the_guest(self):
        g = self.g
        self.assertEqual(g.guest_api("/services/forwarder/expose",
                                     {"local": "127.0.0.1:18081", "remote": ":8001", "protocol": "udp"}), (200, ""))
        reply = g.net.host.run([sys.executable, "-c", (
            "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5);"
            "s.sendto(b'ping', ('127.0.0.1', 18081)); print(s.recv(100).decode())")], timeout=30).stdout.strip()
        self.assertEqual(reply, f"PING via {GATEWAY}")
        self.assertEqual(g.guest_api("/services/forwarder/unexpose", {"local": "127.0.0.1:18081", "protocol": "udp"}),
                         (200, ""))

    def test_error_statuses_match_gvproxy(self):
        g = self.g
        cases = [
            # (route, body, status, text)
            ("/services/forwarder/expose", "xx", 400, "invalid character 'x' looking for beginning of value"),
            ("/services/forwarder/expose", "", 400, "EOF"),
            ("/services/forwarder/expose", {"local": 5}, 400,
             "json: cannot unmarshal number into Go struct field ExposeRequest.local of type string"),
            ("/services/forwarder/expose", {"local": ":18090", "remote": "80"}, 400,
             "address 80: missing port in address"),
            ("/services/forwarder/expose", {"local": ":18090", "remote": ":80", "protocol": "sctp"}, 500,
             "unknown protocol sctp"),
            ("/services/forwarder/expose", {"local": "bogus", "remote": ":80"}, 500,
             "listen tcp: address bogus: missing port in address"),
            ("/services/forwarder/unexpose", {"local": ":1"}, 500, "proxy not found"),
        ]
        for route, body, status, text in cases:
            with self.subTest(route=route, body=body):
                self.assertEqual(g.guest_api(route, body), (status, text + "\n"))
        # From the host, a remote without an IP cannot be completed (gvproxy's unix peer is "@").
        self.assertEqual(g.host_api("/services/forwarder/expose", {"local": ":18091", "remote": ":80"}),
                         (400, "address @: missing port in address\n"))
        self.assertEqual(g.host_api("/services/forwarder/expose", "{}")[0], 400)
        self.assertEqual(g.host_api("/tunnel?port=22"), (500, "ip is mandatory\n"))
        self.assertEqual(g.host_api("/services/forwarder/expose")[0], 400)  # GET: post only

    def test_stats_have_gvproxy_layout(self):
        self.g.host_connect("127.0.0.1", 1)  # nothing listens: no effect on the counters asked for
        status, text = self.g.host_api("/stats")
        self.assertEqual(status, 200)
        stats = json.loads(text)
        for key in ("BytesSent", "BytesReceived", "TCP", "UDP", "IP", "ARP", "ICMP", "NICs", "DroppedPackets"):
            self.assertIn(key, stats)
        self.assertGreater(stats["BytesReceived"], 0)  # the guest's pings and API calls
        self.assertIn("CurrentEstablished", stats["TCP"])
        self.assertNotIn("usernet_switch_ports", stats)


class GuestExposeLoopbackOnly(unittest.TestCase):
    def test_loopback_only_keeps_guest_forwards_on_127_0_0_1(self):
        g = GuestNetwork("-guest-expose-loopback-only")
        try:
            self.assertEqual(g.guest_api("/services/forwarder/expose", {"local": ":18085", "remote": ":8000"}),
                             (200, ""))
            listening = g.listening(18085)
            self.assertIn("127.0.0.1:18085", listening)
            self.assertNotIn("*:", listening)
            self.assertEqual(g.host_connect("127.0.0.1", 18085), f"from {GATEWAY} got 6")
            status, _ = g.guest_api("/services/forwarder/expose", {"local": "0.0.0.0:18086", "remote": ":8000"})
            self.assertEqual(status, 403)
            self.assertEqual(g.listening(18086), "")
        finally:
            g.close()


class GvproxyCommandLine(unittest.TestCase):
    def test_missing_identity_file_exits_1_naming_the_file(self):
        net = harness.Network()
        work = tempfile.mkdtemp(prefix="usernet-gvident-")
        try:
            result = net.host.run(
                [harness.binary("gvproxy"), "-listen", f"unix://{work}/api.sock", "-ssh-port", "-1",
                 "-forward-sock", f"{work}/podman.sock", "-forward-dest", "/run/podman/podman.sock",
                 "-forward-user", "core", "-forward-identity", f"{work}/absent_key"], check=False, timeout=30)
            self.assertEqual(result.returncode, 1, result.stderr)
            self.assertIn(f"{work}/absent_key", result.stderr + result.stdout)
            self.assertIn("No such file or directory", result.stderr + result.stdout)
            undefined = net.host.run([harness.binary("gvproxy"), "-no-such-flag"], check=False, timeout=30)
            self.assertEqual(undefined.returncode, 2)
            self.assertIn("flag provided but not defined: -no-such-flag", undefined.stderr)
        finally:
            net.close()
            subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    unittest.main(verbosity=2)
