#!/usr/bin/env bash
# `make bench`: for every function (api, changelog, lifecycle) next to a bare lambda_runtime
# `hello`, in one run: release size, cold init against a Runtime API stub (and the same handlers
# in Python with boto3 through awslambdaric), warm invocations, peak RSS, and the DynamoDB calls
# of every API route and lifecycle task (in memory and on moto). Writes bench/RESULTS.md.
#
#   bash bench/run.sh     (from anywhere)
#   RUNS=40 (cold starts per function, >= 20)  WARM_RUNS=300  WARM_WARMUP=20  (invocations)
#   BENCH_KEEP_WORK=1 keeps the raw measurements (JSON) in the temporary directory it names
#
# Measures x86_64, and the arm64 bootstraps' sizes too where the Rust standard library for
# aarch64-unknown-linux-gnu is installed (`rustup target add`; cargo-lambda links with zig). Needs the local tools (`make tools`: moto, cargo-lambda, zig); installs
# the Python side (awslambdaric, boto3) into .tools/bench-venv on first use.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
export PATH="$REPO/.tools/venv/bin:$PATH"
RUNS="${RUNS:-40}"
WARM_RUNS="${WARM_RUNS:-300}"
WARM_WARMUP="${WARM_WARMUP:-20}"
OUT="bench/RESULTS.md"
TOOLS_PY="$REPO/.tools/venv/bin/python"
BENCH_VENV="$REPO/.tools/bench-venv"
BENCH_PY="$BENCH_VENV/bin/python"
# The Python side, pinned: the runtime interface client AWS's Python base images run, and boto3.
BENCH_REQUIREMENTS=("awslambdaric==4.2.2" "boto3==1.44.8")
WORK="$(mktemp -d)"
MOTO_PID=""

log() { printf 'bench: %s\n' "$*" >&2; }

