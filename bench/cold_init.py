#!/usr/bin/env python3
"""Cold init of Lambda custom-runtime binaries: spawn → first poll of the Runtime API.

    python3 bench/cold_init.py BINARY [BINARY ...] [--runs 20] [--warmup 2]
        [--env K=V ...] [--invoke EVENT_FILE] [--json]

Each run spawns a fresh process against a local stub of the Runtime API (runtime_stub.py) with
the environment Lambda gives a function, times spawn → its first `GET .../invocation/next`,
and kills it. With several binaries the runs are interleaved (a, b, b, a, a, b...), so drift
of the machine hits them alike. `--invoke EVENT_FILE` also serves that event to every process
once its init is timed, waits for the answer, and reads the process's peak RSS (VmHWM) just
before killing it; without it the RSS reported is the one after init.

A BINARY may be given as LABEL=PATH; otherwise the label is the parent directory of a
`bootstrap` (target/lambda/api/bootstrap → api) or the file name. Prints median / p10 / p90 /
min / max in ms; with --json the table goes to stderr and stdout gets JSON. Standard library
only. Exit status 1 when a process fails to start, exits early or answers an error.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runtime_stub import RuntimeStub  # noqa: E402


def lambda_env(runtime_api: str, name: str, extra: dict[str, str]) -> dict[str, str]:
    """The environment of a provided.al2023 function, minus what cannot matter here. Nothing
    is inherited from this shell; the SDK config files point nowhere so no profile is read."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin/:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "_HANDLER": "bootstrap",
        "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "1",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/30/[1]00000000000000000000000000000000",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_SESSION_TOKEN": "test",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/nonexistent/aws/config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws/credentials",
    }
    env.update(extra)
    return env


