#!/usr/bin/env python3
"""Cold init of Lambda functions: spawn → first poll of the Runtime API.

    python3 bench/cold_init.py BINARY [BINARY ...] [--runs 20] [--warmup 2]
        [--env K=V ...] [--invoke EVENT_FILE] [--json]
    python3 bench/cold_init.py --spec FUNCTIONS.json [--runs 20] [--warmup 2] [--json]

Each run spawns a fresh process against a local stub of the Runtime API (runtime_stub.py) with
the environment Lambda gives a function, times spawn → its first `GET .../invocation/next`,
and kills it. With several binaries the runs are interleaved (a, b, b, a, a, b...), so drift
of the machine hits them alike. `--invoke EVENT_FILE` also serves that event to every process
once its init is timed, waits for the answer, and reads the process's peak RSS (VmHWM) just
before killing it; without it the RSS reported is the one after init.

A BINARY may be given as LABEL=PATH; otherwise the label is the parent directory of a
`bootstrap` (target/lambda/api/bootstrap → api) or the file name. `--spec` instead names a JSON
file `{"functions": [{"label", "cmd": [argv], "env": {..}, "cwd", "event": FILE, "size_path"}]}`
(env on top of the Lambda environment, event and cwd optional): each function its own command
(a Python handler through `python -m awslambdaric module.handler`), variables and event.
Prints median / p10 / p90 / min / max in ms; with --json the table goes to stderr and stdout
gets JSON. Standard library only. Exit status 1 when a process fails to start, exits early or
answers an error.
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


# Processes that work for the bench without being its children (the moto server run.sh started):
# their CPU counts as the bench's own, not as contention.
OWN_PIDS: list[int] = []


def process_cpu_seconds(pid: int) -> float:
    """utime + stime (with waited-for children) of a live process; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> tuple[float, float]:
    """(CPU seconds of all cores busy since boot, CPU seconds of this bench, its children and
    OWN_PIDS)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # minus idle and iowait; guest is already in user
    t = os.times()
    own = t.user + t.system + t.children_user + t.children_system + sum(map(process_cpu_seconds, OWN_PIDS))
    return busy / os.sysconf("SC_CLK_TCK"), own


class Failure(Exception):
    pass


def log_name(label: str) -> str:
    """A file name for the output of the function labelled `label`."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label) + ".log"


class Function:
    """One function to start: its command, environment on top of Lambda's, event, cwd."""

    def __init__(self, label: str, cmd: list[str], env: dict[str, str] | None = None, event: bytes | None = None,
                 cwd: str | None = None, size_path: str | None = None, event_path: str | None = None):
        self.label, self.cmd, self.env, self.event, self.cwd = label, cmd, env or {}, event, cwd
        self.size_path = size_path
        self.event_path = event_path

    @classmethod
    def from_spec(cls, d: dict) -> "Function":
        event = Path(d["event"]).read_bytes() if d.get("event") else None
        return cls(d["label"], list(d["cmd"]), d.get("env"), event, d.get("cwd"), d.get("size_path"), d.get("event"))


def load_spec(path: str) -> list[Function]:
    return [Function.from_spec(d) for d in json.loads(Path(path).read_text())["functions"]]


