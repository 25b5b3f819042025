"""usernetd as a slirp4netns drop-in (the `slirp4netns` symlink), checked with the same
tests as the real slirp4netns 1.2 from Debian, which must pass them too: podman's command
line (path mode, -c, --enable-ipv6, MTU 65520, exit and ready descriptors, API socket)
configures the target namespace; 10.0.2.2 and fd00::2 reach the host's loopback; DNS at
10.0.2.3 and fd00::3 forwards to the host's resolv.conf (the test's dnsmasq); the JSON API
adds, lists and removes TCP and UDP forwards with slirp4netns's exact replies; closing the
exit descriptor ends the process with status 0. A second case runs RootlessKit's PID mode
with --disable-host-loopback. Everything stays inside the test's namespaces."""
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

REAL_SLIRP4NETNS = shutil.which("slirp4netns", path="/usr/bin:/bin")
OURS = harness.binary("slirp4netns")

PROBE = """
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3); print("connected")
except ConnectionRefusedError: print("refused")
except OSError as e: print("failed", e)"""


def api_call(path, request):
    """One request the way podman sends it (newline, then SHUT_WR); the reply text."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(json.dumps(request).encode() + b"\n")
        s.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
    return reply.decode()


def api_raw(path, data):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        return s.recv(4096).decode()


def start_slirp4netns(net, binary, args, pass_fds=()):
    """Starts slirp4netns (real or ours) in the host namespace, logged like net.start."""
    log = tempfile.NamedTemporaryFile(prefix="slirp4netns-", suffix=".log", delete=False)
    env = dict(os.environ)
    if "--enable-sandbox" in args:
        # LeakSanitizer's exit scan ptraces the process and reads /proc/PID/task: what the
        # sandbox forbids (as in test_sandbox). ASan's other checks stay on.
        env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1"
    proc = net.host.popen([binary, *args], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                          pass_fds=pass_fds, env=env)
    net.processes.append(proc)
    net.logs.append(("slirp4netns", log.name))
    return proc


def wait_ready(net, proc, ready_r):
    """slirp4netns writes "1" to the ready descriptor once the network is up."""
    readable, _, _ = select.select([ready_r], [], [], 30)
    if not readable:
        raise TimeoutError("no ready byte:\n" + net.log_of("slirp4netns"))
    data = os.read(ready_r, 16)
    os.close(ready_r)
    if data != b"1":
        raise AssertionError(f"ready descriptor got {data!r}:\n" + net.log_of("slirp4netns"))


class PodmanCommandLine:
    """Mixin: BINARY is the slirp4netns under test."""
    BINARY = None

    @classmethod
    def setUpClass(cls):
        cls.net = net = harness.Network()
        net.serve_host_resolver("--address=/probe.test/203.0.113.5", "--address=/probe.test/2001:db8::5")
        net.start_peer(net.host, "tcp-source", "8080")
        net.start_peer(net.host, "tcp-source", "8081", bind="::1")
        net.start(net.guest, [sys.executable, harness.FORWARD_TARGET], log_name="forward-target")
        net.wait_for(lambda: "ready" in net.log_of("forward-target"), "the guest's server")
        exit_r, cls.exit_w = os.pipe()
        ready_r, ready_w = os.pipe()
        cls.api = os.path.join(net.scratch(), "ctr.net")
        # libpod/networking_slirp4netns.go's order.
        args = ["--mtu=65520", "--enable-sandbox", "--enable-seccomp", "--enable-ipv6", "-c", "-e", str(exit_r), "-r", str(ready_w),
                "--api-socket", cls.api, "--netns-type=path", net.guest.path, "tap0"]
        cls.proc = start_slirp4netns(net, cls.BINARY, args, pass_fds=(exit_r, ready_w))
        os.close(exit_r)
        os.close(ready_w)
        wait_ready(net, cls.proc, ready_r)

    @classmethod
    def tearDownClass(cls):
        if cls.exit_w is not None:
            os.close(cls.exit_w)
        cls.net.close()

    def test_configures_the_namespace(self):
        addresses = json.loads(self.net.guest.run(["ip", "-j", "addr", "show", "tap0"]).stdout)[0]
        self.assertIn("UP", addresses["flags"])
        self.assertEqual(addresses["mtu"], 65520)
        self.assertIn(("10.0.2.100", 24), [(a["local"], a["prefixlen"]) for a in addresses["addr_info"]])
        self.assertIn("default via 10.0.2.2 dev tap0", self.net.guest.run(["ip", "route"]).stdout)
        self.assertIn("UP", json.loads(self.net.guest.run(["ip", "-j", "link", "show", "lo"]).stdout)[0]["flags"])

    def test_host_loopback_through_the_host_alias(self):
        harness.check_download(self, self.net, "10.0.2.2", 8080, 1 << 20)

    def test_ipv6_by_router_advertisement(self):
        address = harness.wait_for_slaac(self.net)
        self.assertTrue(address.startswith("fd00::"), address)
        harness.check_download(self, self.net, "fd00::2", 8081, 1 << 20)

    def test_dns_forwards_to_the_host_resolver(self):
        dig = ["dig", "+short", "+time=3", "+tries=2"]
        self.assertEqual(self.net.guest.run([*dig, "@10.0.2.3", "probe.test"]).stdout.strip(), "203.0.113.5")
        harness.wait_for_slaac(self.net)
        self.assertEqual(self.net.guest.run([*dig, "@fd00::3", "AAAA", "probe.test"]).stdout.strip(), "2001:db8::5")

    def test_api_forwards_tcp_and_udp(self):
        add = {"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_addr": "127.0.0.1", "host_port": 18000,
                                                       "guest_addr": "", "guest_port": 8000}}
        reply = json.loads(api_call(self.api, add))
        tcp_id = reply["return"]["id"]
        add_udp = {"execute": "add_hostfwd", "arguments": {"proto": "udp", "host_addr": "127.0.0.1",
                                                           "host_port": 18001, "guest_port": 8001}}
        udp_id = json.loads(api_call(self.api, add_udp))["return"]["id"]
        self.assertEqual(udp_id, tcp_id + 1)
        entries = json.loads(api_call(self.api, {"execute": "list_hostfwd"}))["entries"]
        self.assertIn({"id": tcp_id, "proto": "tcp", "host_addr": "127.0.0.1", "host_port": 18000,
                       "guest_addr": "10.0.2.100", "guest_port": 8000}, entries)
        out = self.net.host.run([sys.executable, "-c", """
