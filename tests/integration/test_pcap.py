"""--pcap: the capture of a run (DHCP with udhcpc, DNS with dig, a NAT'd TCP connection)
is readable by tshark, which finds each of those exchanges in it."""
import json
import os
import stat
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import GATEWAY, GUEST_IP, HOST_ALIAS  # noqa: E402

ECHO_PORT = 17070


class Pcap(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.net = harness.Network()
        cls.capture = tempfile.mktemp(prefix="usernet-", suffix=".pcap")
        cls.net.start_peer(cls.net.host, "tcp-echo", str(ECHO_PORT))
        usernetd = cls.net.start_usernetd("--pcap", cls.capture, "--dns-upstream", "127.0.0.1:5353",
                                          "--ssh-port", "-1", configure=False)
        guest = cls.net.guest
        guest.ip("link", "set", "tap0", "address", "5a:94:ef:e4:0c:ee")  # the static lease: .2
        guest.ip("link", "set", "tap0", "up")
        guest.run(["busybox", "udhcpc", "-i", "tap0", "-n", "-q", "-t", "5", "-T", "2", "-s", "/bin/true"],
                  timeout=60)
        guest.ip("addr", "add", f"{GUEST_IP}/24", "dev", "tap0")
        guest.ip("route", "add", "default", "via", GATEWAY)
        cls.dig = guest.run(["dig", f"@{GATEWAY}", "+time=5", "+tries=1", "+short",
                             "host.containers.internal"]).stdout.strip()
        cls.connect = json.loads(cls.net.guest_peer("connect", HOST_ALIAS, str(ECHO_PORT)))
        cls.exit_code = cls.net.stop(usernetd)

    @classmethod
    def tearDownClass(cls):
        cls.net.close()
        if os.path.exists(cls.capture):
            os.unlink(cls.capture)

    def tshark(self, display_filter, *fields):
        args = ["tshark", "-n", "-r", self.capture, "-Y", display_filter]
        if fields:
            args += ["-T", "fields"] + [x for f in fields for x in ("-e", f)]
        return harness.run(args).stdout.strip().splitlines()

    def test_run_worked_and_capture_is_private(self):
        self.assertEqual(self.exit_code, 0)
        self.assertEqual(self.dig, HOST_ALIAS)
        self.assertEqual(self.connect["outcome"], "ok")
        self.assertEqual(stat.S_IMODE(os.stat(self.capture).st_mode), 0o600)

    def test_dhcp_exchange_is_captured(self):
        # Message types (option 53): DISCOVER 1, OFFER 2, REQUEST 3, ACK 5.
        types = {line for line in self.tshark("dhcp", "dhcp.option.dhcp")}
        self.assertTrue({"1", "2", "3", "5"} <= types, types)
        acks = self.tshark("dhcp.option.dhcp == 5", "dhcp.ip.your")
        self.assertIn(GUEST_IP, acks)

    def test_dns_query_and_answer_are_captured(self):
        answers = self.tshark('dns.qry.name == "host.containers.internal" && dns.flags.response == 1', "dns.a")
        self.assertIn(HOST_ALIAS, answers)

    def test_tcp_handshake_is_captured(self):
        syns = self.tshark(f"tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == {ECHO_PORT}", "ip.src", "ip.dst")
        self.assertIn(f"{GUEST_IP}\t{HOST_ALIAS}", syns)
        self.assertTrue(self.tshark(f"tcp.flags.syn == 1 && tcp.flags.ack == 1 && tcp.srcport == {ECHO_PORT}"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
