"""Flow caps and the fd budget with real kernels on both sides: a guest namespace on
usernetd's TAP opens thousands of TCP connections and UDP flows while usernetd runs under
a desktop's soft limit of 1024 open files (or a small hard limit); DNS forwarding, the API
and fresh connections must keep working, refusals must be clean and counted."""
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import GATEWAY, HOST_ALIAS, NOBODY  # noqa: E402

HOLD_PORT = 7000
HTTP_PORT = 8080

# Accepts connections on PORT [ADDRESS], sends one byte on each, holds them until killed.
HOLDER = r"""
import selectors, socket, sys
address = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
server = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((address, int(sys.argv[1])))
server.listen(4096)
server.setblocking(False)
held = []
sel = selectors.DefaultSelector()
sel.register(server, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for _ in sel.select():
        while True:
            try:
                conn, _ = server.accept()
            except BlockingIOError:
                break
            try:
                conn.send(b"k")
            except OSError:
                pass
            held.append(conn)
"""

# Opens N connections at once, waits for each one's byte, its failure or its close
# (an end of stream before the byte), reports counts, then holds them until stdin closes.
OPENER = r"""
import json, selectors, socket, sys, time
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sel = selectors.DefaultSelector()
socks = []
for _ in range(count):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    s.setblocking(False)
    s.connect_ex((host, port))
    sel.register(s, selectors.EVENT_READ)
    socks.append(s)
ok = failed = closed = 0
pending = count
deadline = time.monotonic() + 90
start = time.monotonic()
while pending and time.monotonic() < deadline:
    for key, _ in sel.select(timeout=1):
        s = key.fileobj
        sel.unregister(s)
        pending -= 1
        try:
            data = s.recv(1)
            ok += data == b"k"
            closed += data == b""
        except OSError:
            failed += 1
print(json.dumps({"ok": ok, "failed": failed, "closed": closed, "pending": pending,
                  "seconds": time.monotonic() - start}), flush=True)
sys.stdin.read()
"""

# Guest side: one datagram each to COUNT destination ports (one UDP flow each).
UDP_FLOOD = r"""
import json, socket, sys, time
host, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent = 0
for port in range(first, first + count):
    if port % 200 == 0:
        time.sleep(0.01)  # a burst, not more than the TAP's queue holds
    try:
        s.sendto(b"x", (host, port))
        sent += 1
    except OSError:
        pass  # ICMP errors from earlier datagrams surface here
print(json.dumps({"sent": sent}))
"""

# Guest side: COUNT non-blocking SYNs to a black-holed address, left pending.
SYN_FLOOD = r"""
import socket, sys, time
count = int(sys.argv[2])
socks = []
for i in range(count):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex((sys.argv[1], 1000 + i % 60000))
    socks.append(s)
print("sent", flush=True)
sys.stdin.read()
"""

# Guest side: one echo request each from COUNT identifiers (one ICMP flow each), on a raw
# socket so the identifiers are ours; counts the replies that come back.
ECHO_FLOOD = r"""
import json, select, socket, struct, sys, time
host, count = sys.argv[1], int(sys.argv[2])
def checksum(data):
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xffff)
    return ~(total + (total >> 16)) & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.setblocking(False)
replies = set()
def drain():
    while True:
        try:
            packet = s.recv(2048)
        except BlockingIOError:
            return
        icmp = packet[(packet[0] & 0x0f) * 4:]
        if icmp[0] == 0:
            replies.add(struct.unpack("!H", icmp[4:6])[0])
for ident in range(1, count + 1):
    body = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"usernet!"
    s.sendto(body[:2] + struct.pack("!H", checksum(body)) + body[4:], (host, 0))
    if ident % 100 == 0:
        time.sleep(0.01)  # a burst, not more than the TAP's queue holds
        drain()
deadline = time.monotonic() + 2
while time.monotonic() < deadline:
    select.select([s], [], [], 0.2)
    drain()
print(json.dumps({"sent": count, "replies": len(replies)}))
"""

GUEST_LIMIT = ["prlimit", "--nofile=12000:20000"]


