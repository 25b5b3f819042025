#!/usr/bin/env python3
"""usernet benchmark: usernetd side by side with slirp4netns and pasta.

For every repetition, MTU and stack (interleaved, stack order rotated per repetition) it builds
two fresh network namespaces: an isolated "host" (loopback plus a veth pair whose ends both stay
inside it, default route to a next hop that never answers: pasta wants an external interface,
and nothing can leave) and a "guest". The servers (iperf3 and rr's echo server) listen on the
host namespace's 127.0.0.1; the stack under test gives the guest a TAP; the clients run in the
guest and reach the servers through the stack's host-loopback mapping (10.0.2.2 for slirp4netns
and pasta, 192.168.127.254 for usernetd).

Per run: iperf3 single stream up (guest -> host) and -R down, 1-byte TCP_NODELAY round trips
(p50/p99), connect/round-trip/close rate, stack CPU seconds per GB over the two iperf3 runs
(utime+stime of the stack's processes), the same rate with the server closing first (the stack
then holds TIME_WAIT towards the guest), peak RSS (VmHWM) and idle RSS (VmRSS before traffic).
Medians over the repetitions are printed as one table per MTU with ratios to slirp4netns, the
issue's targets are checked, and everything (raw runs too) is written as JSON.

Run as root from the repository: tools/bench/bench.py [--quick] [--mtu 1500,65520] [--runs 3]
A stack whose binary is missing is skipped with a note. Every command has a timeout; processes
and namespaces are removed on exit, on error and on Ctrl-C.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runenv import RunEnv  # noqa: E402
from stacks import FORWARD_HOST_PORT, GUEST_IPERF_PORT, STACKS, Stack  # noqa: E402
from report import format_report  # noqa: E402
from scale import format_scale_report, measure_levels  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
IPERF_UP_PORT, IPERF_DOWN_PORT, RR_PORT = 5201, 5202, 7000  # rr also serves CRR on 7001..7009
READY_TIMEOUT = 15.0


@dataclass
class Settings:
    """What one invocation measures and how long each measurement lasts."""
    mtus: list[int]
    runs: int
    seconds: int
    rr_count: int
    rr_warmup: int
    crr_seconds: int
    stacks: list[Stack]
    json_path: Path
    binaries: dict[str, str] = field(default_factory=dict)
    scale_levels: list[int] = field(default_factory=list)  # non-empty: --scale mode


def log(message: str) -> None:
    """Progress line on stderr, prefixed with the time since start."""
    print(f"[{time.monotonic() - START:6.1f}s] {message}", file=sys.stderr, flush=True)


START = time.monotonic()


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads) in seconds, 0 if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_memory_kib(pid: int, key: str) -> int:
    """A /proc/PID/status memory line (VmRSS, VmHWM) in KiB, 0 if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def iperf3(env: RunEnv, target: str, port: int, seconds: int, reverse: bool, ns: str | None = None) -> dict:
    """One single-stream iperf3 run (from the guest unless `ns`); returns Gbit/s, bytes and retransmits."""
    argv = ["iperf3", "-c", target, "-p", str(port), "-t", str(seconds), "-J",
            "--connect-timeout", "3000"] + (["-R"] if reverse else [])
    result = env.run(ns or env.guest, argv, timeout=seconds + 20, check=False)
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError:
        return {"error": f"iperf3 exit {result.returncode}: {result.stderr.strip()[:200]}"}
    if "error" in data:
        return {"error": "iperf3: " + str(data["error"])}
    received, sent = data["end"]["sum_received"], data["end"]["sum_sent"]
    return {"gbps": received["bits_per_second"] / 1e9, "bytes": received["bytes"],
            "retransmits": sent.get("retransmits")}


def rr_client(env: RunEnv, rr: Path, args: list[str], timeout: float) -> dict:
    """Runs the rr tool in the guest and returns its JSON line, or an error entry."""
    result = env.run(env.guest, [str(rr), *args], timeout=timeout, check=False)
    if result.returncode != 0:
        return {"error": f"rr {args[0]} exit {result.returncode}: {result.stderr.strip()[:200]}"}
    return json.loads(result.stdout)


def wait_until_reachable(env: RunEnv, rr: Path, target: str, pids: list[int]) -> None:
    """Retries one short RR exchange through the stack until it works (one connect check)."""
    deadline = time.monotonic() + READY_TIMEOUT
    last = ""
    while time.monotonic() < deadline:
        if any(not Path(f"/proc/{pid}").exists() for pid in pids):
            raise RuntimeError("stack process exited during start-up; see its log in " + str(env.work))
        result = env.run(env.guest, [str(rr), "rr", target, str(RR_PORT), "3", "0"], timeout=8, check=False)
        if result.returncode == 0:
            return
        last = result.stderr.strip()
        time.sleep(0.2)
    raise RuntimeError(f"no TCP round trip to {target}:{RR_PORT} through the stack: {last}")


