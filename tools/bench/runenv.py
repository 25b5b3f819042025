"""One benchmark run's sandbox: a "host" and a "guest" network namespace plus the processes
started in them, all removed again by teardown() (which is safe to call more than once).

The host namespace has loopback and a veth pair whose two ends both stay inside it, with a
default route via an address nobody holds: pasta needs an interface with a default route to copy,
and a packet that escapes every mapping dies there instead of reaching a real network. Its address
10.0.2.15/24 with gateway 10.0.2.2 means pasta gives the guest 10.0.2.15 and maps 10.0.2.2 to the
host's loopback, the same target address as slirp4netns.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

HOST_ADDRESS, BLACK_HOLE_GATEWAY = "10.0.2.15/24", "10.0.2.2"
# Per-namespace sysctls: room for a few seconds of connect/close churn.
NAMESPACE_SYSCTLS = {"net.ipv4.ip_local_port_range": "10000 65000", "net.ipv4.tcp_tw_reuse": "1"}


class RunEnv:
    """Namespaces and processes of one (stack, MTU, repetition) run."""
    _counter = 0
    live: set["RunEnv"] = set()  # not yet torn down: swept once more when the benchmark exits

    def __init__(self, work: Path):
        RunEnv._counter += 1
        tag = f"ubench-{os.getpid()}-{RunEnv._counter}"
        self.host, self.guest = tag + "-h", tag + "-g"
        self.work = work
        self.work.mkdir(parents=True, exist_ok=True)
        self.processes: list[tuple[subprocess.Popen, object]] = []
        self.namespaces: list[str] = []
        RunEnv.live.add(self)

    def guest_path(self) -> str:
        """Filesystem path of the guest namespace (what the stacks are given)."""
        return f"/run/netns/{self.guest}"

    def ip(self, *args: str, timeout: float = 10) -> None:
        """Runs one `ip` command (e.g. "-n", ns, "link", ...), raising on failure."""
        result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")

    def create_namespaces(self) -> None:
        """Creates the isolated host namespace (black-hole default route) and the guest one."""
        for ns in (self.host, self.guest):
            self.ip("netns", "add", ns)
            self.namespaces.append(ns)
            self.ip("-n", ns, "link", "set", "lo", "up")
            for key, value in NAMESPACE_SYSCTLS.items():
                self.run(ns, ["sysctl", "-qw", f"{key}={value}"], timeout=5)
        self.ip("-n", self.host, "link", "add", "bh0", "type", "veth", "peer", "name", "bh1")
        self.ip("-n", self.host, "link", "set", "bh0", "up")
        self.ip("-n", self.host, "link", "set", "bh1", "up")
        self.ip("-n", self.host, "addr", "add", HOST_ADDRESS, "dev", "bh0")
        self.ip("-n", self.host, "route", "add", "default", "via", BLACK_HOLE_GATEWAY)

    def run(self, ns: str, argv: list[str], timeout: float, check: bool = True) -> subprocess.CompletedProcess:
        """Runs a command to completion inside a namespace; killed when the timeout expires."""
        try:
            result = subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True,
                                    timeout=timeout)
        except subprocess.TimeoutExpired:
            result = subprocess.CompletedProcess(argv, 124, "", f"timed out after {timeout} s")
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} in {ns}: exit {result.returncode}: {result.stderr.strip()}")
        return result

    def spawn(self, ns: str, argv: list[str], log_name: str) -> int:
        """Starts a background process in a namespace (`ip netns exec` execs it, so the pid is
        the program's own); output goes to WORK/LOG_NAME.log. Returns the pid."""
        log = open(self.work / f"{log_name}.log", "wb")
        process = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append((process, log))
        return process.pid

    def log_tail(self, log_name: str, lines: int = 5) -> str:
        """Last lines of a process log, for error messages."""
        try:
            return "\n".join((self.work / f"{log_name}.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def teardown(self) -> None:
        """SIGTERM every started process (newest first), SIGKILL what is left after 3 s, then
        delete the namespaces."""
        for process, _ in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 3
        for process, log in reversed(self.processes):
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
            log.close()
        self.processes.clear()
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
        self.namespaces.clear()
        RunEnv.live.discard(self)
