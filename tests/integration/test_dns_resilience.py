"""The gateway's DNS under abuse and faults, with dig in a guest namespace and dnsmasq
upstreams the test runs on the host namespace's loopback (never the machine's resolver):
a hostile regexp zone added through the API answers in milliseconds; a resolv.conf that
changes (a VPN connects) is followed without a restart, for the upstream and the DHCP search
list; an upstream that dies, stalls and comes back gives SERVFAIL meanwhile and recovers;
forwards beyond the pending cap are counted drops; forwarding keeps working when guest
flows have used up usernetd's file descriptors."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import GATEWAY  # noqa: E402


def dnsmasq(address, port, *records):
    """A dnsmasq answering only `records` (--address=/NAME/IP ...) on address:port."""
    return ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", f"--listen-address={address}",
            f"--port={port}", "--bind-interfaces", "--user=root", "--pid-file=", *records]


def curl(sock, path, body=None):
    """(status, body) of one API request over a unix socket."""
    args = ["curl", "-s", "-m", "10", "-o", "-", "-w", "\n%{http_code}", "--unix-socket", sock, f"http://api{path}"]
    if body is not None:
        args += ["-X", "POST", "--data-binary", json.dumps(body)]
    text, _, code = harness.run(args).stdout.rpartition("\n")
    return int(code), text


class DnsTestCase(unittest.TestCase):
    def dig(self, *args, time_s=3):
        return self.net.guest.run(["dig", f"@{GATEWAY}", f"+time={time_s}", "+tries=1", *args], check=False).stdout

    def timed_dig(self, *args, time_s=3):
        started = time.monotonic()
        out = self.dig(*args, time_s=time_s)
        return out, time.monotonic() - started


class HostileZone(DnsTestCase):
    @classmethod
    def setUpClass(cls):
        cls.net = harness.Network()
        cls.api = os.path.join(cls.net.scratch(), "api.sock")
        cls.net.start(cls.net.host, dnsmasq("127.0.0.1", 5353, "--address=/normal.test/203.0.113.9"),
                      log_name="dnsmasq")
        cls.usernetd = cls.net.start_usernetd("--listen", f"unix://{cls.api}", "--dns-upstream", "127.0.0.1:5353")
        cls.net.wait_for(lambda: os.path.exists(cls.api), "API socket")

    @classmethod
    def tearDownClass(cls):
        cls.net.stop(cls.usernetd)
        cls.net.close()

    def test_backtracking_pattern_answers_in_milliseconds(self):
        zone = {"Name": "evil.test.", "DefaultIP": "192.168.127.80",
                "Records": [{"Regexp": "(a+)+$", "IP": "192.168.127.81"}]}
        self.assertEqual(curl(self.api, "/services/dns/add", zone), (200, ""))
        # Names that are all 'a' but for the last letter: exponential for a backtracking engine.
        for name, want in (("a" * 28 + "b", "192.168.127.80"), ("a" * 62 + "b", "192.168.127.80"),
                           ("a" * 63, "192.168.127.81")):
            out, elapsed = self.timed_dig("+short", f"{name}.evil.test")
            self.assertEqual(out.strip(), want, name)
            self.assertLess(elapsed, 1.0, name)
        # The loop was never stalled: a forwarded query still works.
        self.assertEqual(self.dig("+short", "normal.test").strip(), "203.0.113.9")
        self.assertIsNone(self.usernetd.poll())

    def test_pattern_outside_re2_is_refused_with_400(self):
        for pattern in ("(a)\\1", "x(?=y)"):
            status, text = curl(self.api, "/services/dns/add",
                                {"Name": "bad.test.", "Records": [{"Regexp": pattern, "IP": "1.2.3.4"}]})
            self.assertEqual(status, 400, text)
            self.assertIn("invalid regexp", text)
        status, text = curl(self.api, "/services/dns/all")
        self.assertNotIn("bad.test.", [z["Name"] for z in json.loads(text)])
        self.assertIsNone(self.usernetd.poll())


class ZoneOptionErrors(unittest.TestCase):
    def test_bad_pattern_on_the_command_line_is_a_clear_error(self):
        net = harness.Network()
        self.addCleanup(net.close)
        api = os.path.join(net.scratch(), "api.sock")
        proc = net.host.run([harness.binary("usernetd"), "--dns-zone", "z.test,regexp=(a)\\1:1.2.3.4",
                             "--dns-upstream", "127.0.0.1:5353", "--listen", f"unix://{api}"], check=False, timeout=30)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("invalid regexp", proc.stdout + proc.stderr)
        self.assertNotIn("AddressSanitizer", proc.stdout + proc.stderr)


def metric(sock, name):
    """One counter or gauge of /metrics."""
    status, text = curl(sock, "/metrics")
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def write_resolv_conf(path, nameserver, search, rename):
    """Rewrites the file in place or replaces it by rename, as resolvconf and NetworkManager do."""
    text = f"# written by the test\nnameserver {nameserver}\nsearch {search}\n"
    if rename:
        with open(path + ".new", "w") as f:
            f.write(text)
        os.rename(path + ".new", path)
    else:
        with open(path, "w") as f:
            f.write(text)


class ResolvConfFollowed(DnsTestCase):
    """Two upstreams on the host namespace's port 53 stand for 'before' and 'after the VPN'."""

    @classmethod
    def setUpClass(cls):
        cls.net = harness.Network()
        cls.net.host.ip("addr", "add", "127.0.0.2/8", "dev", "lo")
        for address, answer in (("127.0.0.1", "198.51.100.1"), ("127.0.0.2", "198.51.100.2")):
            cls.net.start(cls.net.host, dnsmasq(address, 53, f"--address=/probe.test/{answer}"),
                          log_name="dnsmasq-" + address)
        cls.resolv_conf = os.path.join(cls.net.scratch(), "resolv.conf")
        write_resolv_conf(cls.resolv_conf, "127.0.0.1", "before.test", rename=False)
        cls.usernetd = cls.net.start_usernetd("--resolv-conf", cls.resolv_conf)
        cls.dhcp_log = os.path.join(cls.net.scratch(), "dhcp.log")
        cls.probes = 0

    @classmethod
    def tearDownClass(cls):
        cls.net.stop(cls.usernetd)
        cls.net.close()

    def probe(self):
        """The upstream's answer for a name never asked before (no cache in the way)."""
        ResolvConfFollowed.probes += 1
        return self.dig("+short", f"n{self.probes}.probe.test").strip()

    def dhcp_search(self):
        if os.path.exists(self.dhcp_log):
            os.unlink(self.dhcp_log)
        self.net.guest.run(["env", f"USERNET_DHCP_LOG={self.dhcp_log}", "busybox", "udhcpc", "-i", "tap0", "-n", "-q",
                            "-t", "5", "-T", "2", "-O", "search", "-s", SCRIPT], timeout=60)
        with open(self.dhcp_log) as f:
            bound = [line for line in f if "event=bound" in line]
        return bound[-1].split("search=")[1].split()[0] if bound and "search=" in bound[-1] else ""

    def switch_to(self, nameserver, answer, search, rename):
        write_resolv_conf(self.resolv_conf, nameserver, search, rename)
        started = time.monotonic()
        self.net.wait_for(lambda: self.probe() == answer, f"upstream {nameserver} in use", timeout=10)
        self.assertLess(time.monotonic() - started, 6.0)
        self.assertEqual(self.dhcp_search(), search)

    def test_vpn_connects_and_disconnects(self):
        self.assertEqual(self.probe(), "198.51.100.1")
        self.assertEqual(self.dhcp_search(), "before.test")
        self.switch_to("127.0.0.2", "198.51.100.2", "vpn.test", rename=True)
        self.switch_to("127.0.0.1", "198.51.100.1", "after.test", rename=False)
        self.assertIn("upstream DNS from " + self.resolv_conf, self.net.log_of("usernetd"))


