#!/usr/bin/env bash
# `make bench`: release size, cold init and peak RSS of the api function against a bare
# lambda_runtime hello, and the table calls of every API route. Writes bench/RESULTS.md.
#
#   bash bench/run.sh            (from anywhere; RUNS=40 starts per binary by default)
#
# x86_64 only: an arm64 build needs `rustup target add aarch64-unknown-linux-gnu`, a download
# this machine cannot make. Needs the local tools (`make tools`): cargo-lambda and zig.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
export PATH="$REPO/.tools/venv/bin:$PATH"
RUNS="${RUNS:-40}"
OUT="bench/RESULTS.md"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

log() { printf 'bench: %s\n' "$*" >&2; }

command -v cargo-lambda >/dev/null || { log "cargo-lambda not found: run make tools"; exit 1; }
(( RUNS >= 20 )) || { log "RUNS must be at least 20"; exit 1; }

log "cargo lambda build --release --locked (x86_64; a cold build takes 6-14 min on 2 cores)"
start=$SECONDS
cargo lambda build --release --locked
build_secs=$((SECONDS - start))

API=target/lambda/api/bootstrap
HELLO=target/lambda/hello/bootstrap
ROUTE_COSTS=target/lambda/route-costs/bootstrap
for f in "$API" "$HELLO" "$ROUTE_COSTS"; do
  [[ -x "$f" ]] || { log "$f was not built"; exit 1; }
done

log "cold init and peak RSS: $RUNS starts of each, interleaved, one GET /v1/health invocation each"
sleep 2  # let the build's last writes settle
python3 bench/cold_init.py "api=$API" "hello=$HELLO" --runs "$RUNS" --warmup 3 \
  --env TABLE_NAME=bench --env CHANGELOG_TABLE_NAME=bench-changelog --env RUST_LOG=info \
  --invoke bench/events/health.json --json >"$WORK/cold.json"

# The release binary of the same cargo-lambda build (a `cargo run --release` would be a second
# full release build, in target/release, with another feature set).
log "route costs ($ROUTE_COSTS)"
route_rc=0
"$ROUTE_COSTS" >"$WORK/routes.md" 2>"$WORK/routes.err" || route_rc=$?

CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
export BENCH_DATE="$(date -u '+%Y-%m-%d %H:%M UTC')" BENCH_CPU="$CPU ($(nproc) cores)" \
  BENCH_RUSTC="$(rustc -V)" BENCH_CARGO_LAMBDA="$(cargo lambda --version 2>/dev/null | head -1)" \
  BENCH_COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')" \
  BENCH_BUILD_SECS="$build_secs" BENCH_ROUTE_RC="$route_rc" BENCH_WORK="$WORK" BENCH_RUNS="$RUNS"

python3 - "$API" "$HELLO" >"$OUT.tmp" <<'PY'
import io, json, os, subprocess, sys, zipfile
from pathlib import Path

env = os.environ
work = Path(env["BENCH_WORK"])
cold = json.loads((work / "cold.json").read_text())
b = cold["binaries"]
api, hello = b["api"], b["hello"]

