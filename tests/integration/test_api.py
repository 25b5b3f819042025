"""HTTP control API with curl over unix sockets: port forwards exposed and unexposed at run
time (TCP and UDP, to servers inside the guest namespace), DNS zones added at run time and
resolved by dig in the guest, DHCP leases, /cam, /stats and /metrics, the /tunnel hijack,
the --services endpoint (no /connect) and the in-guest API on gateway:80."""
import json
import os
import socket
import stat
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import GATEWAY, GUEST_IP  # noqa: E402
# Guest servers: TCP 8000 answers "from ADDR got N" for a line; UDP 8001 upper-cases.

GUEST_MAC = "5a:94:ef:e4:0c:ee"

TCP_CLIENT = """
import socket, sys
try:
    c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    c.sendall(b"hello\\n"); print(c.recv(100).decode().strip())
except OSError as e:
    print(type(e).__name__)
"""

UDP_CLIENT = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.sendto(b"ping", ("127.0.0.1", int(sys.argv[1]))); print(s.recv(100).decode())
"""

TUNNEL_CLIENT = """
import socket, sys
c = socket.socket(socket.AF_UNIX); c.settimeout(10); c.connect(sys.argv[1])
c.sendall(b"GET /tunnel?ip=192.168.127.2&port=8000 HTTP/1.1\\r\\nHost: api\\r\\n\\r\\n")
ok = b""
while len(ok) < 2:
    ok += c.recv(2 - len(ok))
c.sendall(b"through the tunnel\\n")
reply = b""
while not reply.endswith(b"\\n"):
    chunk = c.recv(100)
    if not chunk: break
    reply += chunk
