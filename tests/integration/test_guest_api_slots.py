"""The in-guest API on the gateway's port 80 cannot be locked by a guest holding its
connections idle: each guest address gets 8 of the 32 slots (more are reset at once and
counted), the others keep answering, and a connection that never sends its request is
closed by the HTTP deadline, so its slot comes back. Guests here are addresses on the
guest namespace's TAP (the caps are per guest address)."""
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import GATEWAY  # noqa: E402

# Opens COUNT idle connections to gateway:80 from SOURCE, then reports how many are still
# open after a second (the rest were reset), and holds the open ones until stdin closes.
IDLE_HOLDER = r"""
import json, socket, sys, time
source, count = sys.argv[1], int(sys.argv[2])
socks = []
held = reset = 0
for _ in range(count):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(5)
    try:
        s.connect((sys.argv[3], 80))
    except ConnectionResetError:  # the reset came before connect() returned (a busy machine)
        reset += 1
        continue
    socks.append(s)
time.sleep(1)
for s in socks:
    s.setblocking(False)
    try:
        data = s.recv(1, socket.MSG_PEEK)
        reset += 1  # closed (b"") before it sent anything: not a held slot
    except BlockingIOError:
        held += 1
    except ConnectionResetError:
        reset += 1
print(json.dumps({"held": held, "reset": reset}), flush=True)
sys.stdin.read()
"""

GUESTS = ["192.168.127.2", "192.168.127.3", "192.168.127.4", "192.168.127.5", "192.168.127.6"]


class GuestApiSlots(unittest.TestCase):
    def setUp(self):
        self.net = harness.Network()
        self.addCleanup(self.net.close)
        self.api = os.path.join(self.net.scratch(), "api.sock")
        self.net.start_usernetd("--services", f"unix://{self.api}", "--ssh-port", "-1")
        self.net.wait_for(lambda: os.path.exists(self.api), "the API socket")
        for address in GUESTS[1:]:
            self.net.guest.ip("addr", "add", f"{address}/24", "dev", "tap0")

    def stats(self):
        return harness.api_stats(self.api)

    value = staticmethod(harness.stat_value)

    def guest_request(self, source):
        """HTTP status of GET /services/forwarder/all from SOURCE (0: the connection failed)."""
        out = self.net.guest.run(["curl", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}",
                                  "--interface", source, f"http://{GATEWAY}/services/forwarder/all"],
                                 check=False).stdout
        return int(out or 0)

    def hold(self, source, count):
        proc = self.net.guest.popen([sys.executable, "-c", IDLE_HOLDER, source, str(count), GATEWAY],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.net.processes.append(proc)
        return proc, json.loads(proc.stdout.readline())

    def wait_for_open(self, count):
        """The gauge of open guest API connections settles at COUNT (within 5 s)."""
        self.net.wait_for(lambda: self.value(self.stats(), "usernet_api_guest_connections") == count,
                          f"{count} open guest API connections", 5)
        self.assertEqual(self.value(self.stats(), "usernet_api_guest_connections"), count)

    def test_one_guest_cannot_lock_the_api_and_idle_slots_come_back(self):
        for source in GUESTS:
            self.assertEqual(self.guest_request(source), 200, source)

        # One guest asks for 12 idle connections: it gets 8, the rest are reset at once.
        first, result = self.hold(GUESTS[0], 12)
        self.assertEqual(result, {"held": 8, "reset": 4})
        self.assertEqual(self.guest_request(GUESTS[0]), 0, "a ninth connection of that guest is refused")
        self.assertEqual(self.guest_request(GUESTS[1]), 200, "the other guests are still served")
        # The gauge may still count the answered request's connection while it closes.
        self.wait_for_open(8)
        self.assertEqual(self.value(self.stats(), "usernet_api_guest_refused_total", reason="guest_limit"), 5)

        # Four guests holding 8 each take all 32 slots; a fifth is refused by the total.
        holders = [first] + [self.hold(source, 8)[0] for source in GUESTS[1:4]]
        self.wait_for_open(32)
        self.assertEqual(self.guest_request(GUESTS[4]), 0)
        self.assertEqual(self.value(self.stats(), "usernet_api_guest_refused_total", reason="total_limit"), 1)

        # Nobody sends a request on those connections: the HTTP deadline (30 s) closes them
        # all while their holders still wait, and the API serves everyone again.
        self.net.wait_for(lambda: self.value(self.stats(), "usernet_api_guest_connections") == 0,
                          "idle guest connections to time out", 45)
        for source in GUESTS:
            self.assertEqual(self.guest_request(source), 200, source)
        for proc in holders:
            proc.stdin.close()
            proc.wait(timeout=10)


if __name__ == "__main__":
    unittest.main(verbosity=2)