def zipped(path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(path, "bootstrap")
    return buf.tell()

def stripped(path):
    try:
        out = subprocess.run(["file", "-b", path], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return "?"
    return "yes" if "stripped" in out and "not stripped" not in out else "no"

mb = lambda n: f"{n / 1e6:.2f} MB"
mib = lambda kb: f"{kb / 1024:.1f} MiB"
p = print
p("# Benchmark results")
p()
p(f"Written by `make bench` (`bench/run.sh`) on {env['BENCH_DATE']}, commit {env['BENCH_COMMIT']}.")
p()
p(f"- CPU: {env['BENCH_CPU']}")
p(f"- {env['BENCH_RUSTC']}; {env['BENCH_CARGO_LAMBDA']}")
p(f"- Build: `cargo lambda build --release --locked`, x86_64-unknown-linux-gnu, workspace release profile "
  f"(opt-level \"z\", fat LTO, codegen-units 1, panic abort, strip). The build step took "
  f"{env['BENCH_BUILD_SECS']} s wall this time (incremental when `target/` already held a release build).")
p("- **arm64 (what SAM deploys) is not measured**: `cargo lambda build --arm64` needs "
  "`rustup target add aarch64-unknown-linux-gnu`, a download this machine cannot make.")
p()
p("## Size")
p()
p("| function | binary (stripped) | zipped | stripped |")
p("|---|---|---|---|")
for label, path in (("api", sys.argv[1]), ("hello", sys.argv[2])):
    p(f"| {label} | {mb(os.path.getsize(path))} ({os.path.getsize(path):,} B) | {mb(zipped(path))} | {stripped(path)} |")
p()
p(f"api / hello: {api['size_bytes'] / hello['size_bytes']:.1f}x.")
p()
p("## Cold init: spawn → first poll of the Runtime API")
p()
p(f"{cold['runs']} starts of each binary after {cold['warmup']} unmeasured ones, interleaved (api, hello, hello, "
  "api...), against `bench/runtime_stub.py` on 127.0.0.1 with the Lambda environment "
  "(`AWS_LAMBDA_*`, memory size 256, region us-east-1, static test credentials, "
  "`AWS_EC2_METADATA_DISABLED=true`, SDK config files pointing nowhere) plus the api's variables from "
  "`infra/template.yaml` (`TABLE_NAME`, `CHANGELOG_TABLE_NAME`, `RUST_LOG=info`), given to both. "
  "Timed from just before `Popen` to the stub reading the first `GET /invocation/next`, so it includes "
  "fork/exec and the dynamic loader. Local process start, not a Lambda cold start: no sandbox, "
  "no code download, no 256 MB CPU share. "
  f"The runs took {cold['wall_s']} s; of all {cold['cpu_count']} cores, the bench (with the functions it "
  f"started) used {cold['cpu_own_fraction']:.0%} and other processes {cold['cpu_other_fraction']:.0%}.")
p()
p("| function | median | p10 | p90 | min | max |")
p("|---|---|---|---|---|---|")
for label, e in (("api", api), ("hello", hello)):
    s = e["init_ms"]
    p(f"| {label} | **{s['median']:.2f} ms** | {s['p10']:.2f} | {s['p90']:.2f} | {s['min']:.2f} | {s['max']:.2f} |")
p()
ratio = api["init_ms"]["median"] / hello["init_ms"]["median"]
diff = api["init_ms"]["median"] - hello["init_ms"]["median"]
p(f"api / hello (medians): **{ratio:.1f}x**, i.e. {diff:+.2f} ms of init on top of the bare runtime "
  "(aws-config loading, the DynamoDB client, tracing-subscriber, building the router).")
p()
p("## Memory: peak RSS")
p()
p("Each started process was then served one invocation (`bench/events/health.json`: an API Gateway v2 "
  "`GET /v1/health`; hello echoes it back) and its `VmHWM` read from `/proc/PID/status` once it polled "
  "again, just before it was killed.")
p()
p("| function | RSS after init (median) | peak RSS after one invocation (median) | max | answer |")
p("|---|---|---|---|---|")
for label, e in (("api", api), ("hello", hello)):
    status = ", ".join(str(s) for s in e.get("response_status", [])) or f"echo"
    p(f"| {label} | {mib(e['rss_after_init_kb']['median'])} | **{mib(e['rss_peak_kb']['median'])}** | "
      f"{mib(e['rss_peak_kb']['max'])} | {status} |")
p()
p("## Table calls per route")
p()
p("`bench/route-costs` (release build of the same `cargo lambda build`, run as "
  "`target/lambda/route-costs/bootstrap`): the real router on the in-memory table with a small registry "
  "(a customer, a license and its assignment, a release, two tenants, a config, a component, a resource "
  "used by one tenant), then one request per operation of the OpenAPI document, reads first and deletes "
  "last. A table call is one get, batch_get, query or write (one PutItem or one TransactWriteItems) on any "
  "table the router is given: one DynamoDB round trip each.")
p()
p((work / "routes.md").read_text().rstrip())
err = (work / "routes.err").read_text().strip()
if env["BENCH_ROUTE_RC"] != "0" or err:
    p()
    p(f"**route-costs exited with status {env['BENCH_ROUTE_RC']}**; the counts of these routes are those of "
      "their error path:")
    p()
    p("```")
    p(err)
    p("```")
PY
mv "$OUT.tmp" "$OUT"
log "wrote $OUT"

if [[ "$route_rc" != 0 ]]; then
  log "route-costs failed (status $route_rc): some routes did not succeed, see $OUT"
  exit 1
fi
