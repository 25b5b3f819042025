"""usernetd --user/--group/--sandbox: after set-up the daemon runs as nobody:nogroup with
no capabilities, no_new_privs and a seccomp filter (read back from /proc/PID/status), and
the network still works end to end: DHCP, DNS forwarding to a test-local upstream, TCP
through the NAT, a port forward, API exposes that bind new sockets, /stats and a clean
exit. Landlock (when the kernel has it) refuses a unix socket outside the allowed
directories. A step that cannot be done stops the daemon at start with its name."""
import grp
import json
import os
import pwd
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import GATEWAY, GUEST_IP, HOST_ALIAS  # noqa: E402

GUEST_MAC = "5a:94:ef:e4:0c:ee"  # the first guest's MAC: its lease is GUEST_IP
DHCP_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dhcp_record.sh")
NOBODY = pwd.getpwnam("nobody").pw_uid
NOGROUP = grp.getgrnam("nogroup").gr_gid

TCP_CLIENT = """
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) if sys.argv[1].isdigit() else None
if c is None:
    c = socket.socket(socket.AF_UNIX); c.settimeout(10); c.connect(sys.argv[1])
c.sendall(b"hello\\n"); print(c.recv(100).decode().strip())
"""


def proc_status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


# LeakSanitizer's scan at exit reads /proc/PID/task and ptraces the process: exactly what
# the sandbox forbids. Sandboxed runs keep ASan's other checks (abort_on_error) only.
NO_LEAK_SCAN = ["env", "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1"]


class Sandbox(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.net = harness.Network()
        n = cls.net
        # Sockets live in a directory the unprivileged daemon may write to (for API exposes).
        cls.dir = tempfile.mkdtemp(prefix="usernet-sandbox-")
        os.chown(cls.dir, NOBODY, NOGROUP)
        cls.api = os.path.join(cls.dir, "api.sock")
        with open(os.path.join(n.scratch(), "page.txt"), "w") as f:
            f.write("served from the host namespace\n")
        n.start(n.host, ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                         "--listen-address=127.0.0.1", "--port=5353", "--bind-interfaces", "--user=root",
                         "--pid-file=", "--host-record=up.example,203.0.113.9"], log_name="dnsmasq")
        n.start(n.host, [sys.executable, "-m", "http.server", "8080", "--bind", "127.0.0.1",
                         "--directory", n.scratch()], log_name="http")
        cls.usernetd = n.start_usernetd(
            "--dns-upstream", "127.0.0.1:5353", "--listen", f"unix://{cls.api}", "--ssh-port", "-1",
            "--forward", "127.0.0.1:18080=:8000", "--user", "nobody", "--group", "nogroup", "--sandbox",
            configure=False, wrapper=NO_LEAK_SCAN)
        n.wait_for(lambda: "seccomp allow-list in force" in n.log_of("usernetd") or cls.usernetd.poll() is not None,
                   "the sandbox")
        if cls.usernetd.poll() is not None:
            raise RuntimeError("usernetd exited:\n" + n.log_of("usernetd"))
        # The guest takes its address by DHCP from the sandboxed daemon.
        g = n.guest
        g.ip("link", "set", "tap0", "address", GUEST_MAC)
        g.ip("link", "set", "tap0", "up")
        cls.dhcp_log = os.path.join(n.scratch(), "dhcp.log")
        g.run(["env", f"USERNET_DHCP_LOG={cls.dhcp_log}", "busybox", "udhcpc", "-i", "tap0", "-f", "-q", "-n",
               "-t", "5", "-T", "2", "-s", DHCP_SCRIPT], timeout=30)
        n.start(g, [sys.executable, harness.FORWARD_TARGET], log_name="guest-server")
        n.wait_for(lambda: "8000" in g.run(["ss", "-ltn"]).stdout, "guest server")

    @classmethod
    def tearDownClass(cls):
        cls.net.close()
        subprocess.run(["rm", "-rf", cls.dir])

    def curl(self, path, body=None):
        args = ["curl", "-s", "-m", "10", "-o", "-", "-w", "\n%{http_code}", "--unix-socket", self.api,
                f"http://api{path}"]
        if body is not None:
            args += ["-X", "POST", "--data-binary", json.dumps(body)]
        text, _, code = harness.run(args).stdout.rpartition("\n")
        return int(code), text

    def host_client(self, target):
        return self.net.host.run([sys.executable, "-c", TCP_CLIENT, str(target)], timeout=30).stdout.strip()

    def test_1_privileges_are_gone(self):
        status = proc_status(harness.usernetd_pid(self.usernetd))
        self.assertEqual(status["Uid"].split(), [str(NOBODY)] * 4)
        self.assertEqual(status["Gid"].split(), [str(NOGROUP)] * 4)
        self.assertEqual(status["Groups"].split(), [str(NOGROUP)])
        for key in ("CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"):
            self.assertEqual(int(status[key], 16), 0, key)
        self.assertEqual(status["NoNewPrivs"], "1")
        self.assertEqual(status["Seccomp"], "2")

    def test_2_dhcp_gave_the_guest_its_lease(self):
        with open(self.dhcp_log) as f:
            self.assertIn(f"event=bound ip={GUEST_IP} router={GATEWAY} dns={GATEWAY}", f.read())
        self.assertIn(f"{GUEST_IP}/24", self.net.guest.ip("addr", "show", "dev", "tap0").stdout)

    def test_3_dns_through_the_gateway(self):
        dig = self.net.guest.run(["dig", f"@{GATEWAY}", "+time=3", "+tries=2", "+short", "up.example"])
        self.assertEqual(dig.stdout.strip(), "203.0.113.9")

    def test_4_tcp_through_the_nat(self):
        fetch = self.net.guest.run(["curl", "-sf", "--max-time", "10", f"http://{HOST_ALIAS}:8080/page.txt"])
        self.assertEqual(fetch.stdout, "served from the host namespace\n")

    def test_5_port_forward_given_at_start(self):
        self.assertEqual(self.host_client(18080), f"from {GATEWAY} got 6")

    def test_6_api_exposes_bind_new_sockets(self):
        tcp = {"local": "127.0.0.1:18090", "remote": f"{GUEST_IP}:8000", "protocol": "tcp"}
        self.assertEqual(self.curl("/services/forwarder/expose", tcp), (200, ""))
        self.assertEqual(self.host_client(18090), f"from {GATEWAY} got 6")
        inside = os.path.join(self.dir, "exposed.sock")
        unix = {"local": inside, "remote": f"{GUEST_IP}:8000", "protocol": "unix"}
        self.assertEqual(self.curl("/services/forwarder/expose", unix), (200, ""))
        self.assertEqual(self.host_client(inside), f"from {GATEWAY} got 6")
        self.assertEqual(self.curl("/services/forwarder/unexpose", unix), (200, ""))
        self.assertFalse(os.path.exists(inside))  # removed again: Landlock allows removal there
        status, text = self.curl("/stats")
        self.assertEqual(status, 200)
        self.assertIn("usernet_flows_active", json.loads(text))

    def test_7_landlock_refuses_sockets_elsewhere(self):
        if "Landlock ABI" not in self.net.log_of("usernetd"):
            self.skipTest("the kernel has no Landlock")
        # /tmp lets nobody create files, so only Landlock can refuse this one.
        outside = f"/tmp/usernet-sandbox-outside-{os.getpid()}.sock"
        unix = {"local": outside, "remote": f"{GUEST_IP}:8000", "protocol": "unix"}
        status, text = self.curl("/services/forwarder/expose", unix)
        self.assertEqual(status, 500)
        self.assertIn("ermission denied", text)
        self.assertFalse(os.path.exists(outside))

    def test_8_clean_exit_under_the_sandbox(self):
        self.assertIsNone(self.usernetd.poll())
        self.assertEqual(self.net.stop(self.usernetd), 0, self.net.log_of("usernetd"))
        self.assertFalse(os.path.exists(self.api))  # unlinked at exit, inside the allowed directory


