"""SSH unix-socket forwarding (--forward-sock/-dest/-user/-identity, gvproxy's -forward-*):
a host unix socket whose connections reach a unix socket inside the guest as SSH
direct-streamlocal channels over one SSH connection to an sshd in the guest namespace,
made through the virtual network. usernetd starts before sshd, so its retries are needed."""
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import GATEWAY, GUEST_IP  # noqa: E402

# Unix-socket server for inside the guest. It names the program on the other end of each
# connection (SO_PEERCRED), which must be sshd: proof the bytes came through SSH.
#  "digest\n...EOF"  -> reads to EOF, replies "<peer> <length> <sha256>" and closes
#  "upper\n..."       -> streams the rest back upper-cased until EOF, then closes
#  "close-first\n"    -> shuts its write side at once, then reads to EOF and replies nothing
#                        but records what it read in RESULT_DIR/late-<n>
GUEST_SERVER = r"""
import hashlib, os, socket, struct, sys, threading
path, result_dir = sys.argv[1], sys.argv[2]
def peer_name(c):
    pid, _, _ = struct.unpack("3i", c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()
def read_line(c):
    data = b""
    while not data.endswith(b"\n"):
        chunk = c.recv(1)
        if not chunk: break
        data += chunk
    return data.strip().decode(), b""
def serve(c, n):
    mode, _ = read_line(c)
    if mode == "digest":
        h, length = hashlib.sha256(), 0
        while True:
            chunk = c.recv(65536)
            if not chunk: break
            h.update(chunk); length += len(chunk)
        c.sendall(f"{peer_name(c)} {length} {h.hexdigest()}".encode())
    elif mode == "upper":
        while True:
            chunk = c.recv(65536)
            if not chunk: break
            c.sendall(chunk.upper())
    elif mode == "close-first":
        c.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = c.recv(65536)
            if not chunk: break
            data += chunk
        with open(os.path.join(result_dir, f"late-{n}"), "wb") as f:
            f.write(data)
    c.close()
s = socket.socket(socket.AF_UNIX)
s.bind(path); s.listen(16)
print("ready", flush=True)
n = 0
while True:
    c, _ = s.accept(); n += 1
    threading.Thread(target=serve, args=(c, n), daemon=True).start()
"""

SSHD_CONFIG = """\
Port 22
ListenAddress {guest}
HostKey {dir}/host_key
AuthorizedKeysFile {dir}/authorized_keys
StrictModes no
UsePAM no
PidFile none
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowStreamLocalForwarding yes
LogLevel VERBOSE
"""


def keygen(path):
    harness.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "usernet-test", "-f", path])


def connect(testcase, path):
    """A client of a forward's host socket, closed when the test ends."""
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(20)
    c.connect(path)
    testcase.addCleanup(c.close)
    return c


def read_all(c):
    data = b""
    while True:
        chunk = c.recv(65536)
        if not chunk:
            return data
        data += chunk


def expect_closed(testcase, c):
    """The forward closed this client without data (EOF or reset)."""
    try:
        testcase.assertEqual(read_all(c), b"")
    except ConnectionResetError:
        pass


def digest_round_trip(testcase, path, payload):
    """Sends payload in digest mode; returns the guest server's reply."""
    c = connect(testcase, path)
    c.sendall(b"digest\n" + payload)
    c.shutdown(socket.SHUT_WR)  # the guest server replies only after our EOF
    return read_all(c).decode()