class UpstreamFaults(DnsTestCase):
    MAX_PENDING = 8

    @classmethod
    def setUpClass(cls):
        cls.net = harness.Network()
        cls.api = os.path.join(cls.net.scratch(), "api.sock")
        cls.upstream = None
        cls.start_upstream()
        cls.usernetd = cls.net.start_usernetd("--listen", f"unix://{cls.api}", "--dns-upstream", "127.0.0.1:5353",
                                              "--dns-max-pending", str(cls.MAX_PENDING))
        cls.net.wait_for(lambda: os.path.exists(cls.api), "API socket")
        cls.names = 0

    @classmethod
    def start_upstream(cls):
        cls.upstream = cls.net.start(cls.net.host, dnsmasq("127.0.0.1", 5353, "--address=/x.test/1.2.3.4"),
                                     log_name="dnsmasq")
        cls.net.wait_for(lambda: ":5353" in cls.net.host.run(["ss", "-lun"]).stdout, "dnsmasq listening")

    @classmethod
    def tearDownClass(cls):
        cls.net.stop(cls.usernetd)
        cls.net.close()

    def fresh_name(self):
        UpstreamFaults.names += 1
        return f"q{self.names}.x.test"

    def assert_recovers(self, within_s):
        started = time.monotonic()
        self.net.wait_for(lambda: self.dig("+short", self.fresh_name(), time_s=1).strip() == "1.2.3.4",
                          "answers again", timeout=within_s)
        return time.monotonic() - started

    def test_1_upstream_dies_and_comes_back(self):
        self.assertEqual(self.dig("+short", self.fresh_name()).strip(), "1.2.3.4")
        failures = metric(self.api, "usernet_dns_upstream_failures_total")
        self.net.stop(self.upstream)
        out, elapsed = self.timed_dig(self.fresh_name(), time_s=10)
        self.assertIn("status: SERVFAIL", out)
        self.assertLess(elapsed, 8.0)
        self.assertGreater(metric(self.api, "usernet_dns_upstream_failures_total"), failures)
        self.start_upstream()
        self.assertLess(self.assert_recovers(5), 5)
        self.assertEqual(metric(self.api, "usernet_dns_upstream_pending"), 0)

    def test_2_stalled_upstream_gives_servfail_in_bounded_time(self):
        self.upstream.send_signal(signal.SIGSTOP)  # no answer and no ICMP: only timeouts help
        try:
            out, elapsed = self.timed_dig(self.fresh_name(), time_s=15)
            self.assertIn("status: SERVFAIL", out)
            self.assertLess(elapsed, 10.0)
        finally:
            self.upstream.send_signal(signal.SIGCONT)
        self.assertLess(self.assert_recovers(5), 5)

    def test_3_forwards_beyond_the_cap_are_counted_drops(self):
        dropped = metric(self.api, "usernet_dns_over_pending_cap_total")
        self.upstream.send_signal(signal.SIGSTOP)
        try:
            # 40 queries at once from one socket; the cap lets 8 wait for the stalled upstream.
            self.net.guest.run([sys.executable, "-c", BURST, GATEWAY, "40", f"burst{self.names}"], timeout=30)
            self.net.wait_for(lambda: metric(self.api, "usernet_dns_over_pending_cap_total") - dropped >= 32,
                              "drops counted", timeout=5)
            self.assertEqual(metric(self.api, "usernet_dns_over_pending_cap_total") - dropped, 40 - self.MAX_PENDING)
            self.assertEqual(metric(self.api, "usernet_dns_upstream_pending"), self.MAX_PENDING)
            # Local names are not forwards: they are still answered at the cap.
            self.assertEqual(self.dig("+short", "gateway.containers.internal").strip(), GATEWAY)
        finally:
            self.upstream.send_signal(signal.SIGCONT)
        self.assertLess(self.assert_recovers(10), 10)
        self.assertIsNone(self.usernetd.poll())


