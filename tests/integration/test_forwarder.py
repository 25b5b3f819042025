"""usernet-forwarder in a guest namespace, connected to usernetd's --listen unix socket
(gvforwarder's POST /connect protocol), passes the same NAT checks as the TAP mode
(HTTP, 64 MiB both ways with SHA-256, refused port, UDP, ping...) and reconnects after
usernetd restarts. Without -preexisting it creates the TAP with the MAC, brings it up
and starts the guest's DHCP client the way gvforwarder does; -stop-if-exist exits."""
import os
import stat
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_nat_tap  # noqa: E402
from harness import GATEWAY, HOST_ALIAS  # noqa: E402

GUEST_MAC = "5a:94:ef:e4:0c:ee"


def start_forwarder(net, api_socket, *extra, env_path=None):
    args = [harness.binary("usernet-forwarder"), "-url", f"unix://{api_socket}",
            "--stop-if-exist=", *extra]
    if env_path:
        args = ["env", f"PATH={env_path}:{os.environ.get('PATH', '/usr/bin:/bin')}", *args]
    return net.start(net.guest, args, log_name="forwarder")


def make_preexisting_tap(g):
    """A configured tap0 with the first guest's MAC and address, for -preexisting."""
    g.ip("tuntap", "add", "dev", "tap0", "mode", "tap")
    g.ip("link", "set", "tap0", "address", GUEST_MAC)
    g.ip("addr", "add", "192.168.127.2/24", "dev", "tap0")
    g.ip("link", "set", "tap0", "up")
    g.ip("route", "add", "default", "via", GATEWAY)


def ping_works(ns, address):
    return ns.run(["ping", "-c", "1", "-W", "1", address], check=False).returncode == 0


class ForwarderNat(test_nat_tap.NatOverTap):
    """Every NatOverTap check, with the guest's TAP relayed by usernet-forwarder."""

    @classmethod
    def setUpClass(cls):
        cls.net = harness.Network()
        cls.dir = tempfile.mkdtemp(prefix="usernet-forwarder-")
        cls.api = os.path.join(cls.dir, "api.sock")
        net = cls.net
        cls.start_servers(net)
        cls.pid_file = os.path.join(net.scratch(), "usernetd.pid")
        # A pre-made, configured TAP, like podman machine's NetworkManager "vsock0".
        g = net.guest
        make_preexisting_tap(g)
        cls.usernetd = cls.start_daemon()
        cls.forwarder = start_forwarder(net, cls.api, "-preexisting")
        net.wait_for(lambda: ping_works(g, GATEWAY), "the guest reaches the gateway through the forwarder")

    @classmethod
    def start_daemon(cls):
        proc = cls.net.start_usernetd("--listen", f"unix://{cls.api}", "--pid-file", cls.pid_file, tap=False)
        cls.net.wait_for(lambda: os.path.exists(cls.api) or proc.poll() is not None, "API socket")
        if proc.poll() is not None:
            raise RuntimeError("usernetd exited:\n" + cls.net.log_of("usernetd"))
        return proc

    @classmethod
    def tearDownClass(cls):
        forwarder_code = cls.net.stop(cls.forwarder)
        super().tearDownClass()
        os.rmdir(cls.dir)
        assert forwarder_code == 0, f"usernet-forwarder exited with {forwarder_code} on SIGTERM"

    def test_reconnects_after_usernetd_restarts(self):
        self.assertEqual(self.net.stop(self.usernetd), 0)
        self.assertFalse(ping_works(self.net.guest, GATEWAY))
        time.sleep(1.5)  # the forwarder retries meanwhile
        self.assertIsNone(self.forwarder.poll(), "the forwarder keeps running while the host is away")
        type(self).usernetd = self.start_daemon()
        self.net.wait_for(lambda: ping_works(self.net.guest, GATEWAY), "ping after the restart", timeout=15)
        self.assertTrue(ping_works(self.net.guest, HOST_ALIAS))
        self.assertIn("dialing", self.net.log_of("forwarder"))


class ForwarderCreatesTap(unittest.TestCase):
    """Without -preexisting: TAP created with the MAC, link up, DHCP client started and
    its lease obtained through the relay."""

    def test_creates_tap_sets_mac_and_gets_a_dhcp_lease(self):
        net = harness.Network()
        work = tempfile.mkdtemp(prefix="usernet-forwarder-")
        try:
            api = os.path.join(work, "api.sock")
            daemon = net.start_usernetd("--listen", f"unix://{api}", tap=False)
            net.wait_for(lambda: os.path.exists(api), "API socket")
            # udhcpc on PATH is a wrapper that records how it was called and runs busybox
            # udhcpc with a script that only configures tap0 (the default script would
            # rewrite the machine's resolv.conf). gvforwarder prefers udhcpc when present.
            record = os.path.join(work, "udhcpc.args")
            script = os.path.join(work, "dhcp-script")
            with open(script, "w") as f:
                f.write('#!/bin/sh\n[ "$1" = bound ] || exit 0\n'
                        'ip addr add "$ip/$mask" dev "$interface"\n'
                        'ip route add default via "$router" dev "$interface"\n')
            wrapper = os.path.join(work, "udhcpc")
            with open(wrapper, "w") as f:
                f.write(f'#!/bin/sh\necho "$@" > {record}\nexec busybox udhcpc "$@" -s {script}\n')
            for path in (script, wrapper):
                os.chmod(path, stat.S_IRWXU)
            forwarder = start_forwarder(net, api, env_path=work)
            net.wait_for(lambda: "UP" in net.guest.ip("link", "show", "tap0", check=False).stdout,
                         "tap0 up in the guest")
            self.assertIn(GUEST_MAC, net.guest.ip("link", "show", "tap0").stdout)
            net.wait_for(lambda: os.path.exists(record), "the DHCP client started")
            with open(record) as f:
                self.assertEqual(f.read().split(), ["-f", "-q", "-i", "tap0", "-v"])
            # The lease travels through the relay: the static lease for the default MAC.
            net.wait_for(lambda: "192.168.127.2/24" in net.guest.ip("addr", "show", "tap0").stdout,
                         "DHCP address on tap0", timeout=20)
            net.wait_for(lambda: ping_works(net.guest, HOST_ALIAS), "ping through the created TAP")
            self.assertEqual(net.stop(forwarder), 0)
            self.assertEqual(net.stop(daemon), 0)
        finally:
            net.close()
            for name in os.listdir(work):
                os.unlink(os.path.join(work, name))
            os.rmdir(work)

    def test_stop_if_exist_exits_at_once(self):
        net = harness.Network()
        try:
            result = net.guest.run([harness.binary("usernet-forwarder"), "-url", "unix:///nonexistent",
                                    "-stop-if-exist", "eth9,lo"], check=False, timeout=10)
            self.assertEqual(result.returncode, 0)
            self.assertIn("interface lo prevented this program to run", result.stderr)
        finally:
            net.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