def guest_mtu(env: RunEnv) -> int | None:
    """MTU of the guest's tap0 as the stack configured it."""
    result = env.run(env.guest, ["cat", "/sys/class/net/tap0/mtu"], timeout=5, check=False)
    return int(result.stdout) if result.returncode == 0 else None


def measure_one(settings: Settings, stack: Stack, mtu: int, repetition: int, rr: Path,
                scratch: Path) -> dict:
    """Namespaces, servers, stack, all metrics for one (stack, MTU, repetition); always torn down."""
    record: dict = {"stack": stack.name, "mtu": mtu, "run": repetition,
                    "load1": float(Path("/proc/loadavg").read_text().split()[0])}
    env = RunEnv(scratch / f"{stack.name}-{mtu}-{repetition}")
    try:
        env.create_namespaces()
        for port in (IPERF_UP_PORT, IPERF_DOWN_PORT):
            env.spawn(env.host, ["iperf3", "-s", "-B", stack.server_address, "-p", str(port)], f"iperf3-{port}")
        env.spawn(env.host, [str(rr), "server", str(RR_PORT), stack.server_address], "rr-server")
        pids = stack.start(env, mtu, settings.binaries)
        stack.wait_ready(env)
        time.sleep(0.5)  # let start-up allocations settle before reading idle memory
        record["idle_rss_mb"] = sum(process_memory_kib(p, "VmRSS") for p in pids) / 1024
        wait_until_reachable(env, rr, stack.target, pids)
        record["guest_mtu"] = guest_mtu(env)

        cpu_start = sum(process_cpu_seconds(p) for p in pids)
        up = iperf3(env, stack.target, IPERF_UP_PORT, settings.seconds, reverse=False)
        cpu_middle = sum(process_cpu_seconds(p) for p in pids)
        down = iperf3(env, stack.target, IPERF_DOWN_PORT, settings.seconds, reverse=True)
        cpu_end = sum(process_cpu_seconds(p) for p in pids)
        record["up"], record["down"] = up, down
        record["cpu_s_up"], record["cpu_s_down"] = cpu_middle - cpu_start, cpu_end - cpu_middle
        moved = up.get("bytes", 0) + down.get("bytes", 0)
        if "error" not in up and "error" not in down and moved > 0:
            record["cpu_s_per_gb"] = (cpu_end - cpu_start) / (moved / 1e9)

        if stack.forwards:
            # The port forward beside the NAT path: a host client into a guest server.
            env.spawn(env.guest, ["iperf3", "-s", "-p", str(GUEST_IPERF_PORT)], "iperf3-guest")
            time.sleep(0.5)
            record["fwd_in"] = iperf3(env, "127.0.0.1", FORWARD_HOST_PORT, settings.seconds, False, ns=env.host)
            record["fwd_out"] = iperf3(env, "127.0.0.1", FORWARD_HOST_PORT, settings.seconds, True, ns=env.host)

        rr_timeout = 30 + settings.rr_count * 0.005
        record["rr"] = rr_client(env, rr, ["rr", stack.target, str(RR_PORT), str(settings.rr_count),
                                           str(settings.rr_warmup)], timeout=rr_timeout)
        record["crr"] = rr_client(env, rr, ["crr", stack.target, str(RR_PORT), str(settings.crr_seconds)],
                                  timeout=settings.crr_seconds + 30)
        record["peak_rss_mb"] = sum(process_memory_kib(p, "VmHWM") for p in pids) / 1024
        # Last, because a stack keeping TIME_WAIT state (with buffers) may grow a lot here.
        record["crr_server_close"] = rr_client(env, rr, ["crr-server-close", stack.target, str(RR_PORT),
                                                         str(settings.crr_seconds)], timeout=settings.crr_seconds + 30)
        record["peak_rss_after_server_close_mb"] = sum(process_memory_kib(p, "VmHWM") for p in pids) / 1024
        if any(not Path(f"/proc/{pid}").exists() for pid in pids):
            record["error"] = "a stack process died during the run"
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        record["error"] = str(error)
    finally:
        env.teardown()
    return record


