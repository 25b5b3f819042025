#!/usr/bin/env python3
"""Soak test, not CI: connection churn through usernetd for a long time, RSS watched.

usernetd runs in a test-made host namespace (tests/integration/harness.py: black-hole default
route, DNS upstream on 127.0.0.1) with `--tap` into a guest namespace. Four guest clients churn
for --minutes: two open, use and close TCP connections to an echo server on the host
namespace's 127.0.0.1 (one closing first, one letting the server close first), one makes short
uploads with data checked end to end, one sends UDP datagrams from a new source port each time
(new NAT flows that must age out). usernetd's RSS is sampled every --interval seconds and
printed as a series; the run fails if the RSS at the end is more than --max-growth percent
above the RSS after the warm-up (--warmup seconds), or if a client failed.

Run as root from the repository after a release build (the ASan build's quarantine grows
RSS on its own; --build-dir build/asan works but measures ASan):
    tools/soak.py --minutes 10
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests/integration"))
import harness  # noqa: E402

ECHO_PORT = 7000  # rr server: 7000..7008 echo until the client closes, 7009 closes first
UDP_PORT = 7100

UDP_CHURN = r"""
import socket, sys, time
host, port, until = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
sent = answered = 0
while time.time() < until:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a new source port: a new NAT flow
    s.settimeout(2)
    s.sendto(b"soak", (host, port))
    sent += 1
    try:
        if s.recv(64) == b"soak":
            answered += 1
    except OSError:
        pass
    s.close()
    time.sleep(0.01)
print(f"udp: {answered}/{sent} answered")
sys.exit(0 if sent and answered >= sent * 0.99 else 1)
"""

UPLOAD_CHURN = r"""
import json, subprocess, sys, time
peer, host, port, until = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
done = 0
while time.time() < until:
    out = subprocess.run([sys.executable, peer, "upload", host, port, "200000"], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    result = json.loads(out)
    if result["remote"] != {"bytes": result["sent"], "sha256": result["sha256"]}:
        sys.exit(f"upload {done}: the server got something else: {out}")
    done += 1
print(f"uploads: {done} checked")
"""


def build_rr(scratch: Path) -> Path:
    binary = scratch / "rr"
    subprocess.run(["cc", "-O2", "-o", str(binary), str(REPO / "tools/bench/rr.c")], check=True, timeout=120)
    return binary


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10, help="length of the churn (default 10)")
    parser.add_argument("--interval", type=float, default=5, help="seconds between RSS samples (default 5)")
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds before the reference RSS is taken (default: a fifth of the run, at most 120)")
    parser.add_argument("--max-growth", type=float, default=10, help="allowed RSS growth after warm-up, %% (default 10)")
    default_build = REPO / "build/release"
    if not (default_build / "tools/usernetd").exists():
        default_build = REPO / "build/asan"
    parser.add_argument("--build-dir", default=str(default_build), help=f"build tree (default {default_build})")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.interval <= 0:
        parser.error("--minutes and --interval must be positive")
    if args.warmup is None:
        args.warmup = min(120.0, args.minutes * 60 / 5)
    return args


def main(argv) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("soak: run as root (it creates network namespaces)", file=sys.stderr)
        return 1
    if not shutil.which("cc"):
        print("soak: cc not found", file=sys.stderr)
        return 1
    scratch = Path(tempfile.mkdtemp(prefix="usernet-soak-"))
    net = harness.Network()
    try:
        rr = build_rr(scratch)
        net.start(net.host, [str(rr), "server", str(ECHO_PORT)], log_name="rr-server")
        net.start_peer(net.host, "udp-echo", str(UDP_PORT))
        net.start_peer(net.host, "tcp-sink", "7200")
        usernetd = net.start_usernetd("--dns-upstream", "127.0.0.1", "--log-level", "warn",
                                      build_dir=args.build_dir)
        pid = harness.usernetd_pid(usernetd)
        net.wait_for(lambda: net.guest.run([str(rr), "rr", harness.HOST_ALIAS, str(ECHO_PORT), "3", "0"],
                                           check=False, timeout=10).returncode == 0,
                     "a round trip through usernetd", timeout=20)
        seconds = args.minutes * 60
        until = time.time() + seconds
        # rr crr runs at most a few minutes per invocation (its sample buffer); loop it.
        crr_loop = ("end=$(( $(date +%s) + {s} )); while [ $(date +%s) -lt $end ]; do "
                    "{rr} {mode} {host} {port} $(( end - $(date +%s) < 60 ? end - $(date +%s) + 1 : 60 )) "
                    "| tail -n 1 || exit 1; done")
        clients = {
            "crr": net.guest.popen(["sh", "-c", crr_loop.format(s=int(seconds), rr=rr, mode="crr",
                                                              host=harness.HOST_ALIAS, port=ECHO_PORT)],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
            "crr-server-close": net.guest.popen(["sh", "-c", crr_loop.format(
                s=int(seconds), rr=rr, mode="crr-server-close", host=harness.HOST_ALIAS, port=ECHO_PORT)],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
            "upload": net.guest.popen([sys.executable, "-c", UPLOAD_CHURN, harness.PEER, harness.HOST_ALIAS,
                                       "7200", str(until)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True),
            "udp": net.guest.popen([sys.executable, "-c", UDP_CHURN, harness.HOST_ALIAS, str(UDP_PORT), str(until)],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
        }
        net.processes.extend(clients.values())
        start = time.monotonic()
        samples: list[tuple[float, int]] = []
        print(f"soak: {args.minutes:g} min, usernetd pid {pid} ({args.build_dir}), warm-up {args.warmup:.0f} s")
        print("   t s   RSS MiB")
        while time.monotonic() - start < seconds and usernetd.poll() is None:
            time.sleep(args.interval)
            elapsed = time.monotonic() - start
            samples.append((elapsed, harness.rss_kib(pid)))
            print(f"{elapsed:6.0f}   {samples[-1][1] / 1024:7.2f}", flush=True)
        failures = []
        if usernetd.poll() is not None:
            failures.append(f"usernetd exited with {usernetd.returncode}")
        for name, proc in clients.items():
            try:
                output, _ = proc.communicate(timeout=90)
            except subprocess.TimeoutExpired:
                proc.kill()
                output, _ = proc.communicate()
            last = [line for line in output.splitlines() if line.strip()][-3:]
            print(f"client {name}: exit {proc.returncode}: " + " | ".join(last))
            if proc.returncode != 0:
                failures.append(f"client {name} failed")
        warm = [kib for t, kib in samples if t <= args.warmup][-3:] or samples[:1]
        if not warm:
            failures.append("no RSS samples")
        else:
            reference = statistics.median(warm)
            final = statistics.median(kib for _, kib in samples[-3:])
            growth = (final - reference) / reference * 100
            print(f"RSS after warm-up {reference / 1024:.2f} MiB, at the end {final / 1024:.2f} MiB: "
                  f"{growth:+.1f}% (limit {args.max_growth:g}%), peak {max(k for _, k in samples) / 1024:.2f} MiB")
            if growth > args.max_growth:
                failures.append(f"RSS grew {growth:.1f}% after warm-up")
        for failure in failures:
            print("soak: FAIL: " + failure)
        if not failures:
            print("soak: PASS")
        return 1 if failures else 0
    finally:
        net.close()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