def proc_status_kb(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM of a live process, in kB (empty when it is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(rest.split()[0])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def summary(values: list[float]) -> dict[str, float]:
    if len(values) >= 2:
        q = statistics.quantiles(values, n=10, method="inclusive")
        p10, p90 = q[0], q[8]
    else:
        p10 = p90 = values[0]
    return {
        "median": statistics.median(values),
        "p10": p10,
        "p90": p90,
        "min": min(values),
        "max": max(values),
        "mean": statistics.fmean(values),
    }


def cpu_seconds() -> tuple[float, float]:
    """(CPU seconds of all cores busy since boot, CPU seconds of this bench and its children)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # minus idle and iowait; guest is already in user
    t = os.times()
    return busy / os.sysconf("SC_CLK_TCK"), t.user + t.system + t.children_user + t.children_system


class Failure(Exception):
    pass


def one_run(stub: RuntimeStub, label: str, path: str, extra_env: dict, event: bytes | None, timeout: float,
            log: Path) -> dict:
    pid_holder: dict[str, int] = {}
    # Read in the handler of the first poll: the process is idle in its poll, init is done.
    run = stub.arm(event, on_first_poll=lambda: proc_status_kb(pid_holder["pid"]) if pid_holder else {})
    env = lambda_env(stub.address, label, extra_env)
    with open(log, "wb") as out:
        t0 = time.monotonic_ns()
        proc = subprocess.Popen([path], env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        pid_holder["pid"] = proc.pid
        try:
            deadline = time.monotonic() + timeout
            while not run.first_poll.wait(0.005):
                if proc.poll() is not None:
                    raise Failure(f"{label}: exited with {proc.returncode} before polling for an event")
                if time.monotonic() > deadline:
                    raise Failure(f"{label}: no poll within {timeout:.0f} s")
            result = {"init_ms": (run.first_poll_ns - t0) / 1e6,
                      "rss_init_kb": (run.first_poll_info or {}).get("VmRSS")}
            if run.init_error:
                raise Failure(f"{label}: init error {run.init_error[:300]!r}")
            if event is not None:
                if not run.answered.wait(timeout):
                    raise Failure(f"{label}: no answer to the event within {timeout:.0f} s")
                if run.error is not None:
                    raise Failure(f"{label}: the invocation failed: {run.error[:300]!r}")
                run.second_poll.wait(2)  # the invocation is over once it polls again
                try:
                    resp = json.loads(run.response or b"null")
                except ValueError:
                    resp = None
                if isinstance(resp, dict) and "statusCode" in resp:
                    result["response_status"] = resp["statusCode"]
                result["response_bytes"] = len(run.response or b"")
            status = proc_status_kb(proc.pid)
            if not status:
                raise Failure(f"{label}: exited (status {proc.poll()}) before it could be measured")
            result["rss_peak_kb"] = status.get("VmHWM")
            return result
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            stub.disarm()


def parse_binary(arg: str) -> tuple[str, str]:
    label, sep, path = arg.partition("=")
    if sep and "/" not in label:
        return label, path
    p = Path(arg)
    return (p.parent.name if p.name == "bootstrap" else p.name), arg


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binaries", nargs="+", metavar="BINARY", help="PATH or LABEL=PATH")
    ap.add_argument("--runs", type=int, default=20, help="measured starts per binary (default 20)")
    ap.add_argument("--warmup", type=int, default=2, help="unmeasured starts per binary first (default 2)")
    ap.add_argument("--env", action="append", default=[], metavar="K=V", help="extra environment, repeatable")
    ap.add_argument("--invoke", metavar="EVENT_FILE", help="serve this event once to every process; report peak RSS")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a poll or an answer")
    ap.add_argument("--json", action="store_true", help="JSON on stdout (the table goes to stderr)")
    args = ap.parse_args()

    extra_env = {}
    for kv in args.env:
        k, sep, v = kv.partition("=")
        if not sep:
            ap.error(f"--env wants K=V, got {kv!r}")
        extra_env[k] = v
    binaries = [parse_binary(b) for b in args.binaries]
    for label, path in binaries:
        if not os.access(path, os.X_OK):
            ap.error(f"{path}: not an executable file")
    if len({label for label, _ in binaries}) != len(binaries):
        ap.error("two binaries have the same label; use LABEL=PATH")
    event = Path(args.invoke).read_bytes() if args.invoke else None

    results: dict[str, list[dict]] = {label: [] for label, _ in binaries}
    logdir = Path(tempfile.mkdtemp(prefix="cold_init."))
    cpu_before = cpu_seconds()
    t_start = time.monotonic()
    try:
        with RuntimeStub() as stub:
            for i in range(args.warmup + args.runs):
                k = i % len(binaries)  # rotate the order: each binary goes first as often
                for label, path in binaries[k:] + binaries[:k]:
                    r = one_run(stub, label, path, extra_env, event, args.timeout, logdir / f"{label}.log")
                    if i >= args.warmup:
                        results[label].append(r)
    except Failure as e:
        label = str(e).split(":")[0]
        log = logdir / f"{label}.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        print(f"cold_init: {e}\n--- output of the process ---\n{tail}", file=sys.stderr)
        return 1
    finally:
        for f in logdir.glob("*"):
            f.unlink()
        logdir.rmdir()

    cpu_after = cpu_seconds()
    wall = time.monotonic() - t_start
    capacity = wall * (os.cpu_count() or 1)
    busy, own = cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]
    report = {
        "runs": args.runs,
        "warmup": args.warmup,
        "invoke": args.invoke,
        "cpu_count": os.cpu_count(),
        "wall_s": round(wall, 2),
        # Share of all cores used during the runs by this bench (with the functions it started)
        # and by everything else: tells a quiet machine from one that was building or testing.
        "cpu_own_fraction": round(own / capacity, 3),
        "cpu_other_fraction": round(max(0.0, busy - own) / capacity, 3),
        "binaries": {},
    }
    for label, path in binaries:
        rs = results[label]
        entry = {
            "path": path,
            "size_bytes": os.path.getsize(path),
            "init_ms": summary([r["init_ms"] for r in rs]),
            "init_ms_samples": [round(r["init_ms"], 3) for r in rs],
        }
        rss_init = [r["rss_init_kb"] for r in rs if r.get("rss_init_kb")]
        if rss_init:
            entry["rss_after_init_kb"] = summary(rss_init)
        rss_peak = [r["rss_peak_kb"] for r in rs if r.get("rss_peak_kb")]
        if rss_peak:
            entry["rss_peak_kb"] = summary(rss_peak)
        statuses = sorted({r["response_status"] for r in rs if "response_status" in r})
        if statuses:
            entry["response_status"] = statuses
        report["binaries"][label] = entry

    table = sys.stderr if args.json else sys.stdout
    print(f"cold init, spawn → first poll: {args.runs} starts each after {args.warmup} warm-up, interleaved",
          file=table)
    print(f"{'binary':<14}{'size MB':>9}{'median':>9}{'p10':>8}{'p90':>8}{'min':>8}{'max':>8}  ms"
          f"   RSS MiB ({'peak after one invoke' if event else 'after init'}, median / max)",
          file=table)
    for label, e in report["binaries"].items():
        s = e["init_ms"]
        rss = e.get("rss_peak_kb") if event else e.get("rss_after_init_kb")
        rss_s = f"{rss['median'] / 1024:.1f} / {rss['max'] / 1024:.1f}" if rss else "-"
        print(f"{label:<14}{e['size_bytes'] / 1e6:>9.2f}{s['median']:>9.2f}{s['p10']:>8.2f}{s['p90']:>8.2f}"
              f"{s['min']:>8.2f}{s['max']:>8.2f}      {rss_s}", file=table)
    print(f"{report['wall_s']} s; of all {os.cpu_count()} cores, this bench used {report['cpu_own_fraction']:.0%}"
          f" and other processes {report['cpu_other_fraction']:.0%}", file=table)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
