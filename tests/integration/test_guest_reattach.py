"""A guest whose transport goes away leaves nothing behind: its NAT flows (TCP relays,
UDP and ICMP flows) are closed and their fds freed within seconds, not after TCP
keepalive gives up; and when it reattaches its new connections work."""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import GATEWAY, HOST_ALIAS  # noqa: E402
from test_flow_limits import HOLDER, OPENER  # noqa: E402
from test_forwarder import make_preexisting_tap, ping_works, start_forwarder  # noqa: E402
from test_guest_isolation import metric  # noqa: E402

HOLD_PORT = 7100
UDP_PORT = 7200
CONNECTIONS = 200
HOST_ALIAS6 = "fd00::254"  # the host's ::1


class GuestReattach(unittest.TestCase):
    def setUp(self):
        self.net = harness.Network()
        net = self.net
        self.dir = tempfile.mkdtemp(prefix="usernet-reattach-")
        self.api = os.path.join(self.dir, "api.sock")
        net.start(net.host, [sys.executable, "-c", HOLDER, str(HOLD_PORT)], log_name="holder")
        net.start(net.host, [sys.executable, "-c", HOLDER, str(HOLD_PORT), "::1"], log_name="holder6")
        net.start_peer(net.host, "udp-echo", str(UDP_PORT), bind="::")
        make_preexisting_tap(net.guest)
        self.usernetd = net.start_usernetd("--listen", f"unix://{self.api}", tap=False)
        net.wait_for(lambda: os.path.exists(self.api), "API socket")

    def tearDown(self):
        self.net.close()
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def fd_count(self):
        return len(os.listdir(f"/proc/{harness.usernetd_pid(self.usernetd)}/fd"))

    def attach(self):
        forwarder = start_forwarder(self.net, self.api, "-preexisting")
        self.net.wait_for(lambda: ping_works(self.net.guest, GATEWAY), "the guest reaches the gateway", timeout=20)
        return forwarder

    def test_detached_guest_flows_are_closed_and_fds_freed(self):
        self.check_detach(HOST_ALIAS)

    def test_detached_guest_ipv6_flows_are_closed_and_fds_freed(self):
        # IPv6 flows belong to the SLAAC address the switch saw the port send from.
        self.check_detach(HOST_ALIAS6)

    def check_detach(self, host):
        forwarder = self.attach()
        if ":" in host:
            harness.wait_for_slaac(self.net)
        baseline = self.fd_count()
        opener = self.net.guest.popen([sys.executable, "-c", OPENER, host, str(HOLD_PORT), str(CONNECTIONS)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.net.processes.append(opener)
        self.assertEqual(json.loads(opener.stdout.readline())["ok"], CONNECTIONS)
        self.net.guest_peer("udp", host, str(UDP_PORT), "3")
        self.assertTrue(ping_works(self.net.guest, host))
        held = self.fd_count()
        self.assertGreaterEqual(held, baseline + CONNECTIONS)
        self.assertGreaterEqual(metric(self.api, "usernet_fds_flows_in_use"), CONNECTIONS)

        forwarder.kill()  # the guest's transport is gone, its TCP connections still open
        forwarder.wait()
        self.net.wait_for(lambda: self.fd_count() <= baseline + 5, "usernetd's fds back to the baseline", timeout=5)
        self.assertEqual(metric(self.api, "usernet_fds_flows_in_use"), 0)
        self.assertEqual(metric(self.api, 'usernet_flows_active{protocol="tcp"}'), 0)
        self.assertEqual(metric(self.api, 'usernet_flows_active{protocol="udp"}'), 0)
        self.assertEqual(metric(self.api, 'usernet_flows_active{protocol="icmp"}'), 0)
        self.assertGreaterEqual(
            metric(self.api, 'usernet_flow_closed_total{protocol="tcp",reason="guest_detached"}'), CONNECTIONS)
        self.assertIn("left: closed its", self.net.log_of("usernetd"))

        self.attach()  # the same guest comes back: fresh connections work
        out = self.net.guest_peer("connect", host, str(HOLD_PORT))
        self.assertEqual(json.loads(out)["outcome"], "ok")
        opener.stdin.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