print(ok.decode() + " " + reply.decode().strip())
"""


class Api(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.net = harness.Network()
        cls.dir = tempfile.mkdtemp(prefix="usernet-api-")
        cls.api = os.path.join(cls.dir, "api.sock")
        cls.services = os.path.join(cls.dir, "services.sock")
        cls.usernetd = cls.net.start_usernetd(
            "--listen", f"unix://{cls.api}", "--services", f"unix://{cls.services}",
            "--guest-expose", "--dns-upstream", "127.0.0.1:5353", "--ssh-port", "-1")
        cls.net.start(cls.net.guest, [sys.executable, harness.FORWARD_TARGET], log_name="guest-server")
        cls.net.wait_for(lambda: "8000" in cls.net.guest.run(["ss", "-ltn"]).stdout, "guest server")
        cls.net.wait_for(lambda: os.path.exists(cls.services), "API sockets")

    @classmethod
    def tearDownClass(cls):
        cls.net.stop(cls.usernetd)
        cls.net.close()
        for name in os.listdir(cls.dir):
            os.unlink(os.path.join(cls.dir, name))
        os.rmdir(cls.dir)

    def curl(self, path, body=None, sock=None, method=None):
        """(status, body) of one request over the API unix socket, with curl."""
        args = ["curl", "-s", "-m", "10", "-o", "-", "-w", "\n%{http_code}",
                "--unix-socket", sock or self.api, f"http://api{path}"]
        if body is not None:
            args += ["-X", "POST", "--data-binary", body if isinstance(body, str) else json.dumps(body)]
        if method:
            args += ["-X", method]
        out = harness.run(args).stdout
        text, _, code = out.rpartition("\n")
        return int(code), text

    def host_python(self, code, *args):
        return self.net.host.run([sys.executable, "-c", code, *args], timeout=30).stdout.strip()

    def forwards(self):
        status, text = self.curl("/services/forwarder/all")
        self.assertEqual(status, 200)
        return {(f["protocol"], f["local"]): f["remote"] for f in json.loads(text)}

    def test_api_sockets_are_private(self):
        for path in (self.api, self.services):
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600, path)

    def test_expose_tcp_and_udp_then_unexpose(self):
        tcp = {"local": "127.0.0.1:18080", "remote": f"{GUEST_IP}:8000", "protocol": "tcp"}
        udp = {"local": ":18081", "remote": f"{GUEST_IP}:8001", "protocol": "udp"}
        self.assertEqual(self.curl("/services/forwarder/expose", tcp), (200, ""))
        self.assertEqual(self.curl("/services/forwarder/expose", udp), (200, ""))
        listed = self.forwards()
        self.assertEqual(listed[("tcp", "127.0.0.1:18080")], f"{GUEST_IP}:8000")
        self.assertEqual(listed[("udp", "127.0.0.1:18081")], f"{GUEST_IP}:8001")
        self.assertEqual(self.host_python(TCP_CLIENT, "18080"), f"from {GATEWAY} got 6")
        self.assertEqual(self.host_python(UDP_CLIENT, "18081"), f"PING via {GATEWAY}")

        # The same local address again, and an address another process holds: clear 500s.
        status, text = self.curl("/services/forwarder/expose", tcp)
        self.assertEqual((status, text.strip()), (500, "proxy already running for tcp on 127.0.0.1:18080"))
        blocker = self.net.start_peer(self.net.host, "tcp-echo", "18082")
        try:
            status, text = self.curl("/services/forwarder/expose",
                                     {"local": "127.0.0.1:18082", "remote": f"{GUEST_IP}:8000"})
            self.assertEqual(status, 500)
            self.assertIn("in use", text)
        finally:
            self.net.stop(blocker)

        self.assertEqual(self.curl("/services/forwarder/unexpose", {"local": "127.0.0.1:18080", "protocol": "tcp"}),
                         (200, ""))
        self.assertEqual(self.curl("/services/forwarder/unexpose", {"local": ":18081", "protocol": "udp"}), (200, ""))
        self.assertEqual(self.host_python(TCP_CLIENT, "18080"), "ConnectionRefusedError")
        listed = self.forwards()
        self.assertNotIn(("tcp", "127.0.0.1:18080"), listed)
        self.assertNotIn(("udp", "127.0.0.1:18081"), listed)
        status, text = self.curl("/services/forwarder/unexpose", {"local": "127.0.0.1:18080", "protocol": "tcp"})
        self.assertEqual((status, text.strip()), (500, "proxy not found"))

    def test_bad_requests(self):
        status, text = self.curl("/services/forwarder/expose", "{not json")
        self.assertEqual((status, text.strip()), (400, "invalid character 'n' looking for beginning of value"))
        status, text = self.curl("/services/forwarder/expose", {"local": "127.0.0.1:18085"})
        self.assertEqual((status, text.strip()), (400, "missing port in address"))  # Go's SplitHostPort("")
        status, text = self.curl("/services/forwarder/expose", {"local": "x", "remote": ":80", "protocol": "sctp"})
        self.assertEqual(status, 400)
        self.assertEqual(self.curl("/services/forwarder/expose")[0], 400)  # GET: post only
        self.assertEqual(self.curl("/services/dns/add", '["a list"]')[0], 400)
        self.assertEqual(self.curl("/no/such/route")[0], 404)
        self.assertEqual(len(text.strip().splitlines()), 1)

    def test_dns_zone_added_at_run_time_resolves_in_guest(self):
        def dig(name):
            return self.net.guest.run(["dig", f"@{GATEWAY}", "+time=5", "+tries=1", "+short", name]).stdout.strip()
        self.assertEqual(dig("web.runtime.test"), "")
        zone = {"Name": "runtime.test.", "DefaultIP": "192.168.127.70",
                "Records": [{"Name": "web", "IP": "192.168.127.71"},
                            {"Regexp": "^db-[0-9]+$", "IP": "192.168.127.72"}]}
        self.assertEqual(self.curl("/services/dns/add", zone), (200, ""))
        self.assertEqual(dig("web.runtime.test"), "192.168.127.71")
        self.assertEqual(dig("db-7.runtime.test"), "192.168.127.72")
        self.assertEqual(dig("other.runtime.test"), "192.168.127.70")
        status, text = self.curl("/services/dns/all")
        self.assertEqual(status, 200)
        zones = {z["Name"]: z for z in json.loads(text)}
        self.assertIn("containers.internal.", zones)
        self.assertEqual(zones["runtime.test."]["DefaultIP"], "192.168.127.70")
        self.assertIn({"Name": "web", "IP": "192.168.127.71", "Regexp": None}, zones["runtime.test."]["Records"])
        status, text = self.curl("/services/dns/add", {"Name": "bad.test.", "Records": [{"Regexp": "(", "IP": "1.2.3.4"}]})
        self.assertEqual(status, 400)

    def test_leases_cam_stats_and_metrics(self):
        self.net.guest.run(["busybox", "udhcpc", "-i", "tap0", "-n", "-q", "-t", "5", "-T", "2", "-s", "/bin/true"],
                           timeout=60)
        for path in ("/leases", "/services/dhcp/leases"):
            status, text = self.curl(path)
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(text).get(GUEST_IP), GUEST_MAC)
        status, text = self.curl("/cam")
        self.assertEqual(status, 200)
        self.assertIn(GUEST_MAC, json.loads(text))

        status, stats_text = self.curl("/stats")
        self.assertEqual(status, 200)
        status, metrics_text = self.curl("/metrics")
        self.assertEqual(status, 200)
        stats = json.loads(stats_text)
        metrics = {}
        for line in metrics_text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                metrics[name] = int(value)
        self.assertGreaterEqual(stats["usernet_dhcp_messages_total"], 2)  # DISCOVER + REQUEST
        self.assertGreaterEqual(stats["usernet_dhcp_leases"], 1)
        # Nothing runs DHCP or DNS in between: both views agree.
        for name in ("usernet_dhcp_messages_total", "usernet_dhcp_leases", "usernet_dns_queries_total",
                     "usernet_dns_upstream_failures_total", "usernet_dns_cache_hits_total"):
            self.assertEqual(stats[name], metrics[name], name)
        rx = [s for s in stats["usernet_switch_frames_total"] if s["labels"]["direction"] == "rx"]
        self.assertTrue(any(s["value"] > 0 for s in rx))
        self.assertIn('usernet_flows_active{protocol="tcp"}', metrics)

    def test_tunnel_reaches_guest_port(self):
        self.assertEqual(self.host_python(TUNNEL_CLIENT, self.api), f"OK from {GATEWAY} got 19")
        status, text = self.curl("/tunnel?port=8000")
        self.assertEqual((status, text.strip()), (500, "ip is mandatory"))

    def test_services_endpoint_has_no_connect(self):
        self.assertEqual(self.curl("/connect", sock=self.services, method="POST")[0], 404)
        self.assertEqual(self.curl("/services/forwarder/all", sock=self.services)[0], 200)

    def test_guest_api_exposes_only_on_loopback(self):
        def guest_curl(path, body=None):
            args = ["curl", "-s", "-m", "10", "-o", "-", "-w", "\n%{http_code}", f"http://{GATEWAY}{path}"]
            if body is not None:
                args += ["-X", "POST", "--data-binary", json.dumps(body)]
            text, _, code = self.net.guest.run(args).stdout.rpartition("\n")
            return int(code), text
        self.assertEqual(guest_curl("/services/forwarder/expose", {"local": "127.0.0.1:18090", "remote": ":8000"}),
                         (200, ""))
        self.assertEqual(self.forwards()[("tcp", "127.0.0.1:18090")], f"{GUEST_IP}:8000")
        self.assertEqual(self.host_python(TCP_CLIENT, "18090"), f"from {GATEWAY} got 6")
        status, _ = guest_curl("/services/forwarder/expose", {"local": "0.0.0.0:18091", "remote": ":8000"})
        self.assertEqual(status, 403)
        self.assertNotIn(("tcp", "0.0.0.0:18091"), self.forwards())
        self.assertEqual(guest_curl("/stats")[0], 404)
        self.assertEqual(guest_curl("/services/forwarder/unexpose", {"local": "127.0.0.1:18090"}), (200, ""))
        self.assertNotIn(("tcp", "127.0.0.1:18090"), self.forwards())


if __name__ == "__main__":
    unittest.main(verbosity=2)