def measure_scale_one(settings: Settings, stack: Stack, mtu: int, repetition: int, rr: Path,
                      scratch: Path) -> dict:
    """--scale: one stack in fresh namespaces, measured at every held-connection level."""
    record: dict = {"stack": stack.name, "mtu": mtu, "run": repetition,
                    "load1": float(Path("/proc/loadavg").read_text().split()[0])}
    env = RunEnv(scratch / f"scale-{stack.name}-{mtu}-{repetition}")
    try:
        env.create_namespaces()
        env.spawn(env.host, ["iperf3", "-s", "-B", "127.0.0.1", "-p", str(IPERF_UP_PORT)], "iperf3-up")
        env.spawn(env.host, [str(rr), "server", str(RR_PORT)], "rr-server")
        pids = stack.start(env, mtu, settings.binaries)
        stack.wait_ready(env)
        wait_until_reachable(env, rr, stack.target, pids)
        record["levels"] = measure_levels(env, stack, pids, str(rr), {"rr": RR_PORT, "iperf_up": IPERF_UP_PORT},
                                          settings.scale_levels, settings, process_memory_kib, iperf3, rr_client)
        if any(not Path(f"/proc/{pid}").exists() for pid in pids):
            record["error"] = "a stack process died during the run"
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        record["error"] = str(error)
    finally:
        env.teardown()
    return record


def build_rr(scratch: Path) -> Path:
    """Compiles rr.c with the system cc into the scratch folder."""
    binary = scratch / "rr"
    source = Path(__file__).resolve().parent / "rr.c"
    subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-o", str(binary), str(source)],
                   check=True, timeout=120)
    return binary


def stack_versions(stacks: list[Stack], binaries: dict[str, str]) -> dict[str, str]:
    """First version line of each stack's program, for the JSON record."""
    versions = {}
    for stack in stacks:
        versions[stack.name] = stack.version(binaries)
    return versions


