#!/usr/bin/env python3
"""scripts/soak's arithmetic: one row of measurements per period, and the verdict at the end.

  soak_analysis.py row ARGS      prints one CSV row (without the process figures, which the
                                 shell adds) from a period's probe arrivals and ping output
  soak_analysis.py verdict ARGS  reads the whole CSV, checks the bounds, writes summary.json,
                                 prints the table and the verdict; exits 1 on a failed check

The profile in force at a moment comes from the reload log the shell keeps: one line per
SIGHUP, "T_SENT T_SEEN NAME" (wall-clock seconds: the signal sent, the answer seen in the log,
the profile running after it). A packet sent between T_SENT and T_SEEN (widened by a guard)
may have met either profile: it counts for loss, not for delay.
"""
import argparse
import bisect
import csv
import json
import math
import sys

ROW_FIELDS = [
    "row", "end_s",
    "probe_sent", "probe_received", "probe_lost", "probe_duplicates", "probe_checked",
    "err_p50_ms", "err_p99_ms", "err_min_ms", "err_max_ms", "late_5ms", "late_5ms_reload",
    "undelayed",
    "stalls", "stall_max_ms",
    "a_delay_p50_ms", "a_delay_p99_ms", "b_delay_p50_ms", "b_delay_p99_ms",
    "ping_sent", "ping_received", "ping_checked", "ping_err_p50_ms", "ping_err_p99_ms",
]


def percentile(values, q):
    """Nearest-rank percentile of a sorted list (nan when empty)."""
    if not values:
        return math.nan
    k = max(0, min(len(values) - 1, math.ceil(q * len(values)) - 1))
    return values[k]


class Timeline:
    """Which profile ran when, and the windows in which it was changing."""

    def __init__(self, path, first, guard_s):
        self.starts = [0.0]
        self.names = [first]
        self.windows = []
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) != 3:
                    continue
                sent, seen = float(parts[0]), float(parts[1])
                self.windows.append((sent - guard_s, seen + guard_s))
                self.starts.append(seen)
                self.names.append(parts[2])
        self.window_starts = [w[0] for w in self.windows]

    def at(self, t):
        return self.names[bisect.bisect_right(self.starts, t) - 1]

    def reloading(self, t, before_s):
        """Whether a reload was under way at t or began less than before_s after it (a packet
        held across it)."""
        i = bisect.bisect_right(self.window_starts, t + before_s)
        return any(self.windows[j][1] >= t for j in range(max(0, i - 3), i))

    def changing(self, t0, t1):
        """Whether any change window overlaps [t0, t1]."""
        i = bisect.bisect_right(self.window_starts, t1)
        return any(self.windows[j][1] >= t0 for j in range(max(0, i - 3), i))


def fmt(x):
    return "" if isinstance(x, float) and math.isnan(x) else f"{x:.3f}"


def row(args):
    profiles = json.loads(args.profiles)  # name -> {"out": ms, "in": ms}
    timeline = Timeline(args.reloads, args.first_profile, args.guard_ms / 1e3)
    base = args.base_ms

    seen = set()
    duplicates = 0
    errors = []
    late_reload = 0
    # Whatever profile ran, no probe may arrive sooner than the shortest outbound delay: one
    # that does was passed unimpaired (counted also inside the reload windows).
    shortest_ms = min(p["out"] for p in profiles.values())
    undelayed = 0
    by_profile = {}
    for line in open(args.arrivals):
        parts = line.split()
        if len(parts) < 3:
            continue
        seq, sent_ns, received_ns = int(parts[0]), int(parts[1]), int(parts[2])
        if seq in seen:
            duplicates += 1
            continue
        seen.add(seq)
        sent = sent_ns / 1e9
        delay_ms = (received_ns - sent_ns) / 1e6
        if delay_ms - base < shortest_ms - 1.0:
            undelayed += 1
        if timeline.changing(sent, sent):
            continue
        name = timeline.at(sent)
        by_profile.setdefault(name, []).append(delay_ms)
        error = delay_ms - base - profiles[name]["out"]
        errors.append(error)
        if error > 5.0 and timeline.reloading(sent, (profiles[name]["out"] + 10) / 1e3):
            late_reload += 1
    errors.sort()
    for v in by_profile.values():
        v.sort()

    ping_sent = ping_received = 0
    ping_errors = []
    for line in open(args.ping):
        if line.startswith("[") and "icmp_seq=" in line and "time=" in line:
            stamp = float(line[1:line.index("]")])
            rtt = float(line.split("time=")[1].split()[0])
            ping_received += 1
            sent = stamp - rtt / 1e3
            if timeline.changing(sent, stamp):
                continue
            name = timeline.at(sent)
            p = profiles[name]
            ping_errors.append(rtt - args.base_rtt_ms - p["out"] - p["in"])
        elif "packets transmitted" in line:
            ping_sent = int(line.split()[0])
    ping_errors.sort()

    stalls = []
    for line in open(args.stalls):
        parts = line.split()
        if len(parts) == 2 and args.start <= float(parts[0]) <= args.end:
            stalls.append(float(parts[1]))

    received = len(seen)
    a = by_profile.get("soak-a", [])
    b = by_profile.get("soak-b", [])
    values = [
        args.row, f"{args.end:.0f}",
        args.sent, received, args.sent - received, duplicates, len(errors),
        fmt(percentile(errors, 0.5)), fmt(percentile(errors, 0.99)),
        fmt(errors[0] if errors else math.nan), fmt(errors[-1] if errors else math.nan),
        sum(1 for e in errors if e > 5.0), late_reload, undelayed,
        len(stalls), fmt(max(stalls, default=0.0)),
        fmt(percentile(a, 0.5)), fmt(percentile(a, 0.99)),
        fmt(percentile(b, 0.5)), fmt(percentile(b, 0.99)),
        ping_sent, ping_received, len(ping_errors),
        fmt(percentile(ping_errors, 0.5)), fmt(percentile(ping_errors, 0.99)),
    ]
    print(",".join(str(v) for v in values))