# Sends N A queries for distinct names in one go (dnspython-free: a hand-made query).
BURST = """
import socket, struct, sys
server, count, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(count):
    name = b"".join(bytes([len(l)]) + l for l in f"{prefix}-{i}.x.test".encode().split(b".")) + b"\\0"
    s.sendto(struct.pack("!HHHHHH", i, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", 1, 1), (server, 53))
"""

# Holds N TCP connections to host:port open until killed (they use up usernetd's fds).
HOLD = """
import socket, sys, time
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held = []
for i in range(count):
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect((host, port)); held.append(s)
    except OSError:
        s.close()
print(len(held), flush=True)
time.sleep(600)
"""

ACCEPTOR = """
import socket
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 9100)); srv.listen(1024)
held = []
while True:
    held.append(srv.accept()[0])
"""


class DescriptorExhaustion(DnsTestCase):
    FD_LIMIT = 128

    @classmethod
    def setUpClass(cls):
        cls.net = harness.Network()
        cls.api = os.path.join(cls.net.scratch(), "api.sock")
        cls.net.start(cls.net.host, dnsmasq("127.0.0.1", 5353, "--address=/x.test/1.2.3.4"), log_name="dnsmasq")
        cls.net.start(cls.net.host, [sys.executable, "-c", ACCEPTOR], log_name="acceptor")
        cls.usernetd = cls.net.start_usernetd("--listen", f"unix://{cls.api}", "--dns-upstream", "127.0.0.1:5353")
        cls.net.wait_for(lambda: os.path.exists(cls.api), "API socket")
        # Soft and hard: usernetd may not raise it back.
        harness.run(["prlimit", "--pid", str(harness.usernetd_pid(cls.usernetd)),
                     f"--nofile={cls.FD_LIMIT}:{cls.FD_LIMIT}"])

    @classmethod
    def tearDownClass(cls):
        cls.net.stop(cls.usernetd)
        cls.net.close()

    def test_forwarding_works_with_descriptors_used_up(self):
        self.assertEqual(self.dig("+short", "before.x.test").strip(), "1.2.3.4")
        holder = self.net.guest.popen([sys.executable, "-c", HOLD, harness.HOST_ALIAS, "9100",
                                       str(2 * self.FD_LIMIT)], stdout=subprocess.PIPE, text=True)
        try:
            held = int(holder.stdout.readline())
            self.assertLess(held, self.FD_LIMIT)  # the limit was reached: some connects failed
            open_fds = len(os.listdir(f"/proc/{harness.usernetd_pid(self.usernetd)}/fd"))
            self.assertGreaterEqual(open_fds, self.FD_LIMIT - 8)
            # A burst of new names, each a forward that needs c-ares' socket.
            for i in range(5):
                self.assertEqual(self.dig("+short", f"during{i}.x.test").strip(), "1.2.3.4")
        finally:
            holder.kill()
            holder.wait()


SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dhcp_record.sh")

if __name__ == "__main__":
    unittest.main(verbosity=2)
