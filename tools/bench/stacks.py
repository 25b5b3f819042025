"""The stacks the benchmark compares. Each one knows its binary, how to attach the guest
namespace's tap0 to itself from inside the host namespace, when it is ready, and which guest
address reaches the host namespace's 127.0.0.1 through it."""
from __future__ import annotations

import shutil
import subprocess
import time

from runenv import RunEnv

USERNET_HOST_ALIAS = "192.168.127.254"
USERNET_HOST_ALIAS6 = "fd00::254"
# Port forward measured beside the NAT path: host 127.0.0.1:FORWARD_HOST_PORT ->
# guest :GUEST_IPERF_PORT, for stacks with forwards = True.
FORWARD_HOST_PORT, GUEST_IPERF_PORT = 15300, 5300
USERNET_GUEST = ("192.168.127.2", "192.168.127.1", "5a:94:ef:e4:0c:ee")  # address, gateway, MAC
SLIRP_HOST_ALIAS = "10.0.2.2"
READY_TIMEOUT = 15.0


def guest_has_address(env: RunEnv) -> bool:
    """True once tap0 in the guest is up with an IPv4 address and a default route."""
    addresses = env.run(env.guest, ["ip", "-4", "-o", "addr", "show", "dev", "tap0"], timeout=5, check=False)
    routes = env.run(env.guest, ["ip", "-4", "route", "show", "default"], timeout=5, check=False)
    return "inet " in addresses.stdout and "tap0" in routes.stdout


class Stack:
    """Base: a named stack with the program(s) it needs."""
    name = ""
    target = ""          # guest-side address of the host's loopback
    server_address = "127.0.0.1"  # where the host namespace's servers listen
    forwards = False     # serves FORWARD_HOST_PORT -> guest GUEST_IPERF_PORT
    programs: tuple[str, ...] = ()
    log_name = ""

    def binary(self, program: str, binaries: dict[str, str]) -> str | None:
        """Path of one of the stack's programs: a configured path if it exists, else from PATH."""
        configured = binaries.get(program)
        if configured:
            return configured if shutil.which(configured) else None
        return shutil.which(program)

    def missing(self, binaries: dict[str, str]) -> str | None:
        """Why this stack cannot run here (a missing program), or None."""
        for program in self.programs:
            if not self.binary(program, binaries):
                return f"{binaries.get(program) or program} not found"
        return None

    def version(self, binaries: dict[str, str]) -> str:
        """First non-empty line of `PROGRAM --version` for the record."""
        try:
            result = subprocess.run([self.binary(self.programs[0], binaries), "--version"],
                                    capture_output=True, text=True, timeout=5)
        except (OSError, subprocess.SubprocessError):
            return "?"
        lines = [line for line in (result.stdout + result.stderr).splitlines()
                 if line.strip() and "syslog" not in line]
        return lines[0].strip() if lines else "?"

    def start(self, env: RunEnv, mtu: int, binaries: dict[str, str]) -> list[int]:
        """Starts the stack's processes; returns their pids (measured for CPU and memory)."""
        raise NotImplementedError

    def wait_ready(self, env: RunEnv) -> None:
        """Waits until the guest's tap0 is configured by (or for) the stack."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if guest_has_address(env):
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name}: guest tap0 not configured after {READY_TIMEOUT} s:\n"
                           + env.log_tail(self.log_name))


class Usernetd(Stack):
    """usernetd --tap: creates and configures tap0 in the guest itself, one process."""
    name, target, programs, log_name = "usernetd", USERNET_HOST_ALIAS, ("usernetd",), "usernetd"
    forwards = True

    def start(self, env, mtu, binaries):
        argv = [self.binary("usernetd", binaries), "--tap", "tap0", "--netns", env.guest_path(),
                "--configure", "--mtu", str(mtu), "--dns-upstream", "127.0.0.1", "--log-level", "warn",
                "--forward", f"127.0.0.1:{FORWARD_HOST_PORT}={USERNET_GUEST[0]}:{GUEST_IPERF_PORT}"]
        return [env.spawn(env.host, argv, self.log_name)]


def guest_has_ipv6(env: RunEnv) -> bool:
    """True once tap0 has a usable (not tentative) SLAAC address and an IPv6 default route."""
    addresses = env.run(env.guest, ["ip", "-6", "-o", "addr", "show", "dev", "tap0", "scope", "global"],
                        timeout=5, check=False)
    routes = env.run(env.guest, ["ip", "-6", "route", "show", "default"], timeout=5, check=False)
    usable = [line for line in addresses.stdout.splitlines() if "fd00::" in line and "tentative" not in line]
    return bool(usable) and "tap0" in routes.stdout


class UsernetdIpv6(Usernetd):
    """The usernetd row over IPv6: --ipv6, the guest's SLAAC address, the host alias fd00::254
    reaching the host namespace's ::1 (the IPv6 row next to IPv4 in the same run)."""
    name, target, server_address = "usernetd-ipv6", USERNET_HOST_ALIAS6, "::1"
    forwards = False

    def start(self, env, mtu, binaries):
        argv = [self.binary("usernetd", binaries), "--tap", "tap0", "--netns", env.guest_path(),
                "--configure", "--ipv6", "--mtu", str(mtu), "--dns-upstream", "127.0.0.1", "--log-level", "warn"]
        return [env.spawn(env.host, argv, self.log_name)]

    def wait_ready(self, env):
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if guest_has_address(env) and guest_has_ipv6(env):
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name}: no IPv6 address on tap0 after {READY_TIMEOUT} s:\n"
                           + env.log_tail(self.log_name))


