"""Shared pieces of the usernet-vm e2e tests (stdlib only).

- enter_private_netns(): re-runs the calling test inside a fresh network namespace
  (`unshare --net`, user namespace when not root) with only a loopback, so the test's
  servers live on that namespace's 127.0.0.1 and nothing can reach the real network.
- build_guest(): tools/make-guest.sh output (cached), with the test's guest scripts.
- HttpServer / DnsServer: the host-side services on 127.0.0.1 (random ports).
- Vm: usernet-vm with the guest's serial console on stdout, read line by line.
"""
import http.server
import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

SOURCE = os.environ.get("USERNET_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("USERNET_BUILD_DIR", os.path.join(SOURCE, "build", "asan"))
USERNET_VM = os.path.join(BUILD, "tools", "usernet-vm")
USERNETD = os.path.join(BUILD, "tools", "usernetd")
BOOT_TIMEOUT = 60  # seconds for one guest run under TCG on a loaded 2-core machine

# Guest test script: serve a marker file with busybox httpd on port 80 (for --forward).
SERVE_HTTP = """\
# Test (e2e): serve USERNET_ARG_serve_marker on :80 with busybox httpd.
. /usernet/lib.sh
mkdir -p /run/www
echo "$USERNET_ARG_serve_marker" >/run/www/index.html
httpd -p 80 -h /run/www || exit 1
step serve-http.listening PASS "port=80"
"""


def fail(message):
    print("FAIL: " + message, flush=True)
    sys.exit(1)


def enter_private_netns():
    """Re-executes this script inside a new network namespace with lo up (once)."""
    if os.environ.get("USERNET_E2E_NETNS") == "1":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        return
    env = dict(os.environ, USERNET_E2E_NETNS="1")
    unshare = ["unshare", "--net"] + ([] if os.geteuid() == 0 else ["--map-root-user"])
    os.execvpe(unshare[0], unshare + ["--", sys.executable] + sys.argv, env)


def build_guest(name="e2e-vm-guest", scripts=None, modules=()):
    """Builds (or reuses) a test guest in BUILD/name with the given guest test scripts
    ({file name: text}; default: serve-http.sh) and extra kernel modules; returns its
    directory. The scripts live at fixed paths in the build tree so make-guest.sh's cache hits."""
    outdir = os.path.join(BUILD, name)
    os.makedirs(outdir, exist_ok=True)
    argv = [os.path.join(SOURCE, "tools", "make-guest.sh")]
    for file_name, text in (scripts if scripts is not None else {"serve-http.sh": SERVE_HTTP}).items():
        script = os.path.join(outdir, file_name)
        if not os.path.exists(script) or open(script).read() != text:
            with open(script, "w") as f:
                f.write(text)
        argv += ["--test", script]
    if modules:
        argv += ["--modules", ",".join(modules)]
    subprocess.run(argv + [outdir], check=True, stdout=subprocess.DEVNULL)
    return outdir


def start_usernetd_vfkit(socket_path, *args):
    """usernetd listening for vfkit datagrams on socket_path (plus args); returned once the
    socket exists. The caller terminates it."""
    daemon = subprocess.Popen([USERNETD, "--listen-vfkit", "unixgram://" + socket_path] + list(args),
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not os.path.exists(socket_path):
        if time.monotonic() > deadline or daemon.poll() is not None:
            daemon.kill()
            fail("usernetd did not create %s" % socket_path)
        time.sleep(0.05)
    return daemon


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


class _Http6Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


class HttpServer:
    """An HTTP server on 127.0.0.1 (or another address, e.g. "::1") answering every GET with body."""

    def __init__(self, body, address="127.0.0.1"):
        handler = type("Handler", (_Handler,), {"body": body.encode()})
        server_class = _Http6Server if ":" in address else http.server.ThreadingHTTPServer
        self.server = server_class((address, 0), handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class DnsServer:
    """A UDP DNS server on 127.0.0.1 with A records; other names get NXDOMAIN, other
    types of a known name an empty NOERROR answer. Counts the queries it saw."""

    def __init__(self, records):
        self.records = {name.lower().rstrip("."): ip for name, ip in records.items()}
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            data, peer = self.sock.recvfrom(4096)
            reply = self._answer(data)
            if reply:
                self.sock.sendto(reply, peer)

    def _answer(self, query):
        if len(query) < 12:
            return None
        ident, flags, qdcount = struct.unpack("!HHH", query[:6])
        if qdcount != 1:
            return None
        labels, offset = [], 12
        while offset < len(query) and query[offset] != 0:
            length = query[offset]
            labels.append(query[offset + 1:offset + 1 + length].decode(errors="replace"))
            offset += 1 + length
        offset += 1
        if offset + 4 > len(query):
            return None
        qtype, _ = struct.unpack("!HH", query[offset:offset + 4])
        question = query[12:offset + 4]
        name = ".".join(labels).lower()
        self.queries.append((name, qtype))
        rd = flags & 0x0100
        if name not in self.records:
            return struct.pack("!HHHHHH", ident, 0x8183 | rd, 1, 0, 0, 0) + question
        if qtype != 1:
            return struct.pack("!HHHHHH", ident, 0x8180 | rd, 1, 0, 0, 0) + question
        answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(self.records[name])
        return struct.pack("!HHHHHH", ident, 0x8180 | rd, 1, 1, 0, 0) + question + answer


def guest_cmdline(tests, args, end="poweroff"):
    """Kernel command line of the test guest (console on ttyS0)."""
    words = ["console=ttyS0", "panic=-1", "loglevel=4", "usernet.test=" + ",".join(tests)]
    words += ["usernet.arg.%s=%s" % (k, v) for k, v in args.items()]
    if end != "poweroff":
        words.append("usernet.end=" + end)
    return " ".join(words)


class Vm:
    """usernet-vm running the test guest; console (QEMU's stdout) and log (stderr) kept."""

    def __init__(self, guest, cmdline, devices, extra=(), memory=128, bootloader=None, legacy_boot=False,
                 pass_fds=(), fd_map=None, wrapper=(), env=None):
        """Boots guest's PVH vmlinux with cmdline, or the given --bootloader (e.g. efi,...;
        cmdline is then unused). legacy_boot: vfkit's deprecated --kernel/--initrd/
        --kernel-cmdline instead of --bootloader. pass_fds: descriptors usernet-vm inherits
        (fd=N) under their own numbers; fd_map {number in usernet-vm: descriptor here}:
        inherited under other numbers (a shell moves them, then execs usernet-vm in its
        place). wrapper: words before usernet-vm (e.g. setpriv to run it as another user);
        env: its environment (default: ours)."""
        kernel, initrd = os.path.join(guest, "vmlinux"), os.path.join(guest, "initramfs.cpio.gz")
        if legacy_boot:
            boot = ["--kernel", kernel, "--initrd", initrd, "--kernel-cmdline", cmdline]
        else:
            boot = ["--bootloader", bootloader or "linux,kernel=%s,initrd=%s,\"cmdline=%s\"" % (kernel, initrd, cmdline)]
        argv = list(wrapper) + [USERNET_VM, "--cpus", "1", "--memory", str(memory)] + boot + \
            ["--device", "serial,stdio"]
        for device in devices:
            argv += ["--device", device]
        argv += list(extra)
        moves = " ".join("%d<&%d %d<&-" % (target, source, source)
                         for target, source in (fd_map or {}).items() if target != source)
        if moves:
            argv = ["sh", "-c", "exec %s; exec \"$@\"" % moves, "sh"] + argv
        pass_fds = tuple(pass_fds) + tuple((fd_map or {}).values())
        self.started = time.monotonic()
        self.ended = None
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, pass_fds=pass_fds, env=env)
        self.console = b""
        self.log = b""

    def _pump(self, timeout):
        streams = [s for s in (self.process.stdout, self.process.stderr) if not s.closed]
        ready = select.select(streams, [], [], timeout)[0] if streams else []
        for stream in ready:
            data = os.read(stream.fileno(), 65536)
            if stream is self.process.stdout:
                self.console += data
            else:
                self.log += data
            if not data:
                stream.close()

    def wait_for(self, pattern, timeout=BOOT_TIMEOUT):
        """Reads the console until a line matches pattern; fails on timeout or exit."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern.encode(), re.M)
        while not regex.search(self.console):
            if time.monotonic() > deadline:
                self.kill()
                fail("no %r within %d s\n%s" % (pattern, timeout, self.report()))
            if self.process.poll() is not None and self.process.stdout.closed:
                fail("usernet-vm exited (%s) before %r\n%s" % (self.process.returncode, pattern, self.report()))
            self._pump(0.5)

    def finish(self, timeout=BOOT_TIMEOUT):
        """Waits for usernet-vm to exit; returns its status."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None or not (self.process.stdout.closed and self.process.stderr.closed):
            if time.monotonic() > deadline:
                self.kill()
                fail("usernet-vm did not exit within %d s\n%s" % (timeout, self.report()))
            self._pump(0.5)
            if self.ended is None and self.process.poll() is not None:
                self.ended = time.monotonic()
        if self.ended is None:
            self.ended = time.monotonic()
        return self.process.returncode

    def signal(self, signum):
        self.process.send_signal(signum)

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def text(self):
        return self.console.decode(errors="replace")

    def report(self):
        return "--- console ---\n%s\n--- usernet-vm log ---\n%s" % (self.text(), self.log.decode(errors="replace"))

    def steps(self):
        """{name: (PASS|FAIL, detail)} from the USERNET-STEP lines."""
        return {name: (result, detail) for name, result, detail in
                re.findall(r"^USERNET-STEP (\S+) (PASS|FAIL) ?(.*?)\r?$", self.text(), re.M)}

    def expect_steps(self, expected):
        """expected: {step name: regex the detail must match}."""
        steps = self.steps()
        for name, pattern in expected.items():
            if name not in steps:
                fail("no USERNET-STEP %s\n%s" % (name, self.report()))
            result, detail = steps[name]
            if result != "PASS" or not re.search(pattern, detail):
                fail("step %s: %s %r (want %r)\n%s" % (name, result, detail, pattern, self.report()))


def read_to_end(sock):
    """Reads a connection until the peer closes it (HTTP with Connection: close)."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def rest(path, method="GET", body=None, unix_path=None):
    """One HTTP request to the REST API on a unix socket; returns (status, parsed body)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(unix_path)
        payload = json.dumps(body).encode() if body is not None else b""
        s.sendall(("%s %s HTTP/1.1\r\nHost: vm\r\nContent-Length: %d\r\n\r\n" % (method, path, len(payload))).encode()
                  + payload)
        data = read_to_end(s)
    head, _, content = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    try:
        return status, json.loads(content)
    except ValueError:
        return status, content.decode(errors="replace")


def http_get(port, host="127.0.0.1", timeout=10):
    """GET / on host:port over plain sockets; returns the body."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(b"GET / HTTP/1.0\r\nHost: guest\r\n\r\n")
        data = read_to_end(s)
    return data.partition(b"\r\n\r\n")[2].decode(errors="replace")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


__all__ = ["BUILD", "SOURCE", "USERNETD", "USERNET_VM", "DnsServer", "HttpServer", "Vm", "build_guest",
           "enter_private_netns", "fail", "free_port", "guest_cmdline", "http_get", "rest", "signal",
           "start_usernetd_vfkit"]