class GuestWithSshd(unittest.TestCase):
    """Namespaces, keys and sshd config; usernetd first, then the guest's unix server and
    sshd. Two forwards: host.sock -> guest.sock, and host.sock.missing -> a path nobody serves."""

    @classmethod
    def setUpClass(cls):
        if shutil.which("ssh-keygen") is None or not os.path.exists("/usr/sbin/sshd"):
            raise unittest.SkipTest("openssh-server/openssh-client not installed")
        cls.dir = tempfile.mkdtemp(prefix="usernet-ssh-")
        os.chmod(cls.dir, 0o755)
        keygen(os.path.join(cls.dir, "host_key"))
        keygen(os.path.join(cls.dir, "client_key"))
        shutil.copy(os.path.join(cls.dir, "client_key.pub"), os.path.join(cls.dir, "authorized_keys"))
        with open(os.path.join(cls.dir, "sshd_config"), "w") as f:
            f.write(SSHD_CONFIG.format(guest=GUEST_IP, dir=cls.dir))
        cls.guest_sock = os.path.join(cls.dir, "guest.sock")
        cls.host_sock = os.path.join(cls.dir, "host.sock")
        cls.results = os.path.join(cls.dir, "results")
        os.mkdir(cls.results)
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation dir

        cls.net = harness.Network()
        # usernetd first: sshd is not up yet, so the SSH connection needs its retries.
        key = os.path.join(cls.dir, "client_key")
        cls.usernetd = cls.net.start_usernetd(
            "--forward-sock", cls.host_sock, "--forward-dest", cls.guest_sock,
            "--forward-user", "root", "--forward-identity", key,
            "--forward-sock", cls.host_sock + ".missing", "--forward-dest", cls.guest_sock + ".missing",
            "--forward-user", "root", "--forward-identity", key,
            "--log-level", "debug")
        cls.net.wait_for(lambda: os.path.exists(cls.host_sock), "the host socket")
        cls.mode_at_start = os.stat(cls.host_sock).st_mode & 0o777
        time.sleep(1.5)  # let a few connection tries fail
        cls.net.start(cls.net.guest, [sys.executable, "-c", GUEST_SERVER, cls.guest_sock, cls.results],
                      log_name="guest-server")
        cls.net.wait_for(lambda: os.path.exists(cls.guest_sock), "the guest unix server")
        cls.start_sshd()
        cls.net.wait_for(lambda: cls.net.log_of("usernetd").count("connected after") >= 2,
                         "both SSH sessions", timeout=30)

    @classmethod
    def start_sshd(cls):
        cls.sshd = cls.net.start(cls.net.guest, ["/usr/sbin/sshd", "-D", "-e", "-f",
                                                 os.path.join(cls.dir, "sshd_config")], log_name="sshd")

    @classmethod
    def tearDownClass(cls):
        code = cls.net.stop(cls.usernetd)
        if code != 0:
            print(cls.net.log_of("usernetd"), file=sys.stderr)
        cls.net.close()
        shutil.rmtree(cls.dir, ignore_errors=True)
        assert code == 0, f"usernetd exited {code}"
        assert not os.path.exists(cls.host_sock), "usernetd left its socket behind"


