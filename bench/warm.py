#!/usr/bin/env python3
"""Warm invocations of Lambda functions through the Runtime API stub: one process per function,
started once, then served WARMUP + RUNS events one after another; each invocation is timed from
the stub writing the event to reading the function's whole answer.

    python3 bench/warm.py --spec FUNCTIONS.json [--runs 300] [--warmup 20] [--json]

FUNCTIONS.json is cold_init.py's format; each function's `event` is one JSON event served every
time, or a `.jsonl` file with one event a line, served in order (at least WARMUP + RUNS lines:
for events that may not be repeated, such as the begin of a change request). A function with
`"warm": false` is skipped. Reports p50 / p90 / p99 / max per function, its peak RSS (VmHWM)
after all invocations, its CPU time per invocation (user + system, from /proc, over all of
them), and the share of the machine's cores that this bench and other processes used meanwhile.
Exit status 1 when a process fails or an invocation answers an error.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cold_init import OWN_PIDS, Failure, cpu_seconds, load_spec, log_name, proc_status_kb, start  # noqa: E402
from runtime_stub import RuntimeStub  # noqa: E402


def cpu_ticks(pid: int) -> int:
    """utime + stime of a live process, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def percentiles(values: list[float]) -> dict[str, float]:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50": statistics.median(values),
        "p90": q[89],
        "p99": q[98],
        "min": min(values),
        "max": max(values),
        "mean": statistics.fmean(values),
    }


def events_of(path: str, n: int) -> list[bytes]:
    data = Path(path).read_bytes()
    if path.endswith(".jsonl"):
        lines = [line for line in data.splitlines() if line.strip()]
        if len(lines) < n:
            raise SystemExit(f"warm: {path} has {len(lines)} events, {n} are needed")
        return lines[:n]
    return [data] * n


def one_function(stub: RuntimeStub, f, warmup: int, runs: int, timeout: float, log: Path) -> dict:
    events = events_of(f.event_path, warmup + runs)
    run = stub.arm(events=events)
    with open(log, "wb") as out:
        proc, _ = start(stub.address, f, out)
        try:
            if not run.first_poll.wait(timeout):
                raise Failure(f"{f.label}: no poll within {timeout:.0f} s")
            ticks0 = cpu_ticks(proc.pid)
            deadline = time.monotonic() + timeout + 0.5 * len(events)
            while not run.idle.wait(0.01):
                if proc.poll() is not None:
                    raise Failure(f"{f.label}: exited with {proc.returncode} during the invocations")
                if time.monotonic() > deadline:
                    done = sum(inv.done.is_set() for inv in run.invocations)
                    raise Failure(f"{f.label}: only {done} of {len(events)} invocations answered in time")
            errors = [inv for inv in run.invocations if inv.error is not None]
            if errors:
                raise Failure(f"{f.label}: {len(errors)} invocations failed, e.g. {errors[0].error[:300]!r}")
            ticks = cpu_ticks(proc.pid) - ticks0
            status = proc_status_kb(proc.pid)
            measured = run.invocations[warmup:]
            return {
                "invocations": len(measured),
                "warmup": warmup,
                "event": f.event_path,
                "ms": percentiles([inv.ms for inv in measured]),
                "cpu_ms_per_invocation": ticks / os.sysconf("SC_CLK_TCK") * 1000 / len(events),
                "rss_peak_kb": status.get("VmHWM"),
                "response_sample": (run.invocations[-1].response or b"")[:600].decode(errors="replace"),
            }
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            stub.disarm()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", required=True, metavar="FUNCTIONS_JSON")
    ap.add_argument("--runs", type=int, default=300, help="measured invocations per function (default 300)")
    ap.add_argument("--warmup", type=int, default=20, help="unmeasured invocations first (default 20)")
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--json", action="store_true", help="JSON on stdout (the table goes to stderr)")
    ap.add_argument("--own-pid", type=int, action="append", default=[], metavar="PID",
                    help="a process working for the bench (an emulator): its CPU is not contention")
    args = ap.parse_args()
    OWN_PIDS.extend(args.own_pid)
    spec = json.loads(Path(args.spec).read_text())["functions"]
    functions = [f for f, d in zip(load_spec(args.spec), spec) if d.get("warm", True) and d.get("event")]

    report = {"runs": args.runs, "warmup": args.warmup, "cpu_count": os.cpu_count(), "functions": {}}
    logdir = Path(tempfile.mkdtemp(prefix="warm."))
    try:
        with RuntimeStub() as stub:
            for f in functions:
                before, t0 = cpu_seconds(), time.monotonic()
                r = one_function(stub, f, args.warmup, args.runs, args.timeout, logdir / log_name(f.label))
                after, wall = cpu_seconds(), time.monotonic() - t0
                capacity = wall * (os.cpu_count() or 1)
                busy, own = after[0] - before[0], after[1] - before[1]
                r["wall_s"] = round(wall, 2)
                r["cpu_own_fraction"] = round(own / capacity, 3)  # this bench, the function it started, moto
                r["cpu_other_fraction"] = round(max(0.0, busy - own) / capacity, 3)
                report["functions"][f.label] = r
    except Failure as e:
        label = str(e).split(":")[0]
        log = logdir / log_name(label)
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        print(f"warm: {e}\n--- output of the process ---\n{tail}", file=sys.stderr)
        return 1
    finally:
        for f in logdir.glob("*"):
            f.unlink()
        logdir.rmdir()

    table = sys.stderr if args.json else sys.stdout
    print(f"warm invocations: {args.runs} each after {args.warmup} unmeasured", file=table)
    print(f"{'function':<22}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}  ms  {'CPU/inv':>8}  {'RSS MiB':>8}  other CPU",
          file=table)
    for label, r in report["functions"].items():
        m = r["ms"]
        print(f"{label:<22}{m['p50']:>8.2f}{m['p90']:>8.2f}{m['p99']:>8.2f}{m['max']:>8.2f}      "
              f"{r['cpu_ms_per_invocation']:>8.2f}  {r['rss_peak_kb'] / 1024:>8.1f}  {r['cpu_other_fraction']:.0%}",
              file=table)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
