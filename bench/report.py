#!/usr/bin/env python3
"""Writes bench/RESULTS.md (on stdout) from what bench/run.sh measured, in $BENCH_WORK:
cold.json (cold_init.py), init_files.json (init_files.py), warm.json (warm.py), routes.json and
routes.err (route-costs), moto.json (fixtures.py moto). Run by run.sh; standard library only."""

from __future__ import annotations

import io
import json
import os
import subprocess
import zipfile
from pathlib import Path

env = os.environ
work = Path(env["BENCH_WORK"])
cold = json.loads((work / "cold.json").read_text())
warm = json.loads((work / "warm.json").read_text())
moto = json.loads((work / "moto.json").read_text())
build = json.loads((work / "build.json").read_text())
init_files = json.loads((work / "init_files.json").read_text()) if (work / "init_files.json").exists() else {}
try:
    routes = json.loads((work / "routes.json").read_text())
except ValueError:
    routes = None
routes_err = (work / "routes.err").read_text().strip() if (work / "routes.err").exists() else ""
criterion = json.loads((work / "criterion.json").read_text())
criterion_cpu = json.loads((work / "criterion-cpu.json").read_text())
criterion_notes = [line.strip() for line in (work / "criterion.log").read_text(errors="replace").splitlines()
                   if line.startswith(("change log,", "lifecycle:"))]
lifecycle_table = (work / "lifecycle.md").read_text().strip()

B = cold["binaries"]
arm64_dir = Path(env["BENCH_ARM64_DIR"]) if env.get("BENCH_ARM64_DIR") else None


def arm64_size(label):
    """The arm64 bootstrap's size, when this run built one."""
    path = arm64_dir / label / "bootstrap" if arm64_dir else None
    return os.path.getsize(path) if path and path.exists() else None
W = warm["functions"]
FUNCTIONS = ("api", "changelog", "lifecycle")
SIZE_TARGET = 8_000_000  # "8 MB", read strictly: 8 × 10^6 bytes
WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}

out = io.StringIO()


def p(*args):
    print(*args, file=out)


def mb(n):
    return f"{n / 1e6:.2f} MB"


def mib(kb):
    return f"{kb / 1024:.1f} MiB"