cleanup() {
  if [[ -n "$MOTO_PID" ]]; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
  fi
  if [[ -n "${BENCH_KEEP_WORK:-}" ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

command -v cargo-lambda >/dev/null || { log "cargo-lambda not found: run make tools"; exit 1; }
[[ -x "$TOOLS_PY" ]] || { log "$TOOLS_PY not found: run make tools"; exit 1; }
(( RUNS >= 20 )) || { log "RUNS must be at least 20"; exit 1; }
(( WARM_RUNS >= 100 )) || { log "WARM_RUNS must be at least 100 (for a p99)"; exit 1; }

# --- the Python side: its own venv, installed once (a stamp of the pins makes reruns no-ops) ----
bench_venv() {
  local want have=""
  want="$( { printf '%s\n' "${BENCH_REQUIREMENTS[@]}"; python3 -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
  [[ -f "$BENCH_VENV/.stamp" ]] && have="$(cat "$BENCH_VENV/.stamp")"
  if [[ "$have" == "$want" && -x "$BENCH_PY" ]]; then
    return
  fi
  log "installing ${BENCH_REQUIREMENTS[*]} into $BENCH_VENV"
  rm -rf "$BENCH_VENV"
  python3 -m venv "$BENCH_VENV"
  "$BENCH_PY" -m pip install --quiet --disable-pip-version-check --no-input "${BENCH_REQUIREMENTS[@]}"
  "$BENCH_PY" -c 'import awslambdaric, boto3'
  printf '%s\n' "$want" >"$BENCH_VENV/.stamp"
}
bench_venv

# --- the release build, as deployed (x86_64 here) ------------------------------------------------
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
log "cargo lambda build --release --locked (x86_64; a cold build takes 6-14 min on 2 cores; load now $LOAD_BEFORE)"
python3 bench/contention.py --out "$WORK/build.json" -- cargo lambda build --release --locked

declare -A BIN=(
  [hello]=target/lambda/hello/bootstrap
  [hello-sdk]=target/lambda/hello-sdk/bootstrap
  [api]=target/lambda/api/bootstrap
  [changelog]=target/lambda/changelog/bootstrap
  [lifecycle]=target/lambda/lifecycle/bootstrap
  [route-costs]=target/lambda/route-costs/bootstrap
)
for f in "${BIN[@]}"; do
  [[ -x "$f" ]] || { log "$f was not built"; exit 1; }
done

# arm64 (what SAM deploys): built and sized where its standard library is installed; it cannot
# run here, so only its size is measured. Into its own directory, next to the x86_64 ones.
ARM64_DIR=""
if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  log "cargo lambda build --release --arm64 --locked (sizes only)"
  if cargo lambda build --release --arm64 --locked --lambda-dir target/lambda-arm64 >"$WORK/arm64.log" 2>&1; then
    ARM64_DIR="$REPO/target/lambda-arm64"
  else
    log "the arm64 build failed (see below); its sizes are left out"; tail -20 "$WORK/arm64.log" >&2
  fi
fi

# --- moto, on a free loopback port; it exits when this script's end of its stdin closes -----------
MOTO_PORT="$("$TOOLS_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
mkfifo "$WORK/moto.stdin"
"$TOOLS_PY" tests/stack/moto_launcher.py --host 127.0.0.1 --port "$MOTO_PORT" --exit-on-stdin-eof \
  <"$WORK/moto.stdin" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
exec 7>"$WORK/moto.stdin"
for _ in $(seq 1 150); do
  grep -q '^moto ready' "$WORK/moto.log" 2>/dev/null && break
  kill -0 "$MOTO_PID" 2>/dev/null || { log "moto failed to start:"; cat "$WORK/moto.log" >&2; exit 1; }
  sleep 0.2
done
grep -q '^moto ready' "$WORK/moto.log" || { log "moto did not become ready"; exit 1; }
ENDPOINT="http://127.0.0.1:$MOTO_PORT"
log "moto on $ENDPOINT"

# --- fixtures: tables, the Jenkins secret in SSM, change requests to begin, the events ------------
TABLE=bench-registry CHANGELOG_TABLE=bench-changelog SECRET_PARAM=/admin-portal/bench/jenkins
FRESH=$((WARM_RUNS + WARM_WARMUP))
log "fixtures on moto: both tables, $SECRET_PARAM, $FRESH tenants with a change request to begin"
"${BIN[route-costs]}" fixtures --endpoint "$ENDPOINT" --table "$TABLE" --changelog-table "$CHANGELOG_TABLE" \
  --changes "$FRESH" --secret-param "$SECRET_PARAM" >"$WORK/changes.json"
"$BENCH_PY" bench/fixtures.py events --out "$WORK/events" --changes "$WORK/changes.json"
"$BENCH_PY" bench/fixtures.py moto --endpoint "$ENDPOINT" --param "$SECRET_PARAM" >"$WORK/moto.json"

# --- the functions: each with its variables from infra/template.yaml, all pointed at moto --------
export BENCH_ENDPOINT="$ENDPOINT" BENCH_TABLE="$TABLE" BENCH_CHANGELOG_TABLE="$CHANGELOG_TABLE" \
  BENCH_SECRET_PARAM="$SECRET_PARAM" BENCH_PY BENCH_WORK="$WORK" BENCH_REPO="$REPO"
python3 - <<'PY'
import json, os
e = os.environ
work, repo = e["BENCH_WORK"], e["BENCH_REPO"]
common = {"AWS_ENDPOINT_URL": e["BENCH_ENDPOINT"]}
env = {
    "hello": {},
    "hello-sdk": {},
    "api": {"TABLE_NAME": e["BENCH_TABLE"], "CHANGELOG_TABLE_NAME": e["BENCH_CHANGELOG_TABLE"],
            "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:bench-lifecycle",
            "RUST_LOG": "info", "PORTAL_STAGE": "bench"},
    "changelog": {"CHANGELOG_TABLE_NAME": e["BENCH_CHANGELOG_TABLE"], "RUST_LOG": "info"},
    "lifecycle": {"TABLE_NAME": e["BENCH_TABLE"], "JENKINS_URL": "http://127.0.0.1:9/",
                  "JENKINS_SECRET_PARAM": e["BENCH_SECRET_PARAM"], "HEALTH_SUITES": "api-smoke,ui-smoke",
                  "POLL_SECONDS": "15", "RUST_LOG": "info"},
}
health = f"{repo}/bench/events/health.json"
event = {"hello": health, "hello-sdk": health, "api": health,
         "changelog": f"{work}/events/changelog-batch.json", "lifecycle": f"{work}/events/lifecycle-begun.json"}

def rust(label, event_path):
    path = f"{repo}/target/lambda/{label}/bootstrap"
    return {"label": label, "cmd": [path], "size_path": path, "env": {**common, **env[label]}, "event": event_path}

def python(label, event_path):
    module = f"{label}_handler"
    return {"label": f"py-{label}", "cmd": [e["BENCH_PY"], "-m", "awslambdaric", f"{module}.handler"],
            "cwd": f"{repo}/bench/python",
            "env": {**common, **env[label], "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
                    "_HANDLER": f"{module}.handler", "LAMBDA_TASK_ROOT": f"{repo}/bench/python"},
            "event": event_path}

# Variants:
# - /al2023: the TLS roots laid out as on provided.al2023 (what SAM deploys to), where
#   rustls-native-certs reads the bundle /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem and the
#   directory /etc/pki/tls/certs (ca-bundle.crt, the same bundle, skipped by inode, and
#   ca-bundle.trust.crt, OpenSSL's TRUSTED CERTIFICATE form, read and skipped); built under the
#   work dir from this machine's bundle and named by SSL_CERT_FILE / SSL_CERT_DIR, which make
#   rustls-native-certs read exactly that file and that directory, as its probe does on AL2023.
#   This machine's own layout (Debian: the bundle plus one file per certificate in /etc/ssl/certs)
#   is what the plain rows read.
# - /ssm-stub: lifecycle's SDK pointed at the Runtime API stub, which answers an SSM read at once.
bundle = next(p for p in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
                          "/etc/ssl/cert.pem") if os.path.exists(p))
pki = f"{work}/al2023-pki"
pem = open(bundle).read()
os.makedirs(f"{pki}/ca-trust/extracted/pem", exist_ok=True)
os.makedirs(f"{pki}/ca-trust/extracted/openssl", exist_ok=True)
os.makedirs(f"{pki}/tls/certs", exist_ok=True)
open(f"{pki}/ca-trust/extracted/pem/tls-ca-bundle.pem", "w").write(pem)
open(f"{pki}/ca-trust/extracted/openssl/ca-bundle.trust.crt", "w").write(
    pem.replace("BEGIN CERTIFICATE", "BEGIN TRUSTED CERTIFICATE").replace("END CERTIFICATE", "END TRUSTED CERTIFICATE"))
for name, target in (("ca-bundle.crt", "../../ca-trust/extracted/pem/tls-ca-bundle.pem"),
                     ("ca-bundle.trust.crt", "../../ca-trust/extracted/openssl/ca-bundle.trust.crt")):
    if not os.path.lexists(f"{pki}/tls/certs/{name}"):
        os.symlink(target, f"{pki}/tls/certs/{name}")
al2023 = {"SSL_CERT_FILE": f"{pki}/ca-trust/extracted/pem/tls-ca-bundle.pem", "SSL_CERT_DIR": f"{pki}/tls/certs"}

def variant(label, suffix, extra):
    f = rust(label, event[label])
    return {**f, "label": f"{label}/{suffix}", "env": {**f["env"], **extra}}

rusts = ["hello", "hello-sdk", "api", "changelog", "lifecycle"]
cold = ([rust(l, event[l]) for l in rusts]
        + [variant(l, "al2023", al2023) for l in rusts]
        # (no event: its DynamoDB calls would go to the stub too)
        + [{**variant("lifecycle", "ssm-stub", {"AWS_ENDPOINT_URL": "http://{stub}"}), "event": None}]
        + [python(l, event[l]) for l in ("api", "changelog", "lifecycle")])
warm = [rust("hello", health), rust("api", health),
        {**rust("api", f"{repo}/bench/events/fleet-summary.json"), "label": "api-fleet-summary"},
        rust("changelog", event["changelog"]), rust("lifecycle", f"{work}/events/lifecycle-begin.jsonl"),
        python("api", health)]
json.dump({"functions": cold}, open(f"{work}/cold-spec.json", "w"), indent=2)
json.dump({"functions": warm}, open(f"{work}/warm-spec.json", "w"), indent=2)
PY

log "cold init and peak RSS: $RUNS starts of each function, interleaved, one invocation each"
sleep 2  # let the build's last writes settle
python3 bench/cold_init.py --spec "$WORK/cold-spec.json" --runs "$RUNS" --warmup 3 --timeout 30 \
  --own-pid "$MOTO_PID" --json >"$WORK/cold.json"

log "what each init opens (TLS root-certificate files) and connects to: one start each under strace"
python3 bench/init_files.py --spec "$WORK/cold-spec.json" >"$WORK/init_files.json"

log "warm invocations: $WARM_WARMUP + $WARM_RUNS per function, one process each"
python3 bench/warm.py --spec "$WORK/warm-spec.json" --runs "$WARM_RUNS" --warmup "$WARM_WARMUP" \
  --own-pid "$MOTO_PID" --json >"$WORK/warm.json"

# The release binary of the same cargo-lambda build (a `cargo run --release` would be a second
# full release build, in target/release, with another feature set).
log "route and lifecycle task costs (${BIN[route-costs]}): in memory, then on moto"
route_rc=0
"${BIN[route-costs]}" --moto "$ENDPOINT" >"$WORK/routes.json" 2>"$WORK/routes.err" || route_rc=$?

# Criterion: the handler paths with in-memory fakes (route-costs' `handlers`: API routes through the
# router, lifecycle change requests task by task) and the change log's (`entries`). The bench
# profile is the release profile; its build goes to target/release (not cargo-lambda's target dir).
log "criterion: cargo bench --workspace --bench handlers --bench entries (builds in target/release first)"
touch "$WORK/criterion.start"
python3 bench/contention.py --out "$WORK/criterion-cpu.json" -- \
  cargo bench --workspace --locked --bench handlers --bench entries -- --warm-up-time 1 --measurement-time 3 \
  >"$WORK/criterion.log" 2>&1 || { log "cargo bench failed:"; tail -40 "$WORK/criterion.log" >&2; exit 1; }
python3 bench/criterion_results.py --since "$WORK/criterion.start" target/criterion >"$WORK/criterion.json"

# Step Functions state transitions per lifecycle operation: moto executing the real ASL against the
# task handler and a stand-in Jenkins (an ignored test of the integration suite, debug build).
log "lifecycle operations on moto: state transitions per operation"
LIFECYCLE_BENCH_OUT="$WORK/lifecycle.md" AWS_EC2_METADATA_DISABLED=true \
  cargo test --workspace --locked --test lifecycle_on_moto measure_lifecycle_operations -- --ignored \
  >"$WORK/lifecycle.log" 2>&1 || { log "the lifecycle measurement failed:"; tail -40 "$WORK/lifecycle.log" >&2; exit 1; }

CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
export BENCH_DATE="$(date -u '+%Y-%m-%d %H:%M UTC')" BENCH_CPU="$CPU ($(nproc) cores)" \
  BENCH_RUSTC="$(rustc -V)" BENCH_CARGO_LAMBDA="$(cargo lambda --version 2>/dev/null | head -1)" \
  BENCH_COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')" \
  BENCH_LOAD_BEFORE="$LOAD_BEFORE" BENCH_ROUTE_RC="$route_rc" BENCH_RUNS="$RUNS" \
  BENCH_TARGETS="$(rustup target list --installed 2>/dev/null | tr '\n' ' ')" BENCH_ARM64_DIR="$ARM64_DIR" \
  BENCH_PYTHON="$("$BENCH_PY" -c 'import sys, boto3, importlib.metadata as m; print("Python " + sys.version.split()[0] + ", boto3 " + boto3.__version__ + ", awslambdaric " + m.version("awslambdaric"))')" \
  BENCH_MOTO="$("$TOOLS_PY" -c 'import moto; print(moto.__version__)')"

python3 bench/report.py >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
log "wrote $OUT"

if [[ "$route_rc" != 0 ]]; then
  log "route-costs failed (status $route_rc): see $OUT"
  cat "$WORK/routes.err" >&2
  exit 1
fi

# --- the 10,000-tenant fleet (bench/FLEET.md): its own moto, ~15 min; BENCH_FLEET=0 skips it ----
if [[ "${BENCH_FLEET:-1}" != 0 ]]; then
  log "the fleet: seeded to ${SIZES:-1000,2500,5000,10000} tenants (bench/fleet.sh)"
  bash "$REPO/bench/fleet.sh"
fi
