#!/usr/bin/env bash
# One schedule fan-out over TENANTS (default 1000) Healthy tenants on moto, and the same event
# delivered again: DynamoDB requests by operation, estimated capacity units, executions started,
# seconds. PER_SECOND bounds the creates (default 1000/s, to measure the cost itself; the
# deployed default is 10/s, FanOutPerSecond). Writes bench/FANOUT.json.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
export AWS_EC2_METADATA_DISABLED=true
PY="$REPO/.tools/venv/bin/python"
WORK="$(mktemp -d)"
MOTO_PID=""
cleanup() {
  [[ -n "$MOTO_PID" ]] && { kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# The workspace build the tests use (one package alone would unify features differently and rebuild the SDK).
cargo build --locked --workspace --all-targets
MOTO_PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$PY" tests/stack/moto_launcher.py --host 127.0.0.1 --port "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
for _ in $(seq 1 150); do
  grep -q '^moto ready' "$WORK/moto.log" 2>/dev/null && break
  kill -0 "$MOTO_PID" 2>/dev/null || { cat "$WORK/moto.log" >&2; exit 1; }
  sleep 0.2
done
"${CARGO_TARGET_DIR:-target}/debug/route-costs" fan-out --moto "http://127.0.0.1:$MOTO_PORT" \
  --tenants "${TENANTS:-1000}" --per-second "${PER_SECOND:-1000}" | tee bench/FANOUT.json
