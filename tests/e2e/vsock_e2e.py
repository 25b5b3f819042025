"""Shared pieces of the vsock end-to-end tests: locating programs, building the test guest
with vsock-echo and generated test scripts, running usernet-vsockd and QEMU (TCG), and
reading the guest's USERNET-STEP console lines. Python standard library only.

Every socket here is a unix socket in a private temporary directory; no IP traffic and
never the machine's own /dev/vsock."""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

SOURCE = os.environ.get("USERNET_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("USERNET_BUILD_DIR") or os.path.join(SOURCE, "build", "asan")


def skip(reason):
    """Ends the test as skipped: exit 77, which ctest reports as skipped (SKIP_RETURN_CODE)."""
    print(f"SKIP: {reason}")
    sys.exit(77)


def program(name):
    """Path of a built program, or a skip when it is missing."""
    path = os.path.join(BUILD, "tools", name)
    if not os.access(path, os.X_OK):
        skip(f"{path} not built")
    return path


def require_qemu():
    if not shutil.which("qemu-system-x86_64"):
        skip("qemu-system-x86_64 not installed (tools/setup-deps.sh)")


class Workdir:
    """A private temporary directory, removed at exit unless USERNET_KEEP is set."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="usernet-vsock-")

    def __call__(self, *parts):
        return os.path.join(self.path, *parts)

    def cleanup(self):
        if not os.environ.get("USERNET_KEEP"):
            shutil.rmtree(self.path, ignore_errors=True)


def build_guest(work, tests):
    """Builds the guest with vsock-echo and the given {name: script body} tests; returns
    (kernel, initrd)."""
    args = [os.path.join(SOURCE, "tools", "make-guest.sh"), "--add", program("vsock-echo")]
    for name, body in tests.items():
        path = work(f"{name}.sh")
        with open(path, "w") as f:
            f.write(". /usernet/lib.sh\n" + body)
        args += ["--test", path]
    out = work("guest")
    subprocess.run(args + [out], check=True, stdout=subprocess.DEVNULL)
    return os.path.join(out, "vmlinux"), os.path.join(out, "initramfs.cpio.gz")


def start_vsockd(session, cid=3, extra=()):
    """Starts usernet-vsockd (stopped when the session ends); returns (process, vhost
    socket path, uds base path)."""
    work = session.work
    vhost = work("vhost.sock")
    uds = work("vsock")
    log = open(work("vsockd.log"), "w")
    proc = subprocess.Popen([program("usernet-vsockd"), "--socket", vhost, "--uds-path", uds,
                             "--guest-cid", str(cid), *extra], stdout=log, stderr=log)
    session.on_exit(lambda: stop_process(proc))
    for _ in range(500):
        if os.path.exists(vhost) and os.path.exists(uds):
            return proc, vhost, uds
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    raise RuntimeError("usernet-vsockd did not start: " + open(work("vsockd.log")).read())


class Guest:
    """QEMU under TCG with a vhost-user-vsock device; collects console lines in a thread.
    Killed when the session ends."""

    def __init__(self, session, kernel, initrd, vhost_socket, cmdline, extra_args=(),
                 allow_reboot=False):
        work = session.work
        self.lines = []
        self.cond = threading.Condition()
        self.log = open(work("console.log"), "w")
        args = ["qemu-system-x86_64", "-accel", "tcg", "-smp", "1", "-m", "128", "-nographic",
                *([] if allow_reboot else ["-no-reboot"]),
                "-nic", "none", "-kernel", kernel, "-initrd", initrd,
                "-append", "console=ttyS0 panic=-1 loglevel=4 usernet.dhcp=off " + cmdline,
                "-object", "memory-backend-memfd,id=mem,size=128M,share=on",
                "-machine", "memory-backend=mem",
                "-chardev", f"socket,id=vs0,path={vhost_socket}",
                "-device", "vhost-user-vsock-pci,chardev=vs0", *extra_args]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        threading.Thread(target=self._read, daemon=True).start()
        session.on_exit(self.stop)

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\r\n")
            self.log.write(line + "\n")
            self.log.flush()
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # end of console
            self.cond.notify_all()

    def wait_for(self, prefix, timeout, occurrence=1):
        """Returns the `occurrence`-th console line starting with `prefix`, or None on
        timeout or when the console ends."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [line for line in self.lines if line is not None and line.startswith(prefix)]
                if len(found) >= occurrence:
                    return found[occurrence - 1]
                if None in self.lines:
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def steps(self):
        """{name: (PASS|FAIL, detail)} of every USERNET-STEP line so far."""
        result = {}
        with self.cond:
            for line in self.lines:
                if line and line.startswith("USERNET-STEP "):
                    parts = line.split(" ", 3)
                    result[parts[1]] = (parts[2], parts[3] if len(parts) > 3 else "")
        return result

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def listen_unix(path):
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(64)
    return s


def stop_process(proc, timeout=5):
    """SIGTERM, then SIGKILL; returns the exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


FAILURES = []


def check(condition, message):
    """Records one named check: printed as ok/FAIL, failures counted for result()."""
    print(("ok   " if condition else "FAIL ") + message, flush=True)
    if not condition:
        FAILURES.append(message)


class Session:
    """A test's work directory and everything it started. On exit, the registered
    cleanups run newest first; logs are kept when a check failed or an exception escaped."""

    def __init__(self):
        self.work = Workdir()
        self._cleanups = []

    def on_exit(self, cleanup):
        self._cleanups.append(cleanup)
        return cleanup

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        for cleanup in reversed(self._cleanups):
            cleanup()
        if FAILURES or exc_type is not None:
            print("logs kept in", self.work.path)
        else:
            self.work.cleanup()
        return False


def result():
    """Exit status of the test: 0 when every check passed."""
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("all passed")
    return 0