def parse_args(argv: list[str]) -> Settings:
    """Command line -> Settings; --quick shrinks everything to a smoke check."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mtu", default="1500,65520", help="comma-separated MTUs (default 1500,65520)")
    parser.add_argument("--runs", "-r", type=int, default=3, help="repetitions per stack and MTU (default 3)")
    parser.add_argument("--seconds", "-t", type=int, default=5, help="iperf3 seconds per direction (default 5)")
    parser.add_argument("--rr-count", type=int, default=20000, help="timed 1-byte round trips (default 20000)")
    parser.add_argument("--crr-seconds", type=int, default=3, help="seconds of connect/close (default 3)")
    parser.add_argument("--stacks", default=",".join(STACKS),
                        help=f"comma-separated subset of {','.join(STACKS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="1 run, 2 s iperf3, 2000 RR, 1 s CRR")
    parser.add_argument("--usernetd", default=str(REPO / "build/release/tools/usernetd"))
    parser.add_argument("--forwarder", default=str(REPO / "build/release/tools/usernet-forwarder"))
    parser.add_argument("--json", default=None, help="result file (default build/bench/bench-TIME.json)")
    parser.add_argument("--scale", action="store_true",
                        help="measure held-connection scaling instead (first MTU only; see scale.py)")
    parser.add_argument("--scale-levels", default="0,1000,10000",
                        help="held connections per step of --scale (default 0,1000,10000)")
    parser.add_argument("--summarise", nargs="+", metavar="JSON",
                        help="measure nothing: pool the runs of earlier result files and print their table")
    args = parser.parse_args(argv)
    if args.summarise:
        sys.exit(summarise_files([Path(p) for p in args.summarise]))
    if args.quick:
        args.runs, args.seconds, args.rr_count, args.crr_seconds = 1, 2, 2000, 1
    try:
        mtus = [int(m) for m in args.mtu.split(",") if m]
    except ValueError:
        parser.error(f"--mtu: not a list of numbers: {args.mtu}")
    if not mtus or any(m < 576 or m > 65520 for m in mtus):
        parser.error("--mtu values must be 576..65520")
    if args.runs < 1 or args.seconds < 1 or args.rr_count < 1 or args.crr_seconds < 1:
        parser.error("--runs, --seconds, --rr-count and --crr-seconds must be positive")
    names = [n for n in args.stacks.split(",") if n]
    unknown = [n for n in names if n not in STACKS]
    if unknown:
        parser.error(f"unknown stack(s) {','.join(unknown)}; known: {','.join(STACKS)}")
    binaries = {"usernetd": args.usernetd, "usernet-forwarder": args.forwarder,
                # usernetd in slirp4netns mode: the symlink the build makes next to it
                "usernet-slirp4netns": str(Path(args.usernetd).parent / "slirp4netns")}
    stacks = []
    for name in names:
        stack = STACKS[name]
        missing = stack.missing(binaries)
        if missing:
            print(f"bench: skipping {name}: {missing}", file=sys.stderr)
        else:
            stacks.append(stack)
    if not stacks:
        parser.error("no stack to measure")
    json_path = Path(args.json) if args.json else REPO / "build/bench" / time.strftime("bench-%Y%m%d-%H%M%S.json")
    scale_levels = []
    if args.scale:
        try:
            scale_levels = sorted({int(n) for n in args.scale_levels.split(",") if n})
        except ValueError:
            parser.error(f"--scale-levels: not a list of numbers: {args.scale_levels}")
        if not scale_levels or scale_levels[0] < 0:
            parser.error("--scale-levels must be counts >= 0")
        mtus = mtus[:1]
    return Settings(mtus, args.runs, args.seconds, args.rr_count, max(1, args.rr_count // 20),
                    args.crr_seconds, stacks, json_path, binaries, scale_levels)


def summarise_files(paths: list[Path]) -> int:
    """Prints the table for the pooled runs of earlier result files (e.g. two invocations)."""
    try:
        files = [json.loads(path.read_text()) for path in paths]
    except (OSError, json.JSONDecodeError) as error:
        print(f"bench: cannot read results: {error}", file=sys.stderr)
        return 1
    records = [run for data in files for run in data["runs"]]
    meta = dict(files[-1]["meta"], runs=sum(data["meta"]["runs"] for data in files))
    meta["mtus"] = sorted({run["mtu"] for run in records})
    stacks = list(dict.fromkeys(run["stack"] for run in records))
    if "scale_levels" in meta:
        print(format_scale_report(records, stacks, meta["scale_levels"])[0])
        return 0
    print(format_report(records, meta["mtus"], stacks, meta)[0])
    return 0


def raise_keyboard_interrupt(signum, frame):
    """SIGINT, SIGTERM and SIGHUP all take the clean-up path of Ctrl-C (also when the parent
    shell started us with SIGINT ignored, as it does for background jobs)."""
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    settings = parse_args(argv)
    if os.geteuid() != 0:
        print("bench: run as root (it creates network namespaces)", file=sys.stderr)
        return 1
    for tool in ("ip", "iperf3", "cc"):
        if not shutil.which(tool):
            print(f"bench: {tool} not found (tools/setup-deps.sh installs it)", file=sys.stderr)
            return 1
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, raise_keyboard_interrupt)
    scratch = Path(tempfile.mkdtemp(prefix="usernet-bench-"))
    records: list[dict] = []
    try:
        rr = build_rr(scratch)
        total = settings.runs * len(settings.mtus) * len(settings.stacks)
        for repetition in range(settings.runs):
            shift = repetition % len(settings.stacks)
            order = settings.stacks[shift:] + settings.stacks[:shift]
            for mtu in settings.mtus:
                for stack in order:
                    log(f"run {len(records) + 1}/{total}: {stack.name} mtu {mtu} repetition {repetition + 1}")
                    measure = measure_scale_one if settings.scale_levels else measure_one
                    record = measure(settings, stack, mtu, repetition, rr, scratch)
                    if "error" in record:
                        log(f"  error: {record['error']}")
                    records.append(record)
    except KeyboardInterrupt:
        log("interrupted; summarising what was measured")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C must not stop the clean-up
        for env in list(RunEnv.live):
            env.teardown()
        shutil.rmtree(scratch, ignore_errors=True)
    if not records:
        return 1
    meta = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "kernel": platform.release(),
            "cpus": os.cpu_count(), "loadavg_end": Path("/proc/loadavg").read_text().split()[:3],
            "runs": settings.runs, "seconds": settings.seconds, "rr_count": settings.rr_count,
            "crr_seconds": settings.crr_seconds, "mtus": settings.mtus,
            "stacks": [s.name for s in settings.stacks],
            "versions": stack_versions(settings.stacks, settings.binaries)}
    if settings.scale_levels:
        meta["scale_levels"] = settings.scale_levels
        text, summary = format_scale_report(records, [s.name for s in settings.stacks], settings.scale_levels)
    else:
        text, summary = format_report(records, settings.mtus, [s.name for s in settings.stacks], meta)
    print(text)
    settings.json_path.parent.mkdir(parents=True, exist_ok=True)
    settings.json_path.write_text(json.dumps({"meta": meta, "summary": summary, "runs": records}, indent=1))
    print(f"results: {settings.json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
