"""DHCP and DNS on the gateway with real clients: busybox udhcpc, ISC dhclient and dig in a
guest namespace on usernetd's TAP; the DNS upstream is a dnsmasq the test runs on the
host namespace's 127.0.0.1 (never the machine's resolver)."""
import os
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import GATEWAY, HOST_ALIAS  # noqa: E402

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dhcp_record.sh")
STATIC_MAC = "5a:94:ef:e4:0c:ee"
BIG_TXT = ["x" * 250, "y" * 250, "z" * 250]  # > 512 bytes: needs TC and a TCP retry


def events(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [dict(kv.split("=", 1) for kv in line.split() if "=" in kv) for line in f]


class DhcpAndDns(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.net = harness.Network()
        cls.dnsmasq = cls.net.start(cls.net.host, [
            "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--listen-address=127.0.0.1",
            "--port=5353", "--bind-interfaces", "--user=root", "--pid-file=",
            "--host-record=test.example,203.0.113.7,2001:db8::7",
            "--txt-record=big.example," + ",".join(BIG_TXT),
            "--txt-record=small.example,hello"], log_name="dnsmasq")
        cls.usernetd = cls.net.start_usernetd("--dns-upstream", "127.0.0.1:5353", "--dns-search", "example.test",
                                              "--dns-zone", "apps.test,default=192.168.127.50,record=db:192.168.127.60",
                                              configure=False)
        cls.log = tempfile.mktemp(prefix="dhcp-events-")
        # dhclient runs its script with a scrubbed environment: bake the log path in.
        fd, cls.script = tempfile.mkstemp(prefix="dhcp-script-", suffix=".sh")
        with os.fdopen(fd, "w") as f:
            f.write(f"#!/bin/sh\nUSERNET_DHCP_LOG={cls.log} exec {SCRIPT} \"$@\"\n")
        os.chmod(cls.script, 0o755)

    @classmethod
    def tearDownClass(cls):
        cls.net.stop(cls.usernetd)
        cls.net.close()
        os.unlink(cls.script)

    def setUp(self):
        if os.path.exists(self.log):
            os.unlink(self.log)

    def set_mac(self, mac):
        self.net.guest.ip("link", "set", "tap0", "down")
        self.net.guest.ip("link", "set", "tap0", "address", mac)
        self.net.guest.ip("addr", "flush", "dev", "tap0")
        self.net.guest.ip("link", "set", "tap0", "up")

    def dig(self, *args):
        return self.net.guest.run(["dig", f"@{GATEWAY}", "+time=5", "+tries=1", *args]).stdout

    def test_1_udhcpc_static_lease_and_renew(self):
        self.set_mac(STATIC_MAC)
        proc = self.net.guest.popen(["busybox", "udhcpc", "-i", "tap0", "-f", "-t", "5", "-T", "2",
                                     "-O", "mtu", "-O", "search", "-s", self.script])
        try:
            self.net.wait_for(lambda: any(e.get("event") == "bound" for e in events(self.log)), "udhcpc bound")
            bound = next(e for e in events(self.log) if e.get("event") == "bound")
            self.assertEqual(bound["ip"], harness.GUEST_IP)
            self.assertEqual(bound["router"], GATEWAY)
            self.assertEqual(bound["dns"], GATEWAY)
            self.assertEqual(bound["mtu"], "1500")
            self.assertEqual(bound["search"], "example.test")
            self.assertEqual(bound["lease"], "3600")
            proc.send_signal(signal.SIGUSR1)  # busybox udhcpc: renew now
            self.net.wait_for(lambda: any(e.get("event") == "renew" for e in events(self.log)), "udhcpc renew")
            renew = next(e for e in events(self.log) if e.get("event") == "renew")
            self.assertEqual(renew["ip"], harness.GUEST_IP)
        finally:
            proc.terminate()
            proc.wait()
        # The lease configured the interface: the gateway answers a ping.
        self.assertEqual(self.net.guest.run(["ping", "-c", "1", "-W", "2", GATEWAY], check=False).returncode, 0)

    def test_2_dhclient_dynamic_lease_and_reboot_renewal(self):
        self.set_mac("02:00:00:00:00:42")
        lease_file = tempfile.mktemp(prefix="dhclient-lease-")
        pid_file = tempfile.mktemp(prefix="dhclient-pid-")
        cmd = ["dhclient", "-4", "-1", "-v", "-sf", self.script, "-lf", lease_file, "-pf", pid_file, "tap0"]
        try:
            self.net.guest.run(cmd, timeout=60)
            bound = [e for e in events(self.log) if e.get("event") == "BOUND"]
            self.assertEqual(len(bound), 1, events(self.log))
            ip = bound[0]["ip"]
            last = int(ip.rsplit(".", 1)[1])
            self.assertTrue(3 <= last < 254, ip)
            self.assertEqual(bound[0]["router"], GATEWAY)
            self.assertEqual(bound[0]["dns"], GATEWAY)
            self.assertEqual(bound[0]["mtu"], "1500")
            self.assertIn("example.test", bound[0]["search"])
            # A second run with the lease file asks for the same address (INIT-REBOOT).
            self.net.guest.run(["dhclient", "-4", "-x", "-sf", self.script, "-lf", lease_file, "-pf", pid_file,
                                "tap0"], check=False, timeout=30)
            self.net.guest.run(cmd, timeout=60)
            again = [e for e in events(self.log) if e.get("event") in ("REBOOT", "BOUND")][-1]
            self.assertEqual(again["ip"], ip)
        finally:
            for path in (lease_file, pid_file):
                if os.path.exists(path):
                    os.unlink(path)

    def test_3_dns_over_udp_and_tcp(self):
        self.set_mac(STATIC_MAC)
        self.net.guest.ip("addr", "add", f"{harness.GUEST_IP}/24", "dev", "tap0")
        self.net.guest.ip("route", "replace", "default", "via", GATEWAY)
        # Local names, answered by usernetd itself.
        self.assertEqual(self.dig("+short", "host.containers.internal").strip(), HOST_ALIAS)
        self.assertEqual(self.dig("+short", "gateway.docker.internal").strip(), GATEWAY)
        self.assertEqual(self.dig("+short", "db.apps.test").strip(), "192.168.127.60")
        self.assertEqual(self.dig("+short", "anything.apps.test").strip(), "192.168.127.50")
        # IPv6 is on by default: the host name has its IPv6 twin; a zone record with an
        # address of its own has no AAAA (NOERROR, no data).
        self.assertEqual(self.dig("+short", "host.containers.internal", "AAAA").strip(), "fd00::254")
        self.assertIn("status: NOERROR", self.dig("db.apps.test", "AAAA"))
        self.assertIn("ANSWER: 0", self.dig("db.apps.test", "AAAA"))
        nx = self.dig("nope.containers.internal")
        self.assertIn("status: NXDOMAIN", nx)
        self.assertIn("SOA", nx)
        self.assertIn("1.127.168.192.in-addr.arpa", self.dig("-x", GATEWAY))
        # Forwarded to the upstream, types intact, over UDP and TCP.
        self.assertEqual(self.dig("+short", "test.example").strip(), "203.0.113.7")
        self.assertEqual(self.dig("+short", "test.example", "AAAA").strip(), "2001:db8::7")
        self.assertEqual(self.dig("+short", "small.example", "TXT").strip(), '"hello"')
        self.assertEqual(self.dig("+tcp", "+short", "test.example").strip(), "203.0.113.7")
        # A TXT answer over 512 bytes: UDP without EDNS gets TC, dig retries over TCP.
        truncated = self.dig("+ignore", "+noedns", "big.example", "TXT")
        self.assertIn(" tc", truncated.split("flags:")[1].split(";")[0])
        full = self.dig("+noedns", "big.example", "TXT")
        for chunk in BIG_TXT:
            self.assertIn(chunk, full)
        self.assertIn("status: NOERROR", full)
        self.assertNotIn("Truncated", self.dig("+noedns", "+short", "big.example", "TXT"))

    def test_4_servfail_when_upstream_is_down(self):
        self.set_mac(STATIC_MAC)
        self.net.guest.ip("addr", "add", f"{harness.GUEST_IP}/24", "dev", "tap0", check=False)
        self.net.stop(self.dnsmasq)
        out = self.net.guest.run(["dig", f"@{GATEWAY}", "+time=10", "+tries=1", "not-cached.example"]).stdout
        self.assertIn("status: SERVFAIL", out)
        # Local names keep working without an upstream.
        self.assertEqual(self.dig("+short", "host.containers.internal").strip(), HOST_ALIAS)


if __name__ == "__main__":
    unittest.main(verbosity=2)