class FlowLimits(unittest.TestCase):
    def setUp(self):
        self.net = harness.Network()
        n = self.net
        self.holder = n.start(n.host, ["prlimit", "--nofile=12000:20000", sys.executable, "-c", HOLDER, str(HOLD_PORT)],
                log_name="holder")
        n.start(n.host, ["python3", "-m", "http.server", str(HTTP_PORT), "--bind", "127.0.0.1",
                         "--directory", harness.SOURCE_DIR], log_name="http")
        n.start(n.host, ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                         "--listen-address=127.0.0.1", "--port=5353", "--bind-interfaces", "--user=root",
                         "--pid-file=", "--host-record=up.example,203.0.113.9"], log_name="dnsmasq")
        self.api = os.path.join(n.scratch(), "api.sock")
        time.sleep(0.5)

    def tearDown(self):
        self.net.close()

    def start_usernetd(self, nofile, *extra):
        self.usernetd = self.net.start_usernetd(
            "--dns-upstream", "127.0.0.1:5353", "--services", f"unix://{self.api}", *extra,
            wrapper=["prlimit", f"--nofile={nofile}"])
        self.net.wait_for(lambda: os.path.exists(self.api), "the API socket")

    def stats(self):
        return harness.api_stats(self.api)

    value = staticmethod(harness.stat_value)

    def assert_services_answer(self):
        """DNS forwarding, the API and a fresh HTTP fetch through the NAT all work."""
        dig = self.net.guest.run(["dig", f"@{GATEWAY}", "+time=3", "+tries=2", "+short", "up.example"])
        self.assertEqual(dig.stdout.strip(), "203.0.113.9")
        self.assertIn("usernet_flows_active", self.stats())
        fetch = self.net.guest.run(["curl", "-sf", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}",
                                    f"http://{HOST_ALIAS}:{HTTP_PORT}/README.md"], check=False)
        self.assertEqual(fetch.stdout, "200", fetch.stderr)

    def open_connections(self, count, ns=None, host=HOST_ALIAS, port=HOLD_PORT):
        """COUNT connections from the guest (or NS) to HOST:PORT; (process, counts)."""
        proc = (ns or self.net.guest).popen([*GUEST_LIMIT, sys.executable, "-c", OPENER, host, str(port), str(count)],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.net.processes.append(proc)
        return proc, json.loads(proc.stdout.readline())

    def fd_count(self):
        return len(os.listdir(f"/proc/{harness.usernetd_pid(self.usernetd)}/fd"))

    def cpu_seconds(self):
        """usernetd's user + system CPU time so far."""
        with open(f"/proc/{harness.usernetd_pid(self.usernetd)}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def test_5000_connections_under_soft_limit_1024(self):
        self.start_usernetd("1024:20000")
        self.assertIn("open-file limit 20000 (soft was 1024", self.net.log_of("usernetd"))
        proc, result = self.open_connections(5000)
        self.assertEqual(result["ok"], 5000, result)
        self.assert_services_answer()
        stats = self.stats()
        self.assertGreaterEqual(self.value(stats, "usernet_flows_active", protocol="tcp"), 5000)
        self.assertEqual(self.value(stats, "usernet_flow_refused_total"), 0)
        proc.stdin.close()
        proc.wait(timeout=30)

    def test_out_of_fds_refuses_with_reset_counts_and_recovers(self):
        # A small hard limit: the flows get what is left above the reserve, no more.
        # Caps out of the way: only the fd budget may refuse here.
        self.start_usernetd("512:512", "--max-tcp-flows", "100000", "--max-tcp-flows-per-guest", "100000",
                            "--max-half-open", "100000", "--max-half-open-per-guest", "100000")
        proc, result = self.open_connections(700)
        self.assertEqual(result["pending"], 0, f"refused connections must end, not hang: {result}")
        self.assertGreater(result["ok"], 300, result)
        self.assertGreater(result["failed"], 100, result)
        self.assertLess(self.fd_count(), 512)
        # The reserve keeps DNS forwarding, the API and the TAP working; the guest's own new
        # connection is refused at once (a reset), not left hanging.
        dig = self.net.guest.run(["dig", f"@{GATEWAY}", "+time=3", "+tries=2", "+short", "up.example"])
        self.assertEqual(dig.stdout.strip(), "203.0.113.9")
        refused = json.loads(self.net.guest_peer("connect", HOST_ALIAS, str(HTTP_PORT)))
        self.assertEqual(refused["outcome"], "ECONNREFUSED", refused)
        self.assertLess(refused["seconds"], 1.0, refused)
        stats = self.stats()
        # Every refused connection is counted (a SYN the guest sent again is counted again).
        self.assertGreaterEqual(self.value(stats, "usernet_flow_refused_total", protocol="tcp", reason="no_fds"),
                                result["failed"] + 1)
        log = self.net.log_of("usernetd")
        self.assertEqual(log.count("no file descriptor left"), 1, "one warning per interval, not one per flow")
        self.assertIn("limit 512", log)
        proc.stdin.close()  # both ends close everything: the fds come back
        proc.wait(timeout=30)
        self.net.stop(self.holder)
        self.net.wait_for(lambda: self.value(self.stats(), "usernet_fds_flows_in_use") == 0, "flows to close", 30)
        self.assert_services_answer()

    def test_forward_clients_beyond_the_fd_limit_are_closed_not_spun_on(self):
        """Host clients of a port forward are not under the flow budget: past the limit
        usernetd closes each new one at once (a spare descriptor accepts it) instead of
        leaving it in the backlog and spinning on a listener that stays readable."""
        guest_port, local_port = 9000, 9100
        self.start_usernetd("256:256", "--forward", f"127.0.0.1:{local_port}={harness.GUEST_IP}:{guest_port}")
        holder = self.net.start(self.net.guest, [*GUEST_LIMIT, sys.executable, "-c", HOLDER, str(guest_port),
                                                 "0.0.0.0"], log_name="guest-holder")
        self.net.wait_for(lambda: self.net.guest.run(["ss", "-Htln", f"sport = :{guest_port}"]).stdout.strip(),
                          "the guest's server")
        proc, result = self.open_connections(400, ns=self.net.host, host="127.0.0.1", port=local_port)
        self.assertEqual(result["pending"], 0, f"clients past the limit must be closed, not left waiting: {result}\n"
                         + self.net.log_of("usernetd")[-3000:])
        self.assertGreater(result["ok"], 150, result)
        self.assertGreater(result["closed"], 100, result)
        before = self.cpu_seconds()
        time.sleep(3)
        self.assertLess(self.cpu_seconds() - before, 0.5, "usernetd must idle while out of descriptors")
        log = self.net.log_of("usernetd")
        self.assertEqual(log.count("out of file descriptors"), 1, "one warning per interval, not one per client")
        self.assertIn("RLIMIT_NOFILE 256", log)
        proc.stdin.close()  # both ends close everything: the fds come back
        proc.wait(timeout=30)
        self.net.stop(holder)
        self.net.wait_for(lambda: self.fd_count() < 100, "the forwarded connections to close", 30)
        holder = self.net.start(self.net.guest, [sys.executable, "-c", HOLDER, str(guest_port), "0.0.0.0"],
                                log_name="guest-holder-again")
        self.net.wait_for(lambda: self.net.guest.run(["ss", "-Htln", f"sport = :{guest_port}"]).stdout.strip(),
                          "the guest's server again")
        stats = self.stats()
        self.assertEqual(self.value(stats, "usernet_port_forward_shed_total"), result["closed"])
        again, recovered = self.open_connections(1, ns=self.net.host, host="127.0.0.1", port=local_port)
        self.assertEqual(recovered["ok"], 1, recovered)
        again.stdin.close()
        again.wait(timeout=30)
        self.assert_services_answer()

    def test_udp_flood_to_20000_destinations_stays_far_below_the_limit(self):
        self.start_usernetd("1024:20000")
        out = self.net.guest.run([sys.executable, "-c", UDP_FLOOD, HOST_ALIAS, "20000", "20000"], timeout=120).stdout
        self.assertGreater(json.loads(out)["sent"], 15000)
        stats = self.stats()
        self.assertLessEqual(self.value(stats, "usernet_flows_active", protocol="udp"), 1024)
        # Under load the guest's kernel drops some datagrams, so count against what opened:
        # the flood went far past the cap, and every flow beyond it was evicted, none leaked.
        opened = self.value(stats, "usernet_flows_total", protocol="udp")
        active = self.value(stats, "usernet_flows_active", protocol="udp")
        self.assertGreater(opened, 4 * 1024)
        self.assertGreaterEqual(self.value(stats, "usernet_flow_evictions_total", protocol="udp"), opened - active)
        self.assertLess(self.fd_count(), 2000)  # the limit is 20000
        self.assert_services_answer()

    def test_echo_flood_from_3000_identifiers_stays_under_the_icmp_cap(self):
        self.start_usernetd("1024:20000", "--max-icmp-flows-per-guest", "64")
        before = self.fd_count()
        out = self.net.guest.run([sys.executable, "-c", ECHO_FLOOD, HOST_ALIAS, "3000"], timeout=120).stdout
        result = json.loads(out)
        self.assertGreater(result["replies"], 0, result)
        stats = self.stats()
        active = self.value(stats, "usernet_flows_active", protocol="icmp")
        opened = self.value(stats, "usernet_flows_total", protocol="icmp")  # one request per flow here
        self.assertLessEqual(active, 64)
        self.assertGreater(opened, 2000)
        # Each flow beyond the guest's cap closed its least recently used one, none leaked.
        self.assertGreaterEqual(self.value(stats, "usernet_flow_evictions_total", protocol="icmp"), opened - active)
        self.assertLess(self.fd_count(), before + 70)
        ping = self.net.guest.run(["ping", "-c", "1", "-W", "3", HOST_ALIAS], check=False)
        self.assertEqual(ping.returncode, 0, ping.stdout + ping.stderr)
        self.assert_services_answer()

    def test_connection_opens_fast_after_3000_syns_to_a_black_hole(self):
        self.start_usernetd("1024:20000")
        flood = self.net.guest.popen([*GUEST_LIMIT, sys.executable, "-c", SYN_FLOOD, NOBODY, "3000"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.net.processes.append(flood)
        self.assertEqual(flood.stdout.readline().strip(), "sent")
        time.sleep(1)
        result = json.loads(self.net.guest_peer("connect", HOST_ALIAS, str(HTTP_PORT)))
        self.assertEqual(result["outcome"], "ok", result)
        self.assertLess(result["seconds"], 1.0, result)
        self.assertGreater(self.value(self.stats(), "usernet_flow_evictions_total", protocol="tcp_half_open"), 0)
        flood.stdin.close()
        flood.wait(timeout=30)


    def test_transfer_survives_sigstop_for_30_seconds(self):
        self.start_usernetd("1024:20000")
        self.net.start_peer(self.net.host, "tcp-source", "9002")
        size = 64 << 20
        download = self.net.guest.popen([sys.executable, harness.PEER, "download", HOST_ALIAS, "9002", str(size)],
                                        stdout=subprocess.PIPE, text=True)
        self.net.processes.append(download)
        time.sleep(0.5)  # mid-transfer
        pid = harness.usernetd_pid(self.usernetd)
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(30)
        finally:
            os.kill(pid, signal.SIGCONT)
        out, _ = download.communicate(timeout=120)
        result = json.loads(out)
        self.assertEqual(result["bytes"], size)
        self.assertEqual(result["sha256"], result["expected"])
        self.assert_services_answer()


    def test_route_goes_away_and_comes_back(self):
        """A server behind a routed link: without the route connects fail at once, with it
        back new connections work again."""
        n = self.net
        remote = harness.Namespace("remote")
        self.addCleanup(remote.close)
        n.host.ip("link", "add", "rt0", "type", "veth", "peer", "name", "rt1")
        n.host.ip("link", "set", "rt1", "netns", remote.name)
        n.host.ip("addr", "add", "10.77.0.1/30", "dev", "rt0")
        n.host.ip("link", "set", "rt0", "up")
        remote.ip("addr", "add", "10.77.0.2/30", "dev", "rt1")
        remote.ip("addr", "add", "203.0.113.80/32", "dev", "lo")
        remote.ip("link", "set", "rt1", "up")
        remote.ip("route", "add", "default", "via", "10.77.0.1")
        n.start(remote, [sys.executable, "-m", "http.server", "80", "--bind", "203.0.113.80",
                         "--directory", harness.SOURCE_DIR], log_name="remote-http")
        n.host.ip("route", "add", "203.0.113.80/32", "via", "10.77.0.2")
        self.start_usernetd("1024:20000")
        probe = ["curl", "-s", "-o", "/dev/null", "--max-time", "2", "http://203.0.113.80/"]
        n.wait_for(lambda: remote.run(probe, check=False).returncode == 0, "the remote server", 20)

        def connect():
            return json.loads(n.guest_peer("connect", "203.0.113.80", "80"))

        self.assertEqual(connect()["outcome"], "ok")
        n.host.ip("route", "del", "203.0.113.80/32")
        n.host.ip("route", "del", "default")
        gone = connect()
        self.assertEqual(gone["outcome"], "EHOSTUNREACH", gone)
        self.assertLess(gone["seconds"], 1.0, gone)
        n.host.ip("route", "add", "default", "via", "10.255.255.2")
        n.host.ip("route", "add", "203.0.113.80/32", "via", "10.77.0.2")
        back = connect()
        self.assertEqual(back["outcome"], "ok", back)
        self.assert_services_answer()


if __name__ == "__main__":
    unittest.main()