def zipped(path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(path, "bootstrap")
    return buf.tell()


def stripped(path):
    try:
        text = subprocess.run(["file", "-b", path], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return "?"
    return "yes" if "stripped" in text and "not stripped" not in text else "no"


def med(label):
    return B[label]["init_ms"]["median"]


def ops_text(cost):
    """`3: 2 GetItem → PutItem`: the requests in the order they were sent."""
    if not cost:
        return "-"
    seq = cost.get("seq") or []
    if not seq:
        return str(cost["calls"])
    runs: list[list] = []
    for op in seq:
        if runs and runs[-1][0] == op:
            runs[-1][1] += 1
        else:
            runs.append([op, 1])
    return f"{cost['calls']}: " + " → ".join(f"{n} {op}" if n > 1 else op for op, n in runs)


def units(cost):
    """`1 RCU`, `2 WCU`, `0.5 RCU + 2 WCU`: the capacity estimated from the items on the wire."""
    if not cost or "rcu" not in cost:
        return "-"
    parts = [f"{cost[k]:g} {k.upper()}" for k in ("rcu", "wcu") if cost.get(k)]
    return " + ".join(parts) or "0"


def writes(cost):
    return sum(n for op, n in (cost.get("ops") or {}).items() if op in WRITE_OPS)


def met(ok):
    return "**met**" if ok else "**missed**"


# --- numbers the targets and the text need ------------------------------------------------------
hello = med("hello")
sdk_gap = med("hello-sdk") - hello
# What reading this machine's trust store (the bundle and one file per certificate) costs the SDK's
# setup over reading provided.al2023's (two bundle files).
certs_dir = med("hello-sdk") - med("hello-sdk/al2023")
moto_wait = med("lifecycle") - med("lifecycle/ssm-stub")  # moto answering the SSM read at init


# Whether lifecycle's init talks to SSM (its Jenkins credentials): a connection besides the stub's
# in the strace count, or (without strace) a slower start than with SSM answered by the stub.
_lc = init_files.get("lifecycle")
ssm_at_init = _lc["connects"] > 0 if _lc else moto_wait > 0.5


def cert_loads(label):
    """How many times the init read the system's TLS roots (from init_files.json)."""
    base = "hello-sdk/al2023" if label.endswith("/al2023") else "hello-sdk"
    n, one = init_files.get(label, {}).get("cert_files"), init_files.get(base, {}).get("cert_files")
    return round(n / one) if n and one else (0 if n == 0 else None)


ratio_hello = {f: med(f) / hello for f in FUNCTIONS}
ratio_al2023 = {f: med(f"{f}/al2023") / hello for f in FUNCTIONS}
ratio_python = {f: med(f"py-{f}") / med(f) for f in FUNCTIONS}
sizes = {f: os.path.getsize(B[f]["path"]) for f in ("hello", "hello-sdk", *FUNCTIONS)}
getparam_ms = moto["latency_ms"]["GetParameter"]
getitem_ms = moto["latency_ms"]["GetItem"]
changes = json.loads((work / "changes.json").read_text())
fixture_tenants = len(changes["fresh"]) + 1

route_rows = routes["routes"] if routes else []
backends = routes["backends"] if routes else []
main_backend = "moto" if "moto" in backends else "memory"
free_routes = {"/v1/health", "/v1/openapi.json"}
read_misses = [r for r in route_rows if r["method"] == "GET" and r["route"] not in free_routes
               and any(r[b]["calls"] != 1 for b in backends)]
write_misses = [r for r in route_rows if r["method"] != "GET" and "moto" in r and writes(r["moto"]) > 1]
lifecycle_tasks = routes["lifecycle"]["tasks"] if routes else []
task_write_misses = [t for t in lifecycle_tasks if t.get("moto") and writes(t["moto"]) > 1]
fleet = routes["fleet_summary"] if routes else []
fleet_calls = {(b, row[b]["calls"]) for row in fleet for b in backends}
fleet_constant = bool(fleet) and len({c for _, c in fleet_calls}) == 1

# Why a read route takes more than one round trip: what its handler does (shared/api/src/routes).
WHY_READ = {
    "/v1/customers/{id}/license-assignments":
        "reads the customer first (a 404 for an unknown customer, not an empty page), then queries its assignments",
    "/v1/licenses/{id}/assignments":
        "reads the license first (404 for an unknown license), then queries its assignments",
    "/v1/resources/{id}/tenants":
        "a Query of the resource's tenant links (GSI2), then one BatchGetItem of the tenants themselves, kept "
        "by choice: the answer is the tenants with their current state and release (who is hit when this "
        "database fails), and a link carries only the ids. Projecting the tenant into each link would make it "
        "1 Query, at the cost of rewriting every link of a tenant on each of its state changes (a lifecycle "
        "transition would touch up to one item per resource). A resource has at most 49 tenants, so it is "
        "always exactly these 2 requests",
    "/v1/tenants/{id}/history":
        "the first page was empty (no stream consumer runs in route-costs, so the change-log table is empty), and "
        "an empty first page reads the tenant to tell 404 from none; a tenant with history is 1 Query",
    "/v1/tenants/{id}/configs":
        "an empty page reads the tenant to tell 404 from none (a page with items does not)",
    "/v1/tenants/{id}/components":
        "an empty page reads the tenant to tell 404 from none (a page with items does not)",
    "/v1/tenants/{id}/health-runs":
        "an empty page reads the tenant to tell 404 from none (a page with items does not)",
    "/v1/tenants/{id}/change-requests":
        "an empty page reads the tenant to tell 404 from none (a page with items does not)",
    "/v1/tenants/{id}/resources":
        "an empty page reads the tenant to tell 404 from none (a page with items does not)",
}

# Why a write request makes more than one write (shared/api/src/persist.rs and the handlers).
WHY_WRITE: dict[str, str] = {}

# --- header ----------------------------------------------------------------------------------
p("# Benchmark results")
p()
p(f"Written by `make bench` (`bench/run.sh`) on {env['BENCH_DATE']}, commit {env['BENCH_COMMIT']}. "
  "Every number below comes from this one run.")
p()
p(f"- CPU: {env['BENCH_CPU']}")
p(f"- {env['BENCH_RUSTC']}; {env['BENCH_CARGO_LAMBDA']}; the Python side: {env['BENCH_PYTHON']} "
  "(in `.tools/bench-venv`); the AWS emulator: moto " + env["BENCH_MOTO"] + ".")
p(f"- Build: `cargo lambda build --release --locked`, x86_64-unknown-linux-gnu, workspace release profile "
  f"(opt-level \"z\", fat LTO, codegen-units 1, panic abort, strip). It took {build['wall_s']} s wall "
  f"(incremental when `target/` already held a release build; load average {env['BENCH_LOAD_BEFORE']} when it "
  f"started); meanwhile the build used {build['cpu_own_fraction']:.0%} of all cores and other processes "
  f"{build['cpu_other_fraction']:.0%}.")
if arm64_dir:
    p("- arm64 (what SAM deploys): `cargo lambda build --release --arm64 --locked` in the same run, sizes only "
      "(an arm64 bootstrap cannot run on this CPU).")
else:
    p("- **arm64 (what SAM deploys) is not measured.** `cargo lambda build --arm64` needs the Rust standard "
      "library for `aarch64-unknown-linux-gnu` (`rustup target add`), a download from the Rust toolchain "
      "server, which this machine cannot reach (only package registries are reachable; installed targets: "
      f"`{env['BENCH_TARGETS'].strip()}`). zig could link it, but there is nothing to link against. `make bench` "
      "builds and sizes arm64 wherever that target is installed.")
p("- Contention: this machine has 2 cores and other builds may run. Each measuring step records the share of "
  "all cores used by the bench (with the processes it started and the moto server it talks to) and by every "
  "other process; it is printed with each table (\"other CPU\"). Timings taken while others used the cores are "
  "slower and noisier than on a quiet machine.")
p()

# --- targets ---------------------------------------------------------------------------------
p("## Targets (issue 5)")
p()
p("| target | function / scope | measured | status | why, where missed |")
p("|---|---|---|---|---|")
WHAT_ELSE = {
    "api": "tracing-subscriber, the Step Functions client, the axum router (the OpenAPI document is not built: "
           "the served one is a checked-in file)",
    "changelog": "tracing-subscriber and the handler",
    "lifecycle": "tracing-subscriber, the SSM client and the handler; no connection at init (the Jenkins "
                 "credentials are read from SSM when a Jenkins task first needs them)",
}
for f in FUNCTIONS:
    r, r_here = ratio_al2023[f], ratio_hello[f]
    files_here = init_files.get(f, {}).get("cert_files")
    why = (f"{med(f + '/al2023') - hello:.1f} ms on top of hello: the SDK setup (`hello-sdk/al2023`: "
           f"{med('hello-sdk/al2023') - hello:.1f} ms) and {WHAT_ELSE[f]} "
           f"({med(f + '/al2023') - med('hello-sdk/al2023'):+.1f} ms). ")
    why += (f"On this machine's own trust store (Debian: the bundle and one file per certificate in "
            f"/etc/ssl/certs{f', {files_here} files opened' if files_here else ''}) it starts in {med(f):.2f} ms "
            f"= {r_here:.1f}× hello ({'also met' if r_here <= 3 else 'over 3×'}): rustls reads every certificate "
            f"file there, {certs_dir:.1f} ms more than AL2023's two bundles.")
    p(f"| cold init ≤ 3× the bare hello, with provided.al2023's trust store | {f} | {med(f + '/al2023'):.2f} ms vs "
      f"{hello:.2f} ms = {r:.1f}× | {met(r <= 3)} | {why} |")
for f in FUNCTIONS:
    r = ratio_python[f]
    why = ""
    if r < 20 and f == "lifecycle" and not ssm_at_init:
        why = ("py-lifecycle reads the SecureString at import, the Rust function on first Jenkins use: the Python "
               "side even waits for one SSM round trip more")
    elif r < 20:
        why = (f"both wait for moto's answer to the same SSM read at init ({moto_wait:.1f} ms of the Rust "
               f"function's {med(f):.1f} ms): a fixed wait on both sides shrinks the ratio. Without it "
               f"(`lifecycle/ssm-stub`, {med('lifecycle/ssm-stub'):.1f} ms) the ratio would be "
               f"{med('py-' + f) / med('lifecycle/ssm-stub'):.0f}×; in AWS the read is an HTTPS round trip to SSM, "
               "longer still. Reading the secret lazily (above) removes it from the Rust init.") if f == "lifecycle" \
            else "both sides are local processes on this machine"
    p(f"| cold init ≥ 20× faster than Python + boto3 | {f} | {med('py-' + f):.0f} ms vs {med(f):.2f} ms = "
      f"{r:.0f}× | {met(r >= 20)} | {why} |")
for f in FUNCTIONS:
    s = arm64_size(f)
    if s is not None:
        p(f"| ≤ 8 MB per bootstrap (arm64) | {f} | {mb(s)} ({s / 2**20:.2f} MiB) | {met(s <= SIZE_TARGET)} | |")
for f in FUNCTIONS:
    s = sizes[f]
    why = (f"{s / 2**20:.2f} MiB: under 8 MiB, over 8 × 10^6 B. It links aws-config with two SDK clients "
           f"(DynamoDB, Step Functions: `hello-sdk`, with one, is {mb(sizes['hello-sdk'])}), rustls with aws-lc, "
           "axum, the API and its OpenAPI document (a 140 KB JSON string); the profile already optimizes for size "
           "(opt-level z, fat LTO, one codegen unit, panic abort, strip)") if s > SIZE_TARGET else ""
    p(f"| ≤ 8 MB per bootstrap (x86_64) | {f} | {mb(s)} ({s / 2**20:.2f} MiB), zipped {mb(zipped(B[f]['path']))} | "
      f"{met(s <= SIZE_TARGET)} | {why} |")
if routes:
    n_reads = sum(1 for r in route_rows if r["method"] == "GET" and r["route"] not in free_routes)
    why = "; ".join(f"`{r['route']}` {r[main_backend]['calls']}: {WHY_READ.get(r['route'], 'not explained here')}"
                    for r in read_misses)
    p(f"| each read route 1 DynamoDB round trip (a list page: 1 query) | {n_reads} GET routes "
      f"(health and openapi.json read nothing) | {n_reads - len(read_misses)} with 1 "
      f"round trip{', ' + str(len(read_misses)) + ' with more' if read_misses else ''} | {met(not read_misses)} | "
      f"{why} |")
    n_writes = sum(1 for r in route_rows if r["method"] != "GET")
    why = "; ".join(f"`{r['method']} {r['route']}` {ops_text(r['moto'])}: "
                    f"{WHY_WRITE.get(r['route'], 'not explained here')}" for r in write_misses)
    why += "; ".join(f"lifecycle `{t['action']}`: {ops_text(t['moto'])}" for t in task_write_misses)
    p(f"| each state change 1 transaction | {n_writes} write routes, {len(lifecycle_tasks)} lifecycle tasks | "
      f"at most {max([writes(r.get('moto') or {}) for r in route_rows] + [writes(t.get('moto') or {}) for t in lifecycle_tasks] + [0])} "
      f"write requests per request or task (on moto) | "
      f"{met(not write_misses and not task_write_misses) if 'moto' in backends else 'not measured'} | {why} |")
    sizes_seen = " → ".join(f"{row['tenants']} tenants: {row[main_backend]['calls']}" for row in fleet)
    p(f"| `GET /v1/fleet/summary` a constant number of reads | whatever the fleet size | {sizes_seen} "
      f"round trip(s) | {met(fleet_constant)} | |")
else:
    p("| request-cost targets | all routes | route-costs failed | **not measured** | see the end of this file |")
p()
p("Cold-init ratios are of medians. \"Met\" for the read routes means exactly one round trip on the in-memory "
  "table and on moto alike.")
p()

# --- size ------------------------------------------------------------------------------------
p("## Size")
p()
p("| function | bootstrap (stripped) | zipped | × hello | stripped | arm64 bootstrap |")
p("|---|---|---|---|---|---|")
for f in ("hello", "hello-sdk", *FUNCTIONS):
    path = B[f]["path"]
    arm = arm64_size(f)
    p(f"| {f} | {mb(sizes[f])} ({sizes[f]:,} B) | {mb(zipped(path))} | {sizes[f] / sizes['hello']:.1f} | "
      f"{stripped(path)} | {mb(arm) if arm is not None else 'not built here'} |")
p()
p("`hello-sdk` is `bench/hello-sdk`: hello plus `aws_config::load_defaults` and one DynamoDB client, so the "
  "size and init of the SDK setup alone can be read off. The Python equivalents are a few KB of source; "
  "boto3 comes with AWS's Python runtime.")
p()

# --- cold init -------------------------------------------------------------------------------
p("## Cold init: spawn → first poll of the Runtime API")
p()
p(f"{cold['runs']} starts of every function after {cold['warmup']} unmeasured ones, interleaved (the order rotates "
  "every round so each goes first as often), against `bench/runtime_stub.py` on 127.0.0.1. Each process gets "
  "the Lambda environment (`AWS_LAMBDA_*`, memory size 256, region us-east-1, static test credentials, "
  "`AWS_EC2_METADATA_DISABLED=true`, SDK config files pointing nowhere), its own variables from "
  "`infra/template.yaml`, and `AWS_ENDPOINT_URL` pointing at moto on loopback (plain HTTP: no TLS handshake, "
  "unlike AWS). Timed from just before `Popen` to the stub reading the first `GET /invocation/next`, so it "
  "includes fork/exec and the dynamic loader; for Python, the interpreter start, `awslambdaric`'s import and "
  "the handler module's import (where the boto3 clients are made). A local process start, not a Lambda cold "
  "start: no sandbox, no code download, no 256 MB CPU share. "
  f"The runs took {cold['wall_s']} s; of all {cold['cpu_count']} cores, the bench (with the functions it "
  f"started) used {cold['cpu_own_fraction']:.0%} and other processes {cold['cpu_other_fraction']:.0%}.")
p()
p("| function | median | p10 | p90 | min | max | × hello | Python ÷ Rust |")
p("|---|---|---|---|---|---|---|---|")
COLD_ORDER = ("hello", "hello-sdk", *FUNCTIONS, "hello/al2023", "hello-sdk/al2023", *(f"{f}/al2023" for f in FUNCTIONS),
              "lifecycle/ssm-stub", *(f"py-{f}" for f in FUNCTIONS))
for label in COLD_ORDER:
    s = B[label]["init_ms"]
    vs_py = f"**{ratio_python[label]:.0f}×**" if label in FUNCTIONS else ""
    p(f"| {label} | **{s['median']:.2f} ms** | {s['p10']:.2f} | {s['p90']:.2f} | {s['min']:.2f} | "
      f"{s['max']:.2f} | {s['median'] / hello:.1f} | {vs_py} |")
p()
p("`…/al2023`: the same binary reading its TLS roots as it does on provided.al2023, the runtime SAM deploys "
  "to: rustls-native-certs probes `/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem` and the directory "
  "`/etc/pki/tls/certs` there (its `ca-bundle.crt` is the same bundle, skipped, and `ca-bundle.trust.crt` is "
  "OpenSSL's TRUSTED CERTIFICATE form of it, read and skipped). The bench builds that layout from this machine's "
  "bundle in its work directory and names it with `SSL_CERT_FILE` and `SSL_CERT_DIR`, which make rustls read "
  "exactly that file and directory. The plain rows read this machine's trust store (Debian: the bundle and one "
  "file per certificate in `/etc/ssl/certs`). Neither was measured on Lambda itself. `lifecycle/ssm-stub`: "
  "lifecycle with `AWS_ENDPOINT_URL` pointing at the stub, which answers an SSM read at once (it serves no "
  "event: its DynamoDB calls would go to the stub too)"
  + (": the difference to `lifecycle` is what waiting for moto's answer costs." if ssm_at_init else
     ": lifecycle reads nothing from SSM at init, so both start alike, a check that its init waits on no "
     "service."))
p()
if init_files:
    p("What each init opened, counted in one start under `strace` (`bench/init_files.py`):")
    p()
    p("| function | TLS root-certificate files opened | connections besides the Runtime API |")
    p("|---|---|---|")
    for label in COLD_ORDER:
        if label in init_files:
            c = init_files[label]
            loads = cert_loads(label)
            p(f"| {label} | {c['cert_files']}" + (f" ({loads} loads)" if loads and loads > 1 else "")
              + f" | {c['connects']} |")
    p()
p("What each waits on before its first poll:")
p()
p(f"- **hello**: the tokio runtime and `lambda_runtime`'s client. **hello-sdk**: that plus "
  f"`aws_config::load_defaults` and a DynamoDB client: **{sdk_gap:+.2f} ms** on this machine, "
  f"**{med('hello-sdk/al2023') - med('hello/al2023'):+.2f} ms** with AL2023's trust store; the difference, "
  f"{certs_dir:.2f} ms, is rustls reading one file per certificate here (hello-sdk − hello-sdk/al2023).")
p(f"- **api**: tracing-subscriber, aws-config, DynamoDB and Step Functions clients, the axum router "
  f"({med('api') - med('hello-sdk'):+.2f} ms over hello-sdk). The router mounts each handler at the path and "
  "methods of its `#[utoipa::path]` and builds no OpenAPI document (building it took ~2.5 ms of the api's init "
  "before: the served document is now `shared/api/openapi.json`, checked in and kept equal to the handlers' "
  "annotations by a test).")
p(f"- **changelog**: tracing-subscriber, aws-config, one DynamoDB client "
  f"({med('changelog') - med('hello-sdk'):+.2f} ms over hello-sdk).")
if ssm_at_init:
    p(f"- **lifecycle**: the same setup plus the SSM SecureString with the Jenkins credentials, read at init: a "
      f"real GetParameter to moto over a fresh connection, and a reqwest client for Jenkins. Of its "
      f"{med('lifecycle') - med('changelog'):+.2f} ms over changelog, {moto_wait:.2f} ms is moto answering "
      f"(lifecycle − lifecycle/ssm-stub; one GetParameter from an already connected boto3 client takes "
      f"{getparam_ms:.2f} ms); the rest is the SSM client's first request and the second TLS client. In AWS the "
      "read is an HTTPS round trip to SSM instead.")
else:
    p(f"- **lifecycle**: tracing-subscriber, aws-config, DynamoDB and SSM clients "
      f"({med('lifecycle') - med('hello-sdk'):+.2f} ms over hello-sdk). It opens no connection at init: the "
      "Jenkins credentials (an SSM SecureString) and the Jenkins client come on the first task that calls Jenkins, "
      "so that task pays one GetParameter round trip (from an already connected boto3 client, moto answers it in "
      f"{getparam_ms:.2f} ms).")
p("- **py-\\***: `python -m awslambdaric <module>.handler` from `bench/python/`, the handler module creating "
  "its boto3 clients at import, the way AWS's SaaS Builder Toolkit writes its Python functions. py-lifecycle "
  "also reads the same SecureString from moto at import, as such functions read their configuration"
  + ("" if ssm_at_init else " (the Rust lifecycle reads it on the first task that calls Jenkins, so its "
     "Python ÷ Rust ratio includes that round trip)") + ". AWS's Python SaaS samples usually also import AWS "
  "Lambda Powertools (Logger, Tracer) and use `boto3.resource` at module level; these ports leave that out, so "
  "they start at least as fast as such a function would: the Python ÷ Rust ratios are a lower bound.")
p()

# --- memory ----------------------------------------------------------------------------------
p("## Memory: peak RSS")
p()
p("After init: `VmRSS` when the process first polled. After one invocation: `VmHWM` once it polled again after "
  "its one event (per function, see the table). After the warm series: `VmHWM` after all its warm invocations "
  "(next section).")
p()
p("| function | event (cold runs) | RSS after init | peak after one invocation (median) | max | peak after the warm series | answer |")
p("|---|---|---|---|---|---|---|")
EVENT_TEXT = {
    "hello": "API GW `GET /v1/health` (echoed)", "hello-sdk": "API GW `GET /v1/health` (echoed)",
    "api": "API GW `GET /v1/health`", "changelog": "10 stream records (MODIFY of a tenant)",
    "lifecycle": "`begin` of a begun change request",
}


def answer_of(label):
    e = B[label]
    if label.startswith("hello"):
        return "echo"
    if e.get("response_status"):
        return ", ".join(str(s) for s in e["response_status"])
    try:
        resp = json.loads(e.get("response_sample") or "null")
    except ValueError:
        return "?"
    if isinstance(resp, dict) and "batchItemFailures" in resp:
        return f"{len(resp['batchItemFailures'])} batch item failures"
    if isinstance(resp, dict) and "steps" in resp:
        return f"{len(resp['steps'])} steps"
    return "echo" if label.startswith("hello") else "ok"


for label in ("hello", "hello-sdk", *FUNCTIONS, *(f"py-{f}" for f in FUNCTIONS)):
    e = B[label]
    warm_peak = W.get(label, {}).get("rss_peak_kb")
    p(f"| {label} | {EVENT_TEXT.get(label.removeprefix('py-'))} | {mib(e['rss_after_init_kb']['median'])} | "
      f"**{mib(e['rss_peak_kb']['median'])}** | {mib(e['rss_peak_kb']['max'])} | "
      f"{mib(warm_peak) if warm_peak else '-'} | {answer_of(label)} |")
p()

# --- warm ------------------------------------------------------------------------------------
p("## Warm invocations through the stub")
p()
p(f"One process per row, started once; then {warm['warmup']} unmeasured and {warm['runs']} measured invocations "
  "one after another. Each is timed from the stub writing the event on the runtime's pending "
  "`GET /invocation/next` to the stub having read the whole answer (`POST .../response`): the function's work "
  "plus two loopback HTTP exchanges with this Python stub (hello's row is that floor). CPU per invocation is "
  "the process's user + system time over all its invocations, from `/proc`.")
p()
p("| function | request | DynamoDB per invocation | p50 | p90 | p99 | max | CPU / invocation | other CPU |")
p("|---|---|---|---|---|---|---|---|---|")
begin_moto = next((t.get("moto") for t in lifecycle_tasks if t["action"] == "begin"), None)
fleet_moto = next((r.get("moto") for r in route_rows if r["route"] == "/v1/fleet/summary"), None)
WARM_TEXT = {
    "hello": ("`GET /v1/health` event, echoed", "none"),
    "api": ("`GET /v1/health`", "none"),
    "api-fleet-summary": ("`GET /v1/fleet/summary` (viewer claims)",
                          f"{ops_text(fleet_moto)} on moto" if fleet_moto else "1 Query on moto"),
    "changelog": ("10 stream records → 10 entries", "1 BatchWriteItem (10 items) on moto"),
    "lifecycle": ("a first `begin` of a fresh provision change request each time",
                  f"{ops_text(begin_moto)} on moto" if begin_moto else "on moto"),
    "py-api": ("`GET /v1/health` (Python + awslambdaric)", "none"),
}
for label, r in W.items():
    m = r["ms"]
    what, ddb = WARM_TEXT.get(label, (r["event"], "?"))
    p(f"| {label} | {what} | {ddb} | **{m['p50']:.2f} ms** | {m['p90']:.2f} | {m['p99']:.2f} | {m['max']:.2f} | "
      f"{r['cpu_ms_per_invocation']:.2f} ms | {r['cpu_other_fraction']:.0%} |")
p()
p(f"The rows that call DynamoDB wait on moto, a Python server: one consistent GetItem from an already connected "
  f"boto3 client takes {getitem_ms:.2f} ms there (median of 50), lifecycle's `begin` makes "
  f"{begin_moto['calls'] if begin_moto else '?'} sequential requests, and moto answers a Query by looking at every "
  f"item of the table (here the fixtures: {fixture_tenants} tenants with their change requests), so the fleet "
  "summary's single Query is slow there. What the function itself spends is the CPU column; the rest of those "
  "rows' wall time is moto's. Against DynamoDB each request is a few ms over HTTPS instead; the next section times the "
  "handler paths without any of that.")
p()

# --- criterion -------------------------------------------------------------------------------
p("## Handler paths in-process (criterion)")
p()
p("`cargo bench --workspace --bench handlers --bench entries -- --warm-up-time 1 --measurement-time 3`, the "
  "release profile, in-memory fakes, no network: what the code itself spends on a request or a batch. "
  "`api/…` (`bench/route-costs/benches/handlers.rs`): one request through the whole router (auth, request id, "
  "tracing span, extractors, the problem mapping) over the in-memory table holding a fleet of 200 provisioned "
  "tenants. `lifecycle/…`: a change request from its `POST` through every task the state machine sends "
  "(begin, each step's start and polls, finish), Jenkins and SSM in memory. `changelog/…` "
  "(`functions/changelog/benches/entries.rs`): 100 stream records of a tenant (~20 attributes, "
  "`NEW_AND_OLD_IMAGES`) into change-log items. The in-memory table answers a Query by walking its sorted "
  "items (here 200 tenants with their change requests, components and the fleet counters) and serializing "
  "what it returns, so the list rows include the fake's work; DynamoDB reads an index page instead. "
  f"Of all {os.cpu_count()} cores, over {criterion_cpu['wall_s']:.0f} s, the benches (with their build) used "
  f"{criterion_cpu['cpu_own_fraction']:.0%} and other processes {criterion_cpu['cpu_other_fraction']:.0%}.")
p()


def duration(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


p("| bench | median | 95% interval of the median | per second |")
p("|---|---|---|---|")
for row in criterion:
    elements = (row.get("throughput") or {}).get("Elements")
    rate = (f"{elements * 1e9 / row['median_ns']:,.0f} records" if elements
            else f"{1e9 / row['median_ns']:,.0f}")
    p(f"| {row['group']}/{row['name']} | **{duration(row['median_ns'])}** | {duration(row['low_ns'])} – "
      f"{duration(row['high_ns'])} | {rate} |")
p()
if criterion_notes:
    p("Printed by the benches: " + "; ".join(criterion_notes) + ".")
    p()
p()

# --- request costs ---------------------------------------------------------------------------
p("## DynamoDB calls per route and per lifecycle task")
p()
if routes:
    p("`bench/route-costs` (release build of the same `cargo lambda build`) builds the real router and runs the "
      "same script twice: on the in-memory table (`memory`: table calls, one per get, batch_get, query or write, "
      "a write being one PutItem or one TransactWriteItems) and on tables created from `infra/template.yaml` in "
      "moto (`moto`: the DynamoDB requests the SDK really sent, counted per attempt by an SDK interceptor, by "
      "operation). The script: a small registry created through the API (a customer, a license and its "
      "assignment, a release, tenants, a config, a component, a resource); the first tenant's provision change "
      "request run through the lifecycle task handler (in-process, Jenkins and SSM faked in memory); then one "
      "request per operation of the OpenAPI document, reads first and deletes last; a few variants; the fleet "
      f"summary before and after {fleet[-1]['tenants'] - fleet[0]['tenants'] if len(fleet) > 1 else 0} more "
      "tenants are created.")
    p()
    p("| method | route | status | " + " | ".join(f"{b} calls" if b == "memory" else f"{b} requests"
                                                   for b in backends)
      + (" | capacity units (est.) |" if "moto" in backends else " |"))
    p("|---|---|---|" + "---|" * len(backends) + ("---|" if "moto" in backends else ""))
    for r in route_rows:
        status = "/".join(sorted({str(r[b]["status"]) for b in backends}))
        p(f"| {r['method']} | `{r['route']}` | {status} | " + " | ".join(ops_text(r[b]) for b in backends)
          + (f" | {units(r['moto'])} |" if "moto" in backends else " |"))
    p()
    totals = {b: sum(r[b]["calls"] for r in route_rows) for b in backends}
    p(f"{len(route_rows)} operations; in all " + ", ".join(f"{n} on {b}" for b, n in totals.items()) + ".")
    p()
    p("| method | request | status | " + " | ".join(backends) + " | variant |")
    p("|---|---|---|" + "---|" * len(backends) + "---|")
    for v in routes["variants"]:
        status = "/".join(sorted({str(v[b]["status"]) for b in backends}))
        p(f"| {v['method']} | `{v['request']}` | {status} | " + " | ".join(ops_text(v[b]) for b in backends)
          + f" | {v['what']} |")
    p()
    p("`GET /v1/fleet/summary` as the fleet grows:")
    p()
    p("| tenants | " + " | ".join(backends) + " |")
    p("|---|" + "---|" * len(backends))
    for row in fleet:
        p(f"| {row['tenants']} | " + " | ".join(ops_text(row[b]) for b in backends) + " |")
    p()
    p(f"Lifecycle: the {routes['lifecycle']['operation']} change request of a new tenant, task by task as the "
      "state machine sends them (Jenkins and SSM faked; their HTTP calls are not counted):")
    p()
    p("| task | step | " + " | ".join(backends) + " |")
    p("|---|---|" + "---|" * len(backends))
    for t in lifecycle_tasks:
        p(f"| `{t['action']}` | {t['step'] or ''} | " + " | ".join(ops_text(t.get(b)) for b in backends) + " |")
    tot = {b: sum((t.get(b) or {}).get("calls", 0) for t in lifecycle_tasks) for b in backends}

    def gets(action):
        """GetItems of the first `action` task on moto."""
        t = next((t for t in lifecycle_tasks if t["action"] == action), None)
        return ((t or {}).get("moto") or {}).get("ops", {}).get("GetItem", 0)

    p()
    p(f"{len(lifecycle_tasks)} tasks, " + ", ".join(f"{n} calls on {b}" for b, n in tot.items()) + ". Each task "
      "reads the change request, then its tenant (sequential GetItems: the tenant's id is only known from the "
      "change request; with the tenant id in the task input they could be one BatchGetItem)"
      + ("; `begin` also reads the release (its health suites)" if gets("begin") == 3 else "")
      + ("; `finish` reads the change request and its tenant twice (`read` to answer a retried finish, then "
         "`held`), two GetItems that one read would save" if gets("finish") >= 4 else "")
      + ". Each task writes once, "
      "conditionally on the change request still holding the tenant: a PutItem of the change request, or one "
      "TransactWriteItems when the tenant moves too.")
    p()
else:
    p("**route-costs produced no result.**")
    p()

p("## Step Functions state transitions per lifecycle operation")
p()
p("`measure_lifecycle_operations` (an ignored test of `tests/tests/lifecycle_on_moto.rs`, debug build): moto "
  "executing `statemachines/lifecycle.asl.json`, its Lambda tasks running the Rust handler through the local "
  "invoke API, a stand-in Jenkins that finishes every job at once, `POLL_SECONDS=0`, two health suites, one "
  "tenant taken through every operation. Transitions are the `*StateEntered` events of each execution's "
  "history (what Step Functions Standard bills). A Jenkins job or SSM command polled once costs 5 transitions "
  "(start, wait, poll, choice, done); each further poll of a longer job 3 more (wait, poll, choice). The wall "
  "time is moto's and the debug build's, from the API's 202 to the change request settling.")
p()
p(lifecycle_table)
p()

p("## Consumed capacity")
p()
p("Asked of moto with `ReturnConsumedCapacity: TOTAL` (`bench/fixtures.py moto`), on one small and one large "
  "item, next to what DynamoDB bills for the same request:")
p()
p("| request | moto, 100 B item | moto, 20 KB item | DynamoDB, 100 B | DynamoDB, 20 KB |")
p("|---|---|---|---|---|")
for op, by_size in moto["capacity"].items():
    would = moto["dynamodb_would"][op]
    shown = {k: ("none" if v is None else f"{v:g}") for k, v in by_size.items()}
    p(f"| {op} | {shown['100 B']} | {shown['20 KB']} | {would['100 B']} | {would['20 KB']} |")
p()
p("moto answers a constant per request whatever the item's size (and nothing for a transaction), so its "
  "`ConsumedCapacity` measures nothing. The capacity units per route above are therefore estimated by "
  "route-costs' SDK interceptor from the items on the wire, by DynamoDB's billing rules "
  "(`bench/route-costs/src/wire.rs`, unit-tested): item size = attribute names + values; a GetItem, or each "
  "key of a BatchGetItem, 1 RCU per 4 KB of the item (strongly consistent, as the store reads; a missing item "
  "still costs one); a Query on the size of the items it returned (an index query is eventually consistent: "
  "half); a put 1 WCU per KB of the new item; a delete or update 1 WCU (the old item's size is not on the "
  "wire: a lower bound); a transaction twice the units of its items. A Query's filtered-out items are not on "
  "the wire either, so a filtered Query is a lower bound too. Measuring them for real needs a DynamoDB table "
  "(DynamoDB Local's licence rules it out here).")
p()

if routes is None or env.get("BENCH_ROUTE_RC", "0") != "0" or routes_err:
    p(f"**route-costs exited with status {env.get('BENCH_ROUTE_RC')}**:")
    p()
    p("```")
    p(routes_err)
    p("```")

print(out.getvalue().rstrip())