import socket
c = socket.create_connection(("127.0.0.1", 18000), timeout=10); c.sendall(b"hello\\n")
print(c.makefile().readline().strip())
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(5)
for _ in range(5):
    u.sendto(b"ping", ("127.0.0.1", 18001))
    try: print(u.recvfrom(100)[0].decode().split()[0]); break
    except socket.timeout: pass
"""], timeout=60).stdout.split("\n")
        self.assertTrue(out[0].startswith("from ") and out[0].endswith(" got 6"), out)
        self.assertEqual(out[1], "PING")
        self.assertEqual(api_call(self.api, {"execute": "remove_hostfwd", "arguments": {"id": tcp_id}}),
                         '{"return":{}}')
        self.assertEqual(api_call(self.api, {"execute": "remove_hostfwd", "arguments": {"id": tcp_id}}),
                         '{"error":{"desc":"bad request: remove_hostfwd: bad arguments.id"}}')
        self.assertEqual(self.net.host.run([sys.executable, "-c", PROBE, "127.0.0.1", "18000"]).stdout.strip(),
                         "refused")
        api_call(self.api, {"execute": "remove_hostfwd", "arguments": {"id": udp_id}})

    def test_api_errors(self):
        def error(desc):
            return json.dumps({"error": {"desc": "bad request: " + desc}}, separators=(",", ":"))
        self.assertEqual(api_raw(self.api, b"{nope"), error("cannot parse JSON"))
        self.assertEqual(api_raw(self.api, b"[1]"), error("json_object() failed"))
        self.assertEqual(api_call(self.api, {"arguments": {}}), error("no execute found"))
        self.assertEqual(api_call(self.api, {"execute": "reboot"}), error("unknown execute"))
        bad = {"execute": "add_hostfwd", "arguments": {"proto": "sctp", "host_port": 1, "guest_port": 1}}
        self.assertEqual(api_call(self.api, bad), error("add_hostfwd: bad arguments.proto"))
        bad["arguments"].update(proto="tcp", host_addr="nowhere")
        self.assertEqual(api_call(self.api, bad), error("add_hostfwd: bad arguments.host_addr"))
        self.assertEqual(api_raw(self.api, b" " * 5000), error("too large message"))
        # Still serving after all that.
        self.assertIn("entries", json.loads(api_call(self.api, {"execute": "list_hostfwd"})))

    def test_zz_exit_descriptor_stops_it(self):
        os.close(self.exit_w)
        type(self).exit_w = None
        self.assertEqual(self.proc.wait(timeout=15), 0, self.net.log_of("slirp4netns"))


class RootlessKitPidMode:
    """Mixin: PID mode (RootlessKit's way) with --disable-host-loopback and --cidr."""
    BINARY = None

    @classmethod
    def setUpClass(cls):
        cls.net = net = harness.Network()
        net.start_peer(net.host, "tcp-source", "8080")
        # Servers beyond the host: they report the address a connection came from.
        net.add_server_link("srv4", "10.77.0.1/24")
        net.add_server_link("srv6", "fd77::1/64")
        net.add_server_link("out6", "fd78::1/64")  # the host address IPv6 flows must leave from
        net.start(net.host, [sys.executable, harness.FORWARD_TARGET], log_name="reporter")
        net.wait_for(lambda: "ready" in net.log_of("reporter"), "the reporting server")
        cls.target = net.start(net.guest, ["sleep", "600"], log_name="target")
        ready_r, ready_w = os.pipe()
        args = ["--mtu", "1500", "-r", str(ready_w), "--disable-host-loopback", "--cidr", "10.0.135.128/25", "-c",
                "--enable-ipv6", "--outbound-addr=10.255.255.1", "--outbound-addr6=fd78::1",
                str(cls.target.pid), "tap0"]
        cls.proc = start_slirp4netns(net, cls.BINARY, args, pass_fds=(ready_w,))
        os.close(ready_w)
        wait_ready(net, cls.proc, ready_r)

    @classmethod
    def tearDownClass(cls):
        code = cls.net.stop(cls.proc)
        cls.net.close()
        assert code in (0, -15), f"slirp4netns exited with {code} on SIGTERM"

    def test_cidr_addresses(self):
        self.assertIn("10.0.135.228/25", self.net.guest.run(["ip", "addr", "show", "tap0"]).stdout)
        self.assertIn("default via 10.0.135.130", self.net.guest.run(["ip", "route"]).stdout)

    def test_host_loopback_refused(self):
        out = self.net.guest.run([sys.executable, "-c", PROBE, "10.0.135.130", "8080"], timeout=30).stdout.strip()
        self.assertNotEqual(out, "connected")

    def test_outbound_addresses(self):
        def seen_from(host):
            return self.net.guest.run([sys.executable, "-c", """
import socket, sys
c = socket.create_connection((sys.argv[1], 8000), timeout=10); c.sendall(b"hi\\n")
print(c.makefile().readline().split()[1])""", host], timeout=30).stdout.strip()
        self.assertEqual(seen_from("10.77.0.1"), "10.255.255.1")
        harness.wait_for_slaac(self.net)
        self.assertEqual(seen_from("fd77::1"), "fd78::1")

    def test_bad_command_lines_exit_1(self):
        # A file that is no namespace: the join fails in the child, which says so.
        for args in (["--bogus", "1", "tap0"], ["999999999", "tap0"], ["--cidr=10.0.2.0/28", "1", "tap0"],
                     [str(self.target.pid)], ["--netns-type=path", "/etc/hostname", "tap9"]):
            result = self.net.host.run([self.BINARY, *args], check=False, timeout=10)
            self.assertEqual(result.returncode, 1, (args, result.stdout, result.stderr))


@unittest.skipUnless(REAL_SLIRP4NETNS, "slirp4netns is not installed")
class RealSlirp4netnsPodman(PodmanCommandLine, unittest.TestCase):
    BINARY = REAL_SLIRP4NETNS


class UsernetPodman(PodmanCommandLine, unittest.TestCase):
    BINARY = OURS


@unittest.skipUnless(REAL_SLIRP4NETNS, "slirp4netns is not installed")
class RealSlirp4netnsPidMode(RootlessKitPidMode, unittest.TestCase):
    BINARY = REAL_SLIRP4NETNS


class UsernetPidMode(RootlessKitPidMode, unittest.TestCase):
    BINARY = OURS


if __name__ == "__main__":
    unittest.main()
