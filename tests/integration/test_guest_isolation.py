"""Guests on one usernet segment cannot hurt each other. Guest A is the TAP namespace
(the first guest's MAC, statically leased 192.168.127.2); guest B is a second namespace
relayed by usernet-forwarder. B sends gratuitous ARP, ARP replies and IPv4 from A's
address and from the gateway's: the switch drops and counts them, and A's TCP downloads
from the host namespace keep working."""
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import GATEWAY, GUEST_IP, HOST_ALIAS  # noqa: E402
from test_forwarder import ping_works  # noqa: E402

SOURCE_PORT = 8090
GATEWAY_MAC = "5a:94:ef:e4:0c:dd"
B_MAC = "5a:94:ef:e4:0c:42"
B_IP = "192.168.127.42"

# Runs in guest B: raw frames on its tap0 that claim ADDRESS for B's MAC.
SPOOFER = r"""
import socket, struct, sys
address, gateway, gateway_mac, count = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("tap0", 0))
mac = s.getsockname()[4]
def arp(op, dst, target_mac, target_ip):
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, mac, socket.inet_aton(address),
                       target_mac, socket.inet_aton(target_ip))
    return dst + mac + b"\x08\x06" + body + bytes(18)
def udp_to_gateway():
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 1, 0, 64, 17, 0,
                         socket.inet_aton(address), socket.inet_aton(gateway))
    return gateway_mac + mac + b"\x08\x00" + header + struct.pack("!HHHH", 40000, 9, 8, 0) + bytes(18)
sent = 0
for _ in range(count):
    for frame in (arp(1, b"\xff" * 6, bytes(6), address),        # gratuitous ARP
                  arp(2, gateway_mac, gateway_mac, gateway),       # unsolicited reply to the gateway
                  udp_to_gateway()):                               # IPv4 from the address
        s.send(frame)
        sent += 1
print(sent)
"""


def metric(api_socket, name_and_labels):
    text = harness.run(["curl", "-sf", "--max-time", "5", "--unix-socket", api_socket, "http://x/metrics"]).stdout
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return int(float(values[name_and_labels]))


class SenderAddressPolicy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.net = harness.Network()
        net = cls.net
        cls.dir = tempfile.mkdtemp(prefix="usernet-isolation-")
        cls.api = os.path.join(cls.dir, "api.sock")
        net.start_peer(net.host, "tcp-source", str(SOURCE_PORT))
        cls.usernetd = net.start_usernetd("--listen", f"unix://{cls.api}")
        net.wait_for(lambda: os.path.exists(cls.api), "API socket")
        cls.b = harness.Namespace("guestb")
        b = cls.b
        b.ip("tuntap", "add", "dev", "tap0", "mode", "tap")
        b.ip("link", "set", "tap0", "address", B_MAC)
        b.ip("addr", "add", f"{B_IP}/24", "dev", "tap0")
        b.ip("link", "set", "tap0", "up")
        b.ip("route", "add", "default", "via", GATEWAY)
        cls.forwarder = net.start(b, [harness.binary("usernet-forwarder"), "-url", f"unix://{cls.api}",
                                      "--stop-if-exist=", "-preexisting"], log_name="forwarder-b")
        net.wait_for(lambda: ping_works(b, GATEWAY), "guest B reaches the gateway", timeout=20)
        net.wait_for(lambda: ping_works(net.guest, GATEWAY), "guest A reaches the gateway")

    @classmethod
    def tearDownClass(cls):
        cls.net.stop(cls.forwarder)
        code = cls.net.stop(cls.usernetd)
        cls.b.close()
        cls.net.close()
        os.unlink(cls.api) if os.path.exists(cls.api) else None
        os.rmdir(cls.dir)
        assert code == 0, f"usernetd exited with {code}"

    def download_in_a(self):
        out = self.net.guest_peer("download", HOST_ALIAS, str(SOURCE_PORT), str(256 * 1024), timeout=20)
        return '"bytes": 262144' in out

    def spoof_from_b(self, address, count=10):
        result = self.b.run([sys.executable, "-c", SPOOFER, address, GATEWAY, GATEWAY_MAC.replace(":", ""),
                             str(count)])
        return int(result.stdout)

    def test_b_cannot_take_a_s_leased_address(self):
        self.assertTrue(self.download_in_a(), "A downloads before the attack")
        before = metric(self.api, 'usernet_switch_drops_total{reason="ip_taken"}')
        sent = self.spoof_from_b(GUEST_IP)
        # Had the gateway believed B, its answers to A would now go to B's MAC.
        self.assertTrue(self.download_in_a(), "A's download works after B claimed its address")
        self.assertTrue(ping_works(self.net.guest, GATEWAY))
        self.net.wait_for(lambda: metric(self.api, 'usernet_switch_drops_total{reason="ip_taken"}') >= before + sent,
                          "every spoofed frame counted", timeout=5)
        self.assertTrue(ping_works(self.b, GATEWAY), "B's own address still works")

    def test_no_guest_can_claim_the_gateway_address(self):
        before = metric(self.api, 'usernet_switch_drops_total{reason="ip_reserved"}')
        # B claims 192.168.127.1: flooded, this gratuitous ARP would repoint A's route.
        sent = self.spoof_from_b(GATEWAY)
        self.net.wait_for(lambda: metric(self.api, 'usernet_switch_drops_total{reason="ip_reserved"}') >= before + sent,
                          "every spoofed frame counted", timeout=5)
        neighbours = self.net.guest.ip("neigh", "show", GATEWAY).stdout
        self.assertNotIn(B_MAC, neighbours, "A never heard B's claim")
        self.assertTrue(self.download_in_a())
        self.assertIn("sends from", self.net.log_of("usernetd"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