class SandboxWithoutRoot(unittest.TestCase):
    """Started as nobody: --sandbox still applies, --user to oneself is no switch at all,
    and --user root cannot be done, which stops the daemon naming the step."""

    def setUp(self):
        self.net = harness.Network()
        self.dir = tempfile.mkdtemp(prefix="usernet-sandbox-")
        os.chown(self.dir, NOBODY, NOGROUP)
        self.api = os.path.join(self.dir, "api.sock")

    def tearDown(self):
        self.net.close()
        subprocess.run(["rm", "-rf", self.dir])

    def start(self, *extra):
        as_nobody = [*NO_LEAK_SCAN, "setpriv", f"--reuid={NOBODY}", f"--regid={NOGROUP}", "--clear-groups"]
        return self.net.start_usernetd("--listen", f"unix://{self.api}", "--ssh-port", "-1", *extra, tap=False,
                                       wrapper=as_nobody)

    def test_sandbox_as_an_unprivileged_user(self):
        proc = self.start("--user", "nobody", "--sandbox")
        self.net.wait_for(lambda: os.path.exists(self.api) and "allow-list in force" in self.net.log_of("usernetd")
                          or proc.poll() is not None, "the sandbox")
        self.assertIsNone(proc.poll(), self.net.log_of("usernetd"))
        status = proc_status(proc.pid)
        self.assertEqual(status["Uid"].split(), [str(NOBODY)] * 4)
        self.assertEqual(status["NoNewPrivs"], "1")
        self.assertEqual(status["Seccomp"], "2")
        self.assertEqual(int(status["CapEff"], 16), 0)
        out = harness.run(["curl", "-sf", "-m", "10", "--unix-socket", self.api, "http://x/stats"]).stdout
        self.assertIn("usernet_flows_active", json.loads(out))
        self.assertEqual(self.net.stop(proc), 0, self.net.log_of("usernetd"))

    def test_a_switch_that_fails_stops_the_daemon(self):
        proc = self.start("--user", "root", "--sandbox")
        self.assertEqual(proc.wait(timeout=30), 1)
        log = self.net.log_of("usernetd")
        self.assertIn("cannot sandbox usernetd: --user/--group root", log)
        self.assertIn("setgroups: Operation not permitted", log)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("needs root (network namespaces)")
        sys.exit(77)
    unittest.main(verbosity=2)