def slope(xs, ys):
    """Least-squares slope of ys over xs (0 with fewer than two points)."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0


def verdict(args):
    rows = list(csv.DictReader(open(args.csv)))
    failures = []
    bounds = {
        "rss_slope_kib_per_min": args.rss_slope_kib,
        "fd_slope_per_min": args.fd_slope,
        "fd_rise": args.fd_rise,
        "thread_rise": 0,
        "err_p50_ms": [args.p50_low_ms, args.p50_high_ms],
        "err_p99_ms": args.p99_ms,
        "err_min_ms": args.early_ms,
        "ping_err_p50_ms": [args.p50_low_ms, args.ping_p50_high_ms],
        "probe_lost": 0, "ping_lost": 0, "kernel_drops": 0, "undelayed": 0,
        "passed_unimpaired": 0,
    }
    num = lambda r, k: float(r[k]) if r[k] != "" else math.nan

    for r in rows:
        n = r["row"]
        if int(r["probe_lost"]) != 0:
            failures.append(f"row {n}: {r['probe_lost']} of {r['probe_sent']} probes lost")
        if int(r["ping_sent"]) != int(r["ping_received"]):
            failures.append(f"row {n}: ping lost {int(r['ping_sent']) - int(r['ping_received'])}"
                            f" of {r['ping_sent']}")
        if int(r["probe_checked"]) == 0:
            failures.append(f"row {n}: no probe outside the reload windows")
            continue
        p50, p99, lo = num(r, "err_p50_ms"), num(r, "err_p99_ms"), num(r, "err_min_ms")
        if not args.p50_low_ms <= p50 <= args.p50_high_ms:
            failures.append(f"row {n}: probe delay error p50 {p50:.3f} ms outside "
                            f"[{args.p50_low_ms}, {args.p50_high_ms}] ms")
        if p99 > args.p99_ms:
            failures.append(f"row {n}: probe delay error p99 {p99:.3f} ms > {args.p99_ms} ms")
        if lo < args.early_ms:
            failures.append(f"row {n}: a probe arrived {-lo:.3f} ms before its profile's delay "
                            f"(bound {-args.early_ms} ms): the wrong profile ran")
        pp50 = num(r, "ping_err_p50_ms")
        if not math.isnan(pp50) and not args.p50_low_ms <= pp50 <= args.ping_p50_high_ms:
            failures.append(f"row {n}: ping round-trip error p50 {pp50:.3f} ms outside "
                            f"[{args.p50_low_ms}, {args.ping_p50_high_ms}] ms")
        if int(r["undelayed"]):
            failures.append(f"row {n}: {r['undelayed']} probes arrived undelayed (passed "
                            "unimpaired)")
        if int(r["passed_unimpaired"]):
            failures.append(f"row {n}: badlink passed {r['passed_unimpaired']} packets "
                            "unimpaired (backend.passed_*)")
        drops = int(r["kernel_queue_dropped"]) + int(r["kernel_user_dropped"]) + \
            int(r["receive_overruns"])
        if drops:
            failures.append(f"row {n}: kernel drops or overruns ({drops}): packets passed "
                            "unimpaired or lost")
        if r["tcp_mbps"] == "" or float(r["tcp_mbps"]) <= 0:
            failures.append(f"row {n}: the TCP flow carried nothing")

    after = [r for r in rows if int(r["row"]) > args.warmup]
    minutes = [int(r["row"]) * args.period / 60 for r in after]
    rss_slope = slope(minutes, [float(r["rss_kib"]) for r in after])
    fd_slope = slope(minutes, [float(r["fds"]) for r in after])
    thread_slope = slope(minutes, [float(r["threads"]) for r in after])
    warm = [r for r in rows if int(r["row"]) <= args.warmup]
    fd_ref = max((int(r["fds"]) for r in warm), default=0)
    thread_ref = max((int(r["threads"]) for r in warm), default=0)
    if len(after) >= 2:
        if rss_slope > args.rss_slope_kib:
            failures.append(f"RSS grows {rss_slope:.1f} KiB/min after warm-up "
                            f"(bound {args.rss_slope_kib} KiB/min)")
        if fd_slope > args.fd_slope:
            failures.append(f"descriptors grow {fd_slope:.3f}/min after warm-up "
                            f"(bound {args.fd_slope}/min)")
        fd_max = max(int(r["fds"]) for r in after)
        if warm and fd_max > fd_ref + args.fd_rise:
            failures.append(f"descriptors reached {fd_max} after warm-up, {fd_ref} before "
                            f"(bound +{args.fd_rise})")
        thread_max = max(int(r["threads"]) for r in after)
        if warm and thread_max > thread_ref:
            failures.append(f"threads reached {thread_max} after warm-up, {thread_ref} before")
    else:
        print(f"(fewer than two rows after the {args.warmup} warm-up rows: no growth check)")

    extra = [line.strip() for line in open(args.events)] if args.events else []
    failures += [e for e in extra if e]

    summary = {
        "rows": len(rows), "period_s": args.period, "warmup_rows": args.warmup,
        "rss_slope_kib_per_min": round(rss_slope, 2), "fd_slope_per_min": round(fd_slope, 4),
        "thread_slope_per_min": round(thread_slope, 4),
        "rss_kib_first_last": [rows[0]["rss_kib"], rows[-1]["rss_kib"]] if rows else [],
        "fds_first_last": [rows[0]["fds"], rows[-1]["fds"]] if rows else [],
        "probes_sent": sum(int(r["probe_sent"]) for r in rows),
        "probes_lost": sum(int(r["probe_lost"]) for r in rows),
        "pings_sent": sum(int(r["ping_sent"]) for r in rows),
        "pings_lost": sum(int(r["ping_sent"]) - int(r["ping_received"]) for r in rows),
        "worst_err_p99_ms": max((num(r, "err_p99_ms") for r in rows), default=math.nan),
        "bounds": bounds, "failures": failures, "passed": not failures,
    }
    for k, v in json.loads(args.counts).items():
        summary[k] = v
    with open(args.summary, "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")

    cols = ["row", "rss_kib", "fds", "threads", "cpu_pct", "probe_sent", "probe_lost",
            "err_p50_ms", "err_p99_ms", "err_min_ms", "err_max_ms", "late_5ms", "late_5ms_reload",
    "undelayed",
            "stalls", "stall_max_ms", "a_delay_p50_ms", "b_delay_p50_ms",
            "ping_err_p50_ms", "tcp_mbps", "reloads", "rejected", "stats_writes"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(r[c] for c in cols) + " |")
    print(f"RSS slope after warm-up {rss_slope:.1f} KiB/min (bound {args.rss_slope_kib}), "
          f"descriptors {fd_slope:.3f}/min (bound {args.fd_slope}), threads "
          f"{thread_slope:.3f}/min")
    for f in failures:
        print("FAIL: " + f)
    print("soak: " + ("PASSED" if not failures else f"FAILED ({len(failures)} checks)"))
    return 0 if not failures else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("row")
    r.add_argument("--row", type=int, required=True)
    r.add_argument("--start", type=float, required=True)
    r.add_argument("--end", type=float, required=True)
    r.add_argument("--stalls", required=True)
    r.add_argument("--sent", type=int, required=True)
    r.add_argument("--arrivals", required=True)
    r.add_argument("--ping", required=True)
    r.add_argument("--reloads", required=True)
    r.add_argument("--first-profile", required=True)
    r.add_argument("--profiles", required=True)
    r.add_argument("--base-ms", type=float, required=True)
    r.add_argument("--base-rtt-ms", type=float, required=True)
    r.add_argument("--guard-ms", type=float, default=5.0)
    v = sub.add_parser("verdict")
    v.add_argument("--csv", required=True)
    v.add_argument("--summary", required=True)
    v.add_argument("--events")
    v.add_argument("--counts", default="{}")
    v.add_argument("--period", type=float, required=True)
    v.add_argument("--warmup", type=int, required=True)
    v.add_argument("--rss-slope-kib", type=float, required=True)
    v.add_argument("--fd-slope", type=float, required=True)
    v.add_argument("--fd-rise", type=int, required=True)
    v.add_argument("--p50-low-ms", type=float, required=True)
    v.add_argument("--p50-high-ms", type=float, required=True)
    v.add_argument("--ping-p50-high-ms", type=float, required=True)
    v.add_argument("--p99-ms", type=float, required=True)
    v.add_argument("--early-ms", type=float, required=True)
    a = p.parse_args()
    if a.command == "row":
        row(a)
        return 0
    return verdict(a)


if __name__ == "__main__":
    sys.exit(main())
