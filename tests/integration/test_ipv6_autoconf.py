"""IPv6 autoconfiguration on the gateway (usernetd --ipv6) with real clients: the guest
namespace's own kernel forms its SLAAC address and default route from the router
advertisement, rdisc6 reads prefix, MTU and RDNSS off the wire, ping -6 reaches the
gateway, and ISC dhclient -6 runs stateless (information-request) and stateful (an IA_NA
lease from fd00::100 up)."""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

GATEWAY6 = "fd00::1"
ROUTER_LL = "fe80::1"

# dhclient runs its script with a scrubbed environment: the log path is baked in.
DHCLIENT6_SCRIPT = """#!/bin/sh
echo "event=$reason ip=$new_ip6_address prefixlen=$new_ip6_prefixlen dns=$new_dhcp6_name_servers search=$new_dhcp6_domain_search" >> {log}
exit 0
"""


def events(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [dict(kv.split("=", 1) for kv in line.split() if "=" in kv) for line in f]


class Ipv6Autoconf(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.net = harness.Network()
        cls.scratch = cls.net.scratch()
        cls.api = os.path.join(cls.scratch, "api.sock")
        cls.usernetd = cls.net.start_usernetd("--ipv6", "--dns-search", "example.test", "--mtu", "1400",
                                              "--services", f"unix://{cls.api}")
        cls.log = os.path.join(cls.scratch, "dhcp6-events")
        cls.script = os.path.join(cls.scratch, "dhclient6-script")
        with open(cls.script, "w") as f:
            f.write(DHCLIENT6_SCRIPT.format(log=cls.log))
        os.chmod(cls.script, 0o755)

    @classmethod
    def tearDownClass(cls):
        cls.net.stop(cls.usernetd)
        cls.net.close()

    def guest_addresses(self, scope):
        out = self.net.guest.run(["ip", "-6", "-j", "addr", "show", "dev", "tap0", "scope", scope]).stdout
        infos = json.loads(out or "[]")
        return [a for i in infos for a in i.get("addr_info", []) if a.get("local") and "tentative" not in a]

    def wait_for_slaac(self):
        self.net.wait_for(lambda: any(a.get("local", "").startswith("fd00::") for a in self.guest_addresses("global")),
                          "a SLAAC address in fd00::/64", timeout=20)

    def dhclient6(self, *args):
        lease = tempfile.mktemp(dir=self.scratch, suffix=".leases")
        pid = tempfile.mktemp(dir=self.scratch, suffix=".pid")
        return self.net.guest.run(["timeout", "30", "dhclient", "-6", "-1", "-v", "-sf", self.script,
                                   "-lf", lease, "-pf", pid, *args, "tap0"], check=False, timeout=40)

    def test_1_slaac_address_and_default_route(self):
        self.wait_for_slaac()
        address = next(a for a in self.guest_addresses("global") if a.get("local", "").startswith("fd00::"))
        self.assertEqual(address["prefixlen"], 64)
        routes = self.net.guest.run(["ip", "-6", "route", "show", "default"]).stdout
        self.assertIn(f"via {ROUTER_LL} dev tap0", routes)
        # The link MTU from the RA's MTU option.
        mtu = self.net.guest.run(["cat", "/proc/sys/net/ipv6/conf/tap0/mtu"]).stdout.strip()
        self.assertEqual(mtu, "1400")
        # The guest's duplicate address detection was never answered for its own address.
        self.assertNotIn("dadfailed", self.net.guest.run(["ip", "-6", "addr", "show", "dev", "tap0"]).stdout)

    def test_2_rdisc6_shows_prefix_mtu_rdnss_dnssl(self):
        out = self.net.guest.run(["rdisc6", "-1", "-w", "2000", "tap0"], timeout=30).stdout
        self.assertRegex(out, r"Prefix\s*:\s*fd00::/64")
        self.assertRegex(out, r"Autonomous address conf\.:\s*Yes")
        self.assertRegex(out, r"MTU\s*:\s*1400 bytes \(valid\)")
        self.assertRegex(out, r"Recursive DNS server\s*:\s*fd00::1")
        self.assertRegex(out, r"DNS search list\s*:\s*example\.test")
        self.assertRegex(out, r"Stateful other conf\.\s*:\s*Yes")
        self.assertRegex(out, r"Stateful address conf\.\s*:\s*No")
        self.assertRegex(out, r"from fe80::1")

    def test_3_ping6_gateway(self):
        self.wait_for_slaac()
        out = self.net.guest.run(["ping", "-6", "-c", "2", "-W", "2", GATEWAY6], check=False)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        out = self.net.guest.run(["ping", "-6", "-c", "1", "-W", "2", f"{ROUTER_LL}%tap0"], check=False)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_4_dhclient6_stateless(self):
        self.wait_for_slaac()
        result = self.dhclient6("-S")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        # Debian's dhclient 4.4 reports a stateless Reply as INFORM6 or RENEW6.
        informed = [e for e in events(self.log) if e.get("event") in ("INFORM6", "RENEW6")]
        self.assertTrue(informed, result.stdout + result.stderr + str(events(self.log)))
        self.assertEqual(informed[-1]["dns"], GATEWAY6)
        self.assertEqual(informed[-1]["search"], "example.test.")
        self.assertEqual(informed[-1]["ip"], "")  # information only, no address

    def test_5_dhclient6_stateful_lease(self):
        self.wait_for_slaac()
        result = self.dhclient6()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        bound = [e for e in events(self.log) if e.get("event") == "BOUND6"]
        self.assertTrue(bound, result.stderr)
        self.assertEqual(bound[-1]["ip"], "fd00::100")
        self.assertEqual(bound[-1]["dns"], GATEWAY6)
        # The lease is listed with the IPv4 ones, keyed by address, the client's MAC as value
        # (dhclient's DUID-LLT carries it).
        out = harness.run(["curl", "-sf", "--max-time", "5", "--unix-socket", self.api,
                           "http://x/services/dhcp/leases"]).stdout
        leases = json.loads(out)
        mac = self.net.guest.run(["cat", "/sys/class/net/tap0/address"]).stdout.strip()
        self.assertEqual(leases.get("fd00::100"), mac, out)
        self.assertEqual(leases.get(GATEWAY6), "5a:94:ef:e4:0c:dd", out)

    def test_6_stats_count_the_work(self):
        self.wait_for_slaac()
        self.dhclient6()  # a lease, whatever the order the tests ran in
        stats = harness.api_stats(self.api)
        self.assertGreaterEqual(harness.stat_value(stats, "usernet_ipv6_router_advertisements_total"), 1)
        self.assertGreaterEqual(harness.stat_value(stats, "usernet_ipv6_neighbor_advertisements_total"), 1)
        # Each dhclient run here starts without a lease file, so with a new DUID: a lease each.
        self.assertGreaterEqual(harness.stat_value(stats, "usernet_dhcp6_leases"), 1)
        self.assertGreaterEqual(harness.stat_value(stats, "usernet_dhcp6_replies_total", type="reply"), 1)


class NoIpv6(unittest.TestCase):
    """--no-ipv6: the gateway stays silent to router solicitations and the guest forms no
    fd00:: address (IPv6 is on by default, so this is the switch that turns it off)."""

    def test_no_router_advertisement(self):
        net = harness.Network()
        try:
            usernetd = net.start_usernetd("--no-ipv6")
            out = net.guest.run(["rdisc6", "-1", "-w", "1000", "-r", "2", "tap0"], check=False, timeout=30)
            self.assertNotEqual(out.returncode, 0, out.stdout)
            self.assertNotIn("fd00::", net.guest.run(["ip", "-6", "addr", "show", "dev", "tap0"]).stdout)
            net.stop(usernetd)
        finally:
            net.close()


if __name__ == "__main__":
    unittest.main()
