"""NAT64 and DNS64 (usernetd --dns64, which implies --nat64): a guest namespace whose IPv4
is gone (its address flushed after start) reaches IPv4 servers in the test's host
namespace through 64:ff9b::/96 — TCP both ways with SHA-256 checked, UDP echo, ping,
fast failures — and the gateway's DNS on fd00::1 synthesizes AAAA records for names the
upstream (the test's own dnsmasq on 127.0.0.1) knows only by A records."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MIB = 1 << 20
SERVER4 = "10.77.0.1"                # on a veth link in the host namespace
SERVER4_VIA_NAT64 = "64:ff9b::a4d:1"  # 64:ff9b::10.77.0.1
HOST_VIA_NAT64 = "64:ff9b::c0a8:7ffe"  # 64:ff9b::192.168.127.254, the host's 127.0.0.1
UNROUTED_VIA_NAT64 = "64:ff9b::a63:1"  # 10.99.0.1: the host namespace has no route there
GATEWAY6 = "fd00::1"


class Nat64(harness.UsernetdTestCase):
    @classmethod
    def setUpClass(cls):
        cls.net = harness.Network()
        host = cls.net.host
        cls.net.add_server_link("ext4", f"{SERVER4}/24")
        cls.net.start(host, [
            "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--listen-address=127.0.0.1",
            "--port=5353", "--bind-interfaces", "--user=root", "--pid-file=",
            "--local=/test/",  # answers NODATA for types a name lacks; other names: REFUSED
            f"--host-record=v4only.test,{SERVER4}",
            f"--host-record=v4only.example,{SERVER4}",
            "--host-record=dual.test,10.77.0.2,2001:db8:6::2"], log_name="dnsmasq")
        # "0.0.0.0" takes both SERVER4 and 127.0.0.1 (what the host alias reaches).
        cls.net.start_peer(host, "tcp-sink", "9001", bind="0.0.0.0")
        cls.net.start_peer(host, "tcp-source", "9002", bind="0.0.0.0")
        cls.net.start_peer(host, "udp-echo", "9004", bind="0.0.0.0")
        cls.api = os.path.join(cls.net.scratch(), "api.sock")
        cls.usernetd = cls.net.start_usernetd("--dns64", "--dns-upstream", "127.0.0.1:5353",
                                              "--services", f"unix://{cls.api}")
        harness.wait_for_slaac(cls.net)
        # An IPv6-only guest from here on.
        cls.net.guest.ip("-4", "addr", "flush", "dev", "tap0")

    def dig(self, name, rtype="AAAA"):
        out = self.net.guest.run(["dig", "+short", "+time=2", "+tries=2", f"@{GATEWAY6}", name, rtype], check=False)
        return sorted(out.stdout.split())

    def test_the_guest_has_no_ipv4(self):
        out = self.net.guest.run(["ip", "-4", "-j", "addr", "show", "dev", "tap0"]).stdout
        self.assertEqual([a for i in json.loads(out or "[]") for a in i.get("addr_info", [])], [])

    def test_dns64_synthesizes_aaaa_for_a_only_names(self):
        self.assertEqual(self.dig("v4only.test"), [SERVER4_VIA_NAT64])
        # An AAAA error (dnsmasq refuses what it cannot answer) is an empty answer to DNS64.
        self.assertEqual(self.dig("v4only.example"), [SERVER4_VIA_NAT64])
        # Names with AAAA records keep them alone.
        self.assertEqual(self.dig("dual.test"), ["2001:db8:6::2"])
        # The host alias's name has its own AAAA record (fd00::254) already.
        self.assertEqual(self.dig("host.containers.internal"), ["fd00::254"])
        stats = harness.api_stats(self.api)
        self.assertGreaterEqual(harness.stat_value(stats, "usernet_dns64_synthesized_total"), 2)

    def test_upload_to_an_ipv4_server_through_nat64(self):
        harness.check_upload(self, self.net, SERVER4_VIA_NAT64, 9001, 8 * MIB)

    def test_download_from_host_loopback_through_nat64(self):
        harness.check_download(self, self.net, HOST_VIA_NAT64, 9002, 8 * MIB)

    def test_udp_is_echoed_through_nat64(self):
        self.assertEqual(self.peer("udp", SERVER4_VIA_NAT64, "9004", "20")["echoed"], 20)

    def test_ping_through_nat64(self):
        out = self.net.guest.run(["ping", "-6", "-c", "2", "-W", "2", SERVER4_VIA_NAT64], check=False)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_failures_are_fast(self):
        refused = self.peer("connect", SERVER4_VIA_NAT64, "9999")
        self.assertEqual(refused["outcome"], "ECONNREFUSED")
        self.assertLess(refused["seconds"], 2)
        unroutable = self.peer("connect", UNROUTED_VIA_NAT64, "80")
        self.assertEqual(unroutable["outcome"], "EHOSTUNREACH")
        self.assertLess(unroutable["seconds"], 5)  # the host namespace's ARP for its default router gives up
        # The guests' own IPv4 subnet is on the link, not behind NAT64.
        on_link = self.peer("connect", "64:ff9b::c0a8:7f01", "80")
        self.assertEqual(on_link["outcome"], "ECONNREFUSED")
        self.assertLess(on_link["seconds"], 2)


class Nat64NeedsIpv6(unittest.TestCase):
    def test_nat64_with_ipv6_off_is_a_startup_error(self):
        self.assertIn("--nat64 needs IPv6", harness.startup_failure("--no-ipv6", "--nat64"))


if __name__ == "__main__":
    unittest.main()
