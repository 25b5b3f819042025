"""Medians over the runs, the per-MTU table (Markdown, ratios to slirp4netns) and the issue's
targets checked against the measured medians."""
from __future__ import annotations

import statistics

BASELINE = "slirp4netns"

# (key, column title, decimals, show ratio to the baseline)
COLUMNS = [
    ("up_gbps", "up Gbit/s", 2, True),
    ("down_gbps", "down Gbit/s", 2, True),
    ("rr_p50_us", "RR p50 µs", 1, True),
    ("rr_p99_us", "RR p99 µs", 1, True),
    ("conn_per_s", "conn/s", 0, True),
    ("server_close_conn_per_s", "conn/s srv-close", 0, True),
    ("cpu_s_per_gb", "CPU s/GB", 2, True),
    ("peak_rss_mb", "peak RSS MB", 1, False),
    ("peak_rss_after_server_close_mb", "peak RSS after srv-close MB", 1, False),
    ("idle_rss_mb", "idle RSS MB", 1, False),
    ("fwd_in_gbps", "port fwd host→guest Gbit/s", 2, False),
    ("fwd_out_gbps", "port fwd guest→host Gbit/s", 2, False),
]


def metrics_of(record: dict) -> dict[str, float]:
    """The numbers one run produced (missing ones are simply absent)."""
    values: dict[str, float] = {}

    def take(key: str, section: str | None, field: str) -> None:
        source = record.get(section) if section else record
        if isinstance(source, dict) and isinstance(source.get(field), (int, float)) and source[field] >= 0:
            values[key] = float(source[field])

    take("up_gbps", "up", "gbps")
    take("down_gbps", "down", "gbps")
    take("rr_p50_us", "rr", "p50_us")
    take("rr_p99_us", "rr", "p99_us")
    take("conn_per_s", "crr", "conn_per_s")
    take("server_close_conn_per_s", "crr_server_close", "conn_per_s")
    take("cpu_s_per_gb", None, "cpu_s_per_gb")
    take("peak_rss_mb", None, "peak_rss_mb")
    take("peak_rss_after_server_close_mb", None, "peak_rss_after_server_close_mb")
    take("idle_rss_mb", None, "idle_rss_mb")
    take("fwd_in_gbps", "fwd_in", "gbps")
    take("fwd_out_gbps", "fwd_out", "gbps")
    return values


def summarise(records: list[dict], mtus: list[int], stacks: list[str]) -> dict:
    """{mtu: {stack: {metric: median, "runs": n, "min"/"max" per metric, "errors": [...]}}}."""
    summary: dict = {}
    for mtu in mtus:
        summary[mtu] = {}
        for stack in stacks:
            runs = [r for r in records if r["mtu"] == mtu and r["stack"] == stack]
            per_metric: dict[str, list[float]] = {}
            for run in runs:
                for key, value in metrics_of(run).items():
                    per_metric.setdefault(key, []).append(value)
            entry: dict = {"runs": len(runs), "errors": [r["error"] for r in runs if "error" in r]}
            for part in ("up", "down", "rr", "crr", "crr_server_close"):
                entry["errors"] += [f"{part}: {r[part]['error']}" for r in runs if "error" in r.get(part, {})]
                entry["errors"] += [f"{part}: {r[part]['errors']} connection(s) failed or stalled > 5 s (run {r['run'] + 1})"
                                    for r in runs if r.get(part, {}).get("errors")]
            for key, values in per_metric.items():
                entry[key] = statistics.median(values)
                entry[key + "_range"] = [min(values), max(values)]
            summary[mtu][stack] = entry
    return summary


def ratio(summary_mtu: dict, stack: str, key: str, reference: str = BASELINE) -> float | None:
    """stack's median over the reference stack's median for one metric, if both exist."""
    value, base = summary_mtu.get(stack, {}).get(key), summary_mtu.get(reference, {}).get(key)
    if value is None or not base:
        return None
    return value / base


