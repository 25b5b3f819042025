"""NAT66 (usernetd --ipv6): the guest namespace's real kernel, with its SLAAC address,
reaches IPv6 servers through host sockets: an address on a veth link inside the test's
host namespace (standing in for the IPv6 internet) and the host's ::1 through the host
alias fd00::254. TCP in both directions arrives intact, UDP is echoed, closed ports and
unroutable destinations fail fast (RST, ICMPv6 unreachable), ping -6 gets the host's real
replies, and the gateway DNS answers on fd00::1 over UDP and TCP (AAAA for its names)."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MIB = 1 << 20
SERVER6 = "2001:db8:6::1"    # on a veth link in the host namespace
UNROUTED6 = "2001:db8:77::1"  # the host namespace has no route there
HOST_ALIAS6 = "fd00::254"
GATEWAY6 = "fd00::1"


class Ipv6Nat(harness.UsernetdTestCase):
    @classmethod
    def setUpClass(cls):
        cls.net = harness.Network()
        host = cls.net.host
        cls.net.add_server_link("ext6", f"{SERVER6}/64")
        # "::" takes both SERVER6 and ::1 (what the host alias reaches).
        cls.net.start_peer(host, "tcp-sink", "9001", bind="::")
        cls.net.start_peer(host, "tcp-source", "9002", bind="::")
        cls.net.start_peer(host, "udp-echo", "9004", bind="::")
        cls.api = os.path.join(cls.net.scratch(), "api.sock")
        cls.usernetd = cls.net.start_usernetd("--ipv6", "--services", f"unix://{cls.api}")
        harness.wait_for_slaac(cls.net)

    def test_upload_to_an_ipv6_server_arrives_intact(self):
        harness.check_upload(self, self.net, SERVER6, 9001, 16 * MIB)

    def test_download_from_host_loopback_through_the_host_alias(self):
        harness.check_download(self, self.net, HOST_ALIAS6, 9002, 16 * MIB)

    def test_udp_is_echoed(self):
        result = self.peer("udp", SERVER6, "9004", "20")
        self.assertEqual(result["echoed"], 20)

    def test_closed_port_is_refused_at_once(self):
        result = self.peer("connect", SERVER6, "9999")
        self.assertEqual(result["outcome"], "ECONNREFUSED")
        self.assertLess(result["seconds"], 2)

    def test_unroutable_destination_fails_at_once(self):
        # The host's connect fails (no route): the guest gets ICMPv6 address unreachable,
        # which Linux reports as EHOSTUNREACH, instead of a 30 s wait.
        result = self.peer("connect", UNROUTED6, "80")
        self.assertEqual(result["outcome"], "EHOSTUNREACH")
        self.assertLess(result["seconds"], 2)

    def test_ping6_through_ping_sockets(self):
        # Real replies from the host side (the veth address, the host's ::1 behind the alias).
        for target in (SERVER6, HOST_ALIAS6):
            out = self.net.guest.run(["ping", "-6", "-c", "2", "-W", "2", target], check=False)
            self.assertEqual(out.returncode, 0, target + out.stdout + out.stderr)
        # Nobody answers there: no fake reply either.
        out = self.net.guest.run(["ping", "-6", "-c", "1", "-W", "1", UNROUTED6], check=False)
        self.assertNotEqual(out.returncode, 0, out.stdout)

    def test_gateway_dns_over_udp_and_tcp(self):
        for transport in ("+notcp", "+tcp"):
            out = self.net.guest.run(["dig", "+short", "+time=2", "+tries=1", transport, f"@{GATEWAY6}",
                                      "host.containers.internal", "A"], check=False)
            self.assertEqual(out.stdout.strip(), harness.HOST_ALIAS, transport + out.stdout + out.stderr)
        # The local names' IPv6 twins.
        for name, address in (("host.containers.internal", HOST_ALIAS6), ("gateway.containers.internal", GATEWAY6)):
            out = self.net.guest.run(["dig", "+short", "+time=2", "+tries=1", f"@{GATEWAY6}", name, "AAAA"])
            self.assertEqual(out.stdout.strip(), address)

    def test_stats_count_nat66_flows(self):
        self.peer("connect", SERVER6, "9001")
        self.peer("udp", SERVER6, "9004", "1")
        stats = harness.api_stats(self.api)
        self.assertGreaterEqual(harness.stat_value(stats, "usernet_ipv6_packets_total", destination="nat"), 1)
        self.assertGreaterEqual(harness.stat_value(stats, "usernet_flows_total", protocol="tcp"), 1)
        self.assertGreaterEqual(harness.stat_value(stats, "usernet_flows_total", protocol="udp"), 1)


if __name__ == "__main__":
    unittest.main()