class SshForward(GuestWithSshd):
    def connect(self, path=None):
        return connect(self, path or self.host_sock)

    read_all = staticmethod(read_all)

    def test_socket_is_private(self):
        self.assertEqual(self.mode_at_start, 0o600)
        self.assertEqual(os.stat(self.host_sock).st_mode & 0o777, 0o600)

    def test_session_waited_for_sshd_with_retries(self):
        log = self.net.log_of("usernetd")
        tries = [int(line.split("connected after ")[1].split()[0]) for line in log.splitlines()
                 if "connected after" in line]
        self.assertTrue(tries and all(t > 1 for t in tries), log)
        # Through the virtual network: sshd saw the gateway's address.
        self.assertIn(f"from {GATEWAY}", self.net.log_of("sshd"))

    def test_data_reaches_the_guest_socket_through_sshd_and_back(self):
        payload = os.urandom(3 * 1024 * 1024)  # several SSH windows' worth
        reply = digest_round_trip(self, self.host_sock, payload)
        self.assertEqual(reply, f"sshd {len(payload)} {hashlib.sha256(payload).hexdigest()}")

    def test_streaming_both_ways(self):
        c = self.connect()
        c.sendall(b"upper\n")
        received = b""
        for i in range(50):
            chunk = (b"abc%d-" % i) * 2000
            c.sendall(chunk)
            while len(received) < sum(len((b"abc%d-" % j) * 2000) for j in range(i + 1)):
                received += c.recv(65536)
        c.shutdown(socket.SHUT_WR)
        received += self.read_all(c)
        self.assertEqual(received, b"".join((b"ABC%d-" % i) * 2000 for i in range(50)))

    def test_guest_half_close_keeps_the_other_direction(self):
        before = set(os.listdir(self.results))
        c = self.connect()
        c.sendall(b"close-first\n")
        self.assertEqual(self.read_all(c), b"")  # the guest's EOF arrives...
        c.sendall(b"still flowing after the guest's EOF")  # ...and we can still send
        c.shutdown(socket.SHUT_WR)
        self.net.wait_for(lambda: set(os.listdir(self.results)) - before, "the guest's record")
        (name,) = set(os.listdir(self.results)) - before
        self.net.wait_for(lambda: os.path.getsize(os.path.join(self.results, name)) > 0, "the record's data")
        with open(os.path.join(self.results, name), "rb") as f:
            self.assertEqual(f.read(), b"still flowing after the guest's EOF")

    def test_concurrent_clients_share_the_session(self):
        results, errors = {}, []

        def client(n):
            try:
                payload = bytes([n]) * (1024 * 1024 + n)
                c = socket.socket(socket.AF_UNIX)
                c.settimeout(30)
                c.connect(self.host_sock)
                c.sendall(b"digest\n")
                for i in range(0, len(payload), 10000):
                    c.sendall(payload[i:i + 10000])
                c.shutdown(socket.SHUT_WR)
                results[n] = (self.read_all(c).decode(), hashlib.sha256(payload).hexdigest(), len(payload))
                c.close()
            except Exception as e:  # reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=client, args=(n,)) for n in (1, 2, 3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        for n, (reply, digest, length) in results.items():
            self.assertEqual(reply, f"sshd {length} {digest}", n)
        self.assertEqual(len(results), 3)
        # All of it went over one SSH connection per forward: sshd accepted two in total.
        self.assertEqual(self.net.log_of("sshd").count("Accepted publickey"), 2)

    def test_missing_guest_socket_closes_only_that_client(self):
        c = self.connect(self.host_sock + ".missing")
        c.sendall(b"digest\nx")
        expect_closed(self, c)
        self.assertIn("guest refused the channel", self.net.log_of("usernetd"))
        # The session survives: the same forward still reaches sshd after the refusal.
        c = self.connect(self.host_sock + ".missing")
        c.sendall(b"x")
        expect_closed(self, c)
        self.assertEqual(self.net.log_of("sshd").count("Accepted publickey"), 2)
        self.assertNotIn("SSH connection lost", self.net.log_of("usernetd"))


class SshForwardReconnect(GuestWithSshd):
    """A lost SSH connection (sshd killed, as in a guest reboot) is made again."""

    def kill_sshd_and_its_sessions(self):
        """Ends our sshd and its per-connection children (by pid), like a guest reboot."""
        pids = [self.sshd.pid]
        with open(f"/proc/{self.sshd.pid}/task/{self.sshd.pid}/children") as f:
            pids += [int(p) for p in f.read().split()]
        for pid in reversed(pids):
            os.kill(pid, 9)
        self.sshd.wait()

    def test_session_is_made_again_after_sshd_dies(self):
        payload = b"before" * 1000
        self.assertTrue(digest_round_trip(self, self.host_sock, payload).startswith("sshd 6000 "))
        self.kill_sshd_and_its_sessions()
        self.net.wait_for(lambda: "SSH connection lost" in self.net.log_of("usernetd"), "the lost session")
        time.sleep(1)  # some retries fail while sshd is down
        self.start_sshd()
        self.net.wait_for(lambda: self.net.log_of("usernetd").count("connected after") >= 4,
                          "the sessions made again", timeout=30)
        payload = b"after" * 1000
        self.assertEqual(digest_round_trip(self, self.host_sock, payload),
                         f"sshd 5000 {hashlib.sha256(payload).hexdigest()}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