def format_table(summary_mtu: dict, stacks: list[str], mtu: int, runs: int) -> str:
    """One Markdown table for one MTU: medians, with (×ratio to slirp4netns) where it applies."""
    lines = [f"MTU {mtu}: medians of {runs} run(s); (×) = ratio to {BASELINE}",
             "", "| stack | " + " | ".join(title for _, title, _, _ in COLUMNS) + " |",
             "|---|" + "---:|" * len(COLUMNS)]
    for stack in stacks:
        entry = summary_mtu.get(stack, {})
        cells = []
        for key, _, decimals, with_ratio in COLUMNS:
            value = entry.get(key)
            if value is None:
                cells.append("–")
                continue
            cell = f"{value:.{decimals}f}"
            factor = ratio(summary_mtu, stack, key)
            if with_ratio and factor is not None and stack != BASELINE:
                cell += f" ({factor:.2f}×)"
            cells.append(cell)
        lines.append(f"| {stack} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def check(label: str, actual: float | None, target: float, at_least: bool, unit: str = "×") -> str:
    """One target line: met or missed, and by how much."""
    relation = "≥" if at_least else "≤"
    if actual is None:
        return f"  n/a   {label} {relation} {target:g}{unit}: not measured"
    met = actual >= target if at_least else actual <= target
    if met:
        return f"  MET   {label} {relation} {target:g}{unit}: {actual:.2f}{unit}"
    if at_least:
        return f"  MISS  {label} {relation} {target:g}{unit}: {actual:.2f}{unit} ({(target - actual) / target:.0%} short)"
    return f"  MISS  {label} {relation} {target:g}{unit}: {actual:.2f}{unit} ({(actual - target) / target:.0%} over)"


def target_lines(summary: dict, mtus: list[int], stacks: list[str]) -> list[str]:
    """The targets for usernetd (ratios to slirp4netns in this run) and the forwarder."""
    lines = ["Targets (usernetd --tap vs slirp4netns; the forwarder vs --tap):"]
    for mtu in mtus:
        s = summary[mtu]
        if "usernetd" in stacks and BASELINE in stacks:
            need = 1.5 if mtu >= 65520 else 1.0
            lines.append(check(f"mtu {mtu} usernetd up", ratio(s, "usernetd", "up_gbps"), need, True))
            lines.append(check(f"mtu {mtu} usernetd down", ratio(s, "usernetd", "down_gbps"), need, True))
            lines.append(check(f"mtu {mtu} usernetd RR p50", ratio(s, "usernetd", "rr_p50_us"), 1.2, False))
            lines.append(check(f"mtu {mtu} usernetd conn/s", ratio(s, "usernetd", "conn_per_s"), 1.0, True))
            lines.append(check(f"mtu {mtu} usernetd CPU/GB", ratio(s, "usernetd", "cpu_s_per_gb"), 1.0, False))
        if "usernetd" in stacks:
            lines.append(check(f"mtu {mtu} usernetd idle RSS", s["usernetd"].get("idle_rss_mb"), 10, False, " MB"))
        if "forwarder" in stacks and "usernetd" in stacks:
            for key, label in (("up_gbps", "up"), ("down_gbps", "down")):
                lines.append(check(f"mtu {mtu} forwarder {label} vs usernetd", ratio(s, "forwarder", key, "usernetd"),
                                   0.8, True))
    return lines


def format_report(records: list[dict], mtus: list[int], stacks: list[str], meta: dict) -> tuple[str, dict]:
    """The whole printed report and the summary that goes into the JSON file."""
    summary = summarise(records, mtus, stacks)
    parts = [f"usernet bench {meta['date']}, kernel {meta['kernel']}, {meta['cpus']} CPUs, "
             f"iperf3 -t {meta['seconds']}, RR {meta['rr_count']}, CRR {meta['crr_seconds']} s"]
    parts += [f"  {name}: {version}" for name, version in meta["versions"].items()]
    for mtu in mtus:
        runs = max((summary[mtu][s]["runs"] for s in stacks), default=0)
        parts += ["", format_table(summary[mtu], stacks, mtu, runs)]
        for stack in stacks:
            for error in summary[mtu][stack]["errors"]:
                parts.append(f"  note: {stack} mtu {mtu}: {error}")
    targets = target_lines(summary, mtus, stacks)
    if len(targets) > 1:
        parts += [""] + targets
    return "\n".join(parts), {str(mtu): value for mtu, value in summary.items()}
