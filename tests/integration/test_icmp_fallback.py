"""ICMP echo NAT where ping sockets are not permitted: net.ipv4.ping_group_range is
"1 0" (nobody) in usernetd's namespace. As root (CAP_NET_RAW) usernetd falls back to a
raw ICMP socket (and a raw ICMPv6 one for ping -6) and the guest's pings to the host
namespace are answered; without CAP_NET_RAW (capsh --drop) it warns once, naming the
sysctl."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HOST_ALIAS  # noqa: E402

NO_NET_RAW = ["capsh", "--drop=cap_net_raw", "--", "-c", 'exec "$@"', "usernetd"]


class IcmpWithoutPingSockets(unittest.TestCase):
    def setUp(self):
        self.net = harness.Network()
        self.net.host.run(["sysctl", "-qw", "net.ipv4.ping_group_range=1 0"])
        probe = self.net.host.run([sys.executable, "-c", "import socket; socket.socket(socket.AF_INET, "
                                   "socket.SOCK_DGRAM, socket.IPPROTO_ICMP)"], check=False)
        self.assertNotEqual(probe.returncode, 0, "ping sockets are really forbidden in the host namespace")

    def tearDown(self):
        self.net.close()

    def ping(self, count, target=HOST_ALIAS):
        return self.net.guest.run(["ping", "-c", str(count), "-W", "2", target], check=False)

    def test_raw_socket_fallback_answers_pings(self):
        self.net.start_usernetd()
        result = self.ping(3)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("3 received", result.stdout)
        self.assertIn("raw ICMP socket", self.net.log_of("usernetd"))

    def test_raw_icmpv6_socket_fallback_answers_ping6(self):
        self.net.start_usernetd()
        harness.wait_for_slaac(self.net)
        result = self.ping(3, "fd00::254")  # the host's ::1
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("3 received", result.stdout)
        self.assertIn("raw ICMPv6 socket", self.net.log_of("usernetd"))

    def test_without_cap_net_raw_warns_once_with_the_sysctl(self):
        self.net.start_usernetd(wrapper=NO_NET_RAW)
        self.assertNotEqual(self.ping(2).returncode, 0, "nothing may fake a reply")
        self.ping(1)
        log = self.net.log_of("usernetd")
        self.assertEqual(log.count("net.ipv4.ping_group_range=\"0 2147483647\""), 1, log)
        self.assertIn("CAP_NET_RAW", log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