class Forwarder(Stack):
    """usernetd --listen unix:// plus usernet-forwarder on a pre-made tap0 in the guest: the
    VM-like path (namespace TAP -> forwarder -> unix socket -> usernetd). Both pids count."""
    name, target, log_name = "forwarder", USERNET_HOST_ALIAS, "forwarder"
    programs = ("usernetd", "usernet-forwarder")

    def start(self, env, mtu, binaries):
        address, gateway, mac = USERNET_GUEST
        socket_path = env.work / "usernetd.sock"
        daemon = env.spawn(env.host, [self.binary("usernetd", binaries), "--listen", f"unix://{socket_path}",
                                      "--mtu", str(mtu), "--dns-upstream", "127.0.0.1",
                                      "--log-level", "warn"], "usernetd")
        deadline = time.monotonic() + READY_TIMEOUT
        while not socket_path.exists():
            if time.monotonic() > deadline:
                raise RuntimeError("usernetd did not create its socket:\n" + env.log_tail("usernetd"))
            time.sleep(0.05)
        env.ip("-n", env.guest, "tuntap", "add", "dev", "tap0", "mode", "tap")
        env.ip("-n", env.guest, "link", "set", "tap0", "address", mac, "mtu", str(mtu), "up")
        env.ip("-n", env.guest, "addr", "add", f"{address}/24", "dev", "tap0")
        env.ip("-n", env.guest, "route", "add", "default", "via", gateway)
        forwarder = env.spawn(env.guest, [self.binary("usernet-forwarder", binaries), "-url",
                                          f"unix://{socket_path}", "-iface", "tap0", "-preexisting",
                                          "--stop-if-exist="], self.log_name)
        return [daemon, forwarder]


class Slirp4netns(Stack):
    """slirp4netns --configure with the guest namespace by path; 10.0.2.2 is the host loopback."""
    name, target, programs, log_name = "slirp4netns", SLIRP_HOST_ALIAS, ("slirp4netns",), "slirp4netns"

    def start(self, env, mtu, binaries):
        argv = [self.binary("slirp4netns", binaries), "--configure", f"--mtu={mtu}", "--netns-type=path",
                env.guest_path(), "tap0"]
        return [env.spawn(env.host, argv, self.log_name)]


class UsernetSlirp4netns(Slirp4netns):
    """usernetd in slirp4netns mode (its `slirp4netns` symlink) with slirp4netns's own command
    line: the rootless-podman row next to the real slirp4netns."""
    name, programs, log_name = "usernet-slirp4netns", ("usernet-slirp4netns",), "usernet-slirp4netns"

    def start(self, env, mtu, binaries):
        argv = [self.binary("usernet-slirp4netns", binaries), "--configure", f"--mtu={mtu}", "--netns-type=path",
                env.guest_path(), "tap0"]
        return [env.spawn(env.host, argv, self.log_name)]


class Pasta(Stack):
    """pasta in the foreground, attached to the guest namespace, no port forwarding, IPv4 only;
    it copies the host namespace's 10.0.2.15 and maps the gateway 10.0.2.2 to the loopback."""
    name, target, programs, log_name = "pasta", SLIRP_HOST_ALIAS, ("pasta",), "pasta"

    def start(self, env, mtu, binaries):
        argv = [self.binary("pasta", binaries), "--foreground", "--quiet", "--stderr", "--runas", "0",
                "--config-net", "--ns-ifname", "tap0", "--ipv4-only", "--mtu", str(mtu),
                "-t", "none", "-u", "none", "-T", "none", "-U", "none", "--netns", env.guest_path()]
        return [env.spawn(env.host, argv, self.log_name)]


STACKS: dict[str, Stack] = {s.name: s for s in (Usernetd(), UsernetdIpv6(), Forwarder(), Slirp4netns(),
                                                 UsernetSlirp4netns(), Pasta())}
