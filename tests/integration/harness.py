"""Network-namespace harness for usernet integration tests (Python stdlib only).

Every test runs usernetd inside a "host" namespace it creates: loopback plus a veth
pair whose ends both stay inside it and a default route to an address nobody answers
(a black hole), so no NAT bug can reach the real network. Test servers listen on that
namespace's 127.0.0.1; the guest is a second namespace. Both are deleted afterwards.
"""
import atexit
import json
import os
import pwd
import re
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

SOURCE_DIR = os.environ.get("USERNET_SOURCE_DIR",
                            os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD_DIR = os.environ.get("USERNET_BUILD_DIR", os.path.join(SOURCE_DIR, "build", "asan"))
# The first line of an AddressSanitizer, LeakSanitizer, ThreadSanitizer or UBSan report.
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error: ")
PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peer.py")
# The guest server port-forward tests reach (TCP 8000 "from ADDRESS got N", UDP 8001 echo).
FORWARD_TARGET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "forward_target.py")

GATEWAY = "192.168.127.1"
HOST_ALIAS = "192.168.127.254"
GUEST_IP = "192.168.127.2"
NOBODY = "198.51.100.7"  # TEST-NET-2: routed into the host namespace's black hole


def binary(name, build_dir=None):
    """Path of a program built by CMake (tools/)."""
    return os.path.join(build_dir or BUILD_DIR, "tools", name)


def run(args, check=True, **kwargs):
    """Runs a command, returning CompletedProcess with text output."""
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    result = subprocess.run(args, **kwargs)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


class Namespace:
    """A network namespace made by this test; deleted on close()."""

    def __init__(self, role):
        self.name = f"un-{role}-{os.getpid()}"
        run(["ip", "netns", "add", self.name])
        self.path = f"/run/netns/{self.name}"
        self.ip("link", "set", "lo", "up")

    def ip(self, *args, check=True):
        return run(["ip", "-n", self.name, *args], check=check)

    def cmd(self, args):
        return ["ip", "netns", "exec", self.name, *args]

    def run(self, args, check=True, **kwargs):
        return run(self.cmd(args), check=check, **kwargs)

    def popen(self, args, **kwargs):
        return subprocess.Popen(self.cmd(args), **kwargs)

    def close(self):
        run(["ip", "netns", "del", self.name], check=False)


