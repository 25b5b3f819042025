"""bench --scale: what held connections cost. For each stack, one pair of namespaces; guest
holders (`rr hold`) open idle connections through the stack to the host namespace's echo
server until each level (default 0, 1 000, 10 000) is reached, and at every level the same
measurements run next to them:

- connect latency p50/p99 and conn/s: `rr crr` (connect, 1-byte round trip, close);
- RR p50: 1-byte round trips on one fresh connection (the lookup of a busy flow);
- sweep µs/conn: one byte out on every held connection, then every echo back, per connection
  (all held flows active at once: the lookup of a flow that is not the most recent one);
- up Gbit/s: one iperf3 stream guest -> host;
- RSS MB of the stack's processes, and KiB per held connection above level 0.

The holders and the echo server are processes of their own (each raises its soft fd limit to
its hard one), so only the stack's own fds count against the stack: one host socket per held
NAT flow for usernetd.
"""
from __future__ import annotations

import json
import select
import statistics
import subprocess
import time

from runenv import RunEnv

HOLD_CONNECT_SECONDS_PER_1000 = 30  # generous: a stack that slows down still gets measured
COLUMNS = [  # (key, title, decimals)
    ("connect_p50_us", "connect p50 µs", 0),
    ("connect_p99_us", "connect p99 µs", 0),
    ("conn_per_s", "conn/s", 0),
    ("rr_p50_us", "RR p50 µs", 1),
    ("sweep_us_per_conn", "sweep µs/conn", 2),
    ("up_gbps", "up Gbit/s", 2),
    ("rss_mb", "RSS MB", 1),
    ("rss_kib_per_conn", "RSS KiB/conn", 2),
]


class Holder:
    """One `rr hold` process in the guest: COUNT open connections until it is closed."""

    def __init__(self, env: RunEnv, rr: str, target: str, port: int, count: int):
        self.count = count
        log = open(env.work / f"hold-{count}-{time.monotonic_ns()}.log", "wb")
        self.process = subprocess.Popen(["ip", "netns", "exec", env.guest, rr, "hold", target, str(port),
                                         str(count)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=log, text=True, start_new_session=True)
        env.processes.append((self.process, log))

    def read_line(self, timeout: float) -> dict:
        """The holder's next JSON line, or an error entry after `timeout` seconds."""
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            return {"error": f"rr hold: no answer within {timeout:.0f} s (exit {self.process.poll()})"}
        return json.loads(line)

    def sweep(self) -> dict:
        """One sweep over every held connection."""
        self.process.stdin.write("sweep\n")
        self.process.stdin.flush()
        return self.read_line(60)


def measure_levels(env: RunEnv, stack, pids: list[int], rr: str, ports: dict, levels: list[int],
                   settings, memory_kib, iperf3, rr_client) -> list[dict]:
    """Every level for one running stack; returns one record per level (errors inside)."""
    holders: list[Holder] = []
    results = []
    for level in levels:
        record: dict = {"held": level}
        missing = level - sum(h.count for h in holders)
        if missing > 0:
            holder = Holder(env, rr, stack.target, ports["rr"], missing)
            holders.append(holder)
            opened = holder.read_line(HOLD_CONNECT_SECONDS_PER_1000 * (missing / 1000 + 1))
            record["hold"] = opened
            if "error" in opened or opened.get("held") != missing:
                record["error"] = f"could hold only {opened.get('held', 0)} of {missing} new connections"
                results.append(record)
                break
        time.sleep(1)  # let the opening burst settle before reading memory
        record["rss_mb"] = sum(memory_kib(p, "VmRSS") for p in pids) / 1024
        record["crr"] = rr_client(env, rr, ["crr", stack.target, str(ports["rr"]), str(settings.crr_seconds)],
                                  timeout=settings.crr_seconds + 30)
        record["rr"] = rr_client(env, rr, ["rr", stack.target, str(ports["rr"]), str(settings.rr_count),
                                           str(settings.rr_warmup)], timeout=30 + settings.rr_count * 0.005)
        sweeps = [h.sweep() for h in holders]
        if holders and all("sweep_us_per_connection" in s for s in sweeps):
            total = sum(h.count for h in holders)
            record["sweep_us_per_conn"] = sum(s["sweep_us_per_connection"] * h.count
                                              for s, h in zip(sweeps, holders)) / total
        record["up"] = iperf3(env, stack.target, ports["iperf_up"], settings.seconds, reverse=False)
        results.append(record)
    for holder in holders:
        holder.process.stdin.close()
    return results


def metrics_of(record: dict) -> dict[str, float]:
    """One level's numbers, flat."""
    values = {}
    for key, section, field in (("connect_p50_us", "crr", "p50_us"), ("connect_p99_us", "crr", "p99_us"),
                                ("conn_per_s", "crr", "conn_per_s"), ("rr_p50_us", "rr", "p50_us"),
                                ("up_gbps", "up", "gbps")):
        value = record.get(section, {}).get(field)
        if isinstance(value, (int, float)) and value >= 0:
            values[key] = float(value)
    for key in ("rss_mb", "sweep_us_per_conn"):
        if isinstance(record.get(key), (int, float)):
            values[key] = float(record[key])
    return values


def format_scale_report(records: list[dict], stacks: list[str], levels: list[int]) -> tuple[str, dict]:
    """Medians per (stack, level); (×) is the ratio to the same stack with no held connections."""
    summary: dict = {}
    for stack in stacks:
        summary[stack] = {}
        for level in levels:
            samples: dict[str, list[float]] = {}
            for run in (r for r in records if r["stack"] == stack):
                for entry in run.get("levels", []):
                    if entry["held"] == level and "error" not in entry:
                        for key, value in metrics_of(entry).items():
                            samples.setdefault(key, []).append(value)
            summary[stack][level] = {key: statistics.median(values) for key, values in samples.items()}
        base_rss = summary[stack].get(levels[0], {}).get("rss_mb")
        for level in levels:
            entry = summary[stack][level]
            if level > levels[0] and base_rss is not None and "rss_mb" in entry:
                entry["rss_kib_per_conn"] = (entry["rss_mb"] - base_rss) * 1024 / (level - levels[0])
    lines = [f"Scale: medians; (×) = ratio to the same stack at {levels[0]} held connections", "",
             "| stack | held | " + " | ".join(title for _, title, _ in COLUMNS) + " |",
             "|---|---:|" + "---:|" * len(COLUMNS)]
    for stack in stacks:
        base = summary[stack].get(levels[0], {})
        for level in levels:
            entry = summary[stack][level]
            cells = []
            for key, _, decimals in COLUMNS:
                if key not in entry:
                    cells.append("–")
                    continue
                cell = f"{entry[key]:.{decimals}f}"
                if level != levels[0] and base.get(key) and key not in ("rss_mb", "rss_kib_per_conn"):
                    cell += f" ({entry[key] / base[key]:.2f}×)"
                cells.append(cell)
            lines.append(f"| {stack} | {level} | " + " | ".join(cells) + " |")
    for run in records:
        for entry in [run] + run.get("levels", []):
            if "error" in entry:
                lines.append(f"  note: {run['stack']} run {run['run'] + 1} "
                             f"{'held ' + str(entry['held']) + ': ' if 'held' in entry else ''}{entry['error']}")
    return "\n".join(lines), summary