def start(stub_address: str, f: Function, log) -> tuple[subprocess.Popen, int]:
    """Spawns `f` against the stub; answers the process and the monotonic time just before."""
    # "{stub}" in a value is the stub's address: AWS_ENDPOINT_URL=http://{stub} sends SSM reads there.
    env = lambda_env(stub_address, f.label, {k: v.replace("{stub}", stub_address) for k, v in f.env.items()})
    t0 = time.monotonic_ns()
    proc = subprocess.Popen(f.cmd, env=env, cwd=f.cwd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return proc, t0


def one_run(stub: RuntimeStub, f: Function, timeout: float, log: Path) -> dict:
    label, event = f.label, f.event
    pid_holder: dict[str, int] = {}
    # Read in the handler of the first poll: the process is idle in its poll, init is done.
    run = stub.arm(event, on_first_poll=lambda: proc_status_kb(pid_holder["pid"]) if pid_holder else {})
    with open(log, "wb") as out:
        proc, t0 = start(stub.address, f, out)
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
                result["response"] = (run.response or b"")[:600].decode(errors="replace")
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
    ap.add_argument("binaries", nargs="*", metavar="BINARY", help="PATH or LABEL=PATH")
    ap.add_argument("--spec", metavar="FUNCTIONS_JSON", help="the functions to start, each with its command, env, event")
    ap.add_argument("--runs", type=int, default=20, help="measured starts per binary (default 20)")
    ap.add_argument("--warmup", type=int, default=2, help="unmeasured starts per binary first (default 2)")
    ap.add_argument("--env", action="append", default=[], metavar="K=V", help="extra environment, repeatable")
    ap.add_argument("--invoke", metavar="EVENT_FILE", help="serve this event once to every process; report peak RSS")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a poll or an answer")
    ap.add_argument("--json", action="store_true", help="JSON on stdout (the table goes to stderr)")
    ap.add_argument("--own-pid", type=int, action="append", default=[], metavar="PID",
                    help="a process working for the bench (an emulator): its CPU is not contention")
    args = ap.parse_args()
    OWN_PIDS.extend(args.own_pid)

    extra_env = {}
    for kv in args.env:
        k, sep, v = kv.partition("=")
        if not sep:
            ap.error(f"--env wants K=V, got {kv!r}")
        extra_env[k] = v
    event = Path(args.invoke).read_bytes() if args.invoke else None
    if args.spec:
        if args.binaries:
            ap.error("give either BINARY arguments or --spec")
        functions = load_spec(args.spec)
    else:
        functions = [Function(label, [path], extra_env, event, size_path=path, event_path=args.invoke)
                     for label, path in map(parse_binary, args.binaries)]
    if not functions:
        ap.error("nothing to start")
    for f in functions:
        if not os.access(f.cmd[0], os.X_OK):
            ap.error(f"{f.cmd[0]}: not an executable file")
    if len({f.label for f in functions}) != len(functions):
        ap.error("two functions have the same label; use LABEL=PATH")
    any_event = any(f.event is not None for f in functions)

    results: dict[str, list[dict]] = {f.label: [] for f in functions}
    logdir = Path(tempfile.mkdtemp(prefix="cold_init."))
    cpu_before = cpu_seconds()
    t_start = time.monotonic()
    try:
        with RuntimeStub() as stub:
            for i in range(args.warmup + args.runs):
                k = i % len(functions)  # rotate the order: each function goes first as often
                for f in functions[k:] + functions[:k]:
                    r = one_run(stub, f, args.timeout, logdir / log_name(f.label))
                    if i >= args.warmup:
                        results[f.label].append(r)
    except Failure as e:
        label = str(e).split(":")[0]
        log = logdir / log_name(label)
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
        "events": {f.label: f.event_path for f in functions},
        "cpu_count": os.cpu_count(),
        "wall_s": round(wall, 2),
        # Share of all cores used during the runs by this bench (with the functions it started)
        # and by everything else: tells a quiet machine from one that was building or testing.
        "cpu_own_fraction": round(own / capacity, 3),
        "cpu_other_fraction": round(max(0.0, busy - own) / capacity, 3),
        "binaries": {},
    }
    for f in functions:
        label = f.label
        rs = results[label]
        entry = {
            "cmd": f.cmd,
            "path": f.size_path or f.cmd[0],
            "size_bytes": os.path.getsize(f.size_path) if f.size_path else None,
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
        if rs and "response" in rs[-1]:
            entry["response_sample"] = rs[-1]["response"]
        report["binaries"][label] = entry

    table = sys.stderr if args.json else sys.stdout
    print(f"cold init, spawn → first poll: {args.runs} starts each after {args.warmup} warm-up, interleaved",
          file=table)
    w = max(14, *(len(label) + 2 for label in report["binaries"]))
    print(f"{'function':<{w}}{'size MB':>9}{'median':>9}{'p10':>8}{'p90':>8}{'min':>8}{'max':>8}  ms"
          f"   RSS MiB ({'peak after one invoke' if any_event else 'after init'}, median / max)",
          file=table)
    for label, e in report["binaries"].items():
        s = e["init_ms"]
        rss = e.get("rss_peak_kb") if any_event else e.get("rss_after_init_kb")
        rss_s = f"{rss['median'] / 1024:.1f} / {rss['max'] / 1024:.1f}" if rss else "-"
        size = f"{e['size_bytes'] / 1e6:>9.2f}" if e["size_bytes"] else f"{'-':>9}"
        print(f"{label:<{w}}{size}{s['median']:>9.2f}{s['p10']:>8.2f}{s['p90']:>8.2f}"
              f"{s['min']:>8.2f}{s['max']:>8.2f}      {rss_s}", file=table)
    print(f"{report['wall_s']} s; of all {os.cpu_count()} cores, this bench used {report['cpu_own_fraction']:.0%}"
          f" and other processes {report['cpu_other_fraction']:.0%}", file=table)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