class Network:
    """A host namespace (black-holed) and a guest namespace, plus processes to reap."""

    def __init__(self):
        self.processes = []
        self.logs = []
        self.host = Namespace("host")
        self.guest = Namespace("guest")
        h = self.host
        h.ip("link", "add", "bh0", "type", "veth", "peer", "name", "bh1")
        h.ip("link", "set", "bh0", "up")
        h.ip("link", "set", "bh1", "up")
        h.ip("addr", "add", "10.255.255.1/24", "dev", "bh0")
        h.ip("route", "add", "default", "via", "10.255.255.2")  # nobody answers there
        # Let unprivileged ICMP sockets work in the host namespace (ICMP echo NAT).
        h.run(["sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"])
        atexit.register(self.close)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: sys.exit(1))

    def add_server_link(self, name, address):
        """A veth link in the host namespace with `address` (a prefix, e.g. "10.77.0.1/24"):
        a stand-in for a network beyond the host that servers can listen on."""
        h = self.host
        h.ip("link", "add", name, "type", "veth", "peer", "name", name + "p")
        h.ip("link", "set", name, "up")
        h.ip("link", "set", name + "p", "up")
        h.ip(*(["-6"] if ":" in address else []), "addr", "add", address, "dev", name,
             *(["nodad"] if ":" in address else []))

    def serve_host_resolver(self, *records):
        """Makes the host namespace's resolver a dnsmasq on its 127.0.0.1 and ::1 answering
        `records` (--address=/NAME/IP ...): `ip netns exec` bind-mounts
        /etc/netns/NAME/resolv.conf over /etc/resolv.conf for what it starts, so programs that
        follow resolv.conf never ask the machine's resolver. Both families: libslirp forwards
        fd00::3 only to an IPv6 nameserver."""
        self._etc = f"/etc/netns/{self.host.name}"
        os.makedirs(self._etc, exist_ok=True)
        with open(f"{self._etc}/resolv.conf", "w") as f:
            f.write("nameserver 127.0.0.1\nnameserver ::1\n")
        self.start(self.host, ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                               "--listen-address=127.0.0.1,::1", "--port=53", "--bind-interfaces", "--user=root",
                               "--pid-file=", *records], log_name="dnsmasq")

    def scratch(self):
        """A temporary directory removed with the network."""
        if not getattr(self, "_scratch", None):
            self._scratch = tempfile.mkdtemp(prefix="usernet-test-")
        return self._scratch

    def start(self, ns, args, log_name=None):
        """Starts a long-running process in a namespace; output goes to a log file."""
        log = tempfile.NamedTemporaryFile(prefix=f"{log_name or 'proc'}-", suffix=".log", delete=False)
        proc = ns.popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.processes.append(proc)
        self.logs.append((log_name or args[0], log.name))
        return proc

    def start_peer(self, ns, *args, bind=None):
        """Starts tests/integration/peer.py in server mode; waits until it listens.
        bind: the address it listens on (default 127.0.0.1)."""
        env = ["env", f"PEER_BIND={bind}"] if bind else []
        proc = self.start(ns, [*env, sys.executable, PEER, *args], log_name=f"peer-{args[0]}")
        time.sleep(0.3)
        return proc

    def start_usernetd(self, *extra, tap=True, configure=True, build_dir=None, wait_for_tap=True, wrapper=()):
        """wrapper: a command usernetd runs under, e.g. ["prlimit", "--nofile=1024:20000"] (it must exec)."""
        args = [*wrapper, binary("usernetd", build_dir)]
        if tap:
            args += ["--tap", "tap0", "--netns", self.guest.path]
            if configure:
                args.append("--configure")
        args += list(extra)
        proc = self.start(self.host, args, log_name="usernetd")
        if tap and wait_for_tap:
            ready = "UP" if configure else "tap0"  # unconfigured TAPs stay down
            self.wait_for(lambda: ready in self.guest.ip("link", "show", "tap0", check=False).stdout
                          or proc.poll() is not None, "tap0 in the guest namespace")
            if proc.poll() is not None:
                raise RuntimeError("usernetd exited early:\n" + self.log_of("usernetd"))
        return proc

    def log_of(self, name):
        for log_name, path in reversed(self.logs):
            if log_name == name:
                with open(path, errors="replace") as f:
                    return f.read()
        return ""

    @staticmethod
    def wait_for(predicate, what, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise TimeoutError(f"timed out waiting for {what}")

    def guest_peer(self, *args, timeout=120, check=True):
        """Runs peer.py in client mode in the guest; returns its stdout."""
        return self.guest.run([sys.executable, PEER, *args], check=check, timeout=timeout).stdout

    def stop(self, proc, timeout=10):
        """SIGTERM, then wait; returns the exit code."""
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def sanitizer_reports(self):
        """Sanitizer findings in the logs of the processes this network started. Tests that
        never check an exit code would otherwise miss a report printed at shutdown."""
        found = []
        for name, path in self.logs:
            try:
                with open(path, errors="replace") as f:
                    text = f.read()
            except OSError:
                continue
            for line in text.splitlines():
                if SANITIZER_REPORT.search(line):
                    found.append(f"{name}: {line.strip()}")
        return found

    def close(self):
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.processes = []
        reports = self.sanitizer_reports()
        if getattr(self, "_etc", None):
            subprocess.run(["rm", "-rf", self._etc])
            self._etc = None
        self.host.close()
        self.guest.close()
        if getattr(self, "_scratch", None):
            subprocess.run(["rm", "-rf", self._scratch])
            self._scratch = None
        for _, path in self.logs:
            try:
                os.unlink(path)
            except OSError:
                pass
        self.logs = []
        if reports:
            raise AssertionError("sanitizer reports:\n" + "\n".join(reports[:20]))


def check_upload(test, net, host, port, size):
    """The guest sends `size` random bytes to a tcp-sink peer at host:port; what arrived is checked."""
    result = json.loads(net.guest_peer("upload", host, str(port), str(size), timeout=180))
    test.assertEqual(result["remote"]["bytes"], size)
    test.assertEqual(result["remote"]["sha256"], result["sha256"])


def check_download(test, net, host, port, size):
    """The guest fetches `size` seeded bytes from a tcp-source peer at host:port, checked."""
    result = json.loads(net.guest_peer("download", host, str(port), str(size), timeout=180))
    test.assertEqual(result["bytes"], size)
    test.assertEqual(result["sha256"], result["expected"])


def api_stats(api_socket):
    """usernetd's /stats counters, read over the unix API socket."""
    out = run(["curl", "-sf", "--max-time", "5", "--unix-socket", api_socket, "http://x/stats"]).stdout
    return json.loads(out)


def stat_value(stats, name, **labels):
    """A counter from api_stats: a plain value, or the sum of the samples matching LABELS."""
    entry = stats.get(name, 0)
    if isinstance(entry, int):
        return entry
    return sum(s["value"] for s in entry if all(s["labels"].get(k) == v for k, v in labels.items()))


def rss_kib(pid):
    """Resident set size of a process in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def usernetd_pid(proc):
    """The pid of usernetd itself (proc is `ip netns exec`, which execs it)."""
    return proc.pid


RESET_PROBE = """
import socket, sys, time
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
    time.sleep(0.5)
    c.sendall(b"x")
    data = c.recv(10); print("eof" if not data else "data")
except ConnectionResetError:
    print("reset")"""


def connection_outcome(ns, host, port):
    """Connects from namespace NS, waits, writes: "reset", "eof" or "data"."""
    return ns.run([sys.executable, "-c", RESET_PROBE, host, str(port)], timeout=30).stdout.strip()


class UsernetdTestCase(unittest.TestCase):
    """A test class whose setUpClass makes cls.net and starts cls.usernetd: usernetd must
    exit 0 on SIGTERM when the class is done; peer() runs peer.py in the guest (JSON)."""

    @classmethod
    def tearDownClass(cls):
        code = cls.net.stop(cls.usernetd)
        cls.net.close()
        assert code == 0, f"usernetd exited with {code} on SIGTERM"

    def peer(self, *args, timeout=180):
        return json.loads(self.net.guest_peer(*args, timeout=timeout))


def ensure_test_user(user):
    """A test user for rootless tools (podman, RootlessKit), made if missing, with
    subordinate uid and gid ranges in /etc/subuid and /etc/subgid; its pwd entry."""
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        run(["useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", user])
        pw = pwd.getpwnam(user)
    for path in ("/etc/subuid", "/etc/subgid"):
        lines = []
        if os.path.exists(path):
            with open(path) as f:
                lines = [line.strip().split(":") for line in f if line.strip()]
        if any(fields[0] in (user, str(pw.pw_uid)) for fields in lines):
            continue
        end = max([100000] + [int(f[1]) + int(f[2]) for f in lines if len(f) == 3 and f[1].isdigit() and f[2].isdigit()])
        with open(path, "a") as f:
            f.write(f"{user}:{end}:65536\n")
    return pw


def open_tun_to_everyone():
    """Makes /dev/net/tun mode 0666 (Debian's udev rule; this machine has 0600) for tools that
    open it from a rootless user namespace; returns the mode to restore_tun, or None."""
    mode = stat.S_IMODE(os.stat("/dev/net/tun").st_mode)
    if mode & 0o006 == 0o006:
        return None
    os.chmod("/dev/net/tun", 0o666)
    return mode


def restore_tun(mode):
    if mode is not None:
        os.chmod("/dev/net/tun", mode)


def slaac_address(net, prefix="fd00::"):
    """The guest's usable (not tentative) global address on tap0 in `prefix`, or None."""
    out = net.guest.run(["ip", "-6", "-j", "addr", "show", "dev", "tap0", "scope", "global"]).stdout
    for interface in json.loads(out or "[]"):
        for a in interface.get("addr_info", []):
            if a.get("local", "").startswith(prefix) and "tentative" not in a:
                return a["local"]
    return None


def wait_for_slaac(net):
    """Waits for the guest's SLAAC address in fd00::/64 and returns it."""
    net.wait_for(lambda: slaac_address(net) is not None, "a SLAAC address in fd00::/64", timeout=20)
    return slaac_address(net)


def startup_failure(*args):
    """Runs usernetd with `args` (on a TAP in a fresh guest namespace), which must fail at
    start: returns what it printed."""
    net = Network()
    try:
        result = net.host.run([binary("usernetd"), "--tap", "tapx", "--netns", net.guest.path, *args],
                              check=False, timeout=20)
        if result.returncode == 0:
            raise AssertionError(f"usernetd {' '.join(args)} started")
        return result.stdout + result.stderr
    finally:
        net.close()
