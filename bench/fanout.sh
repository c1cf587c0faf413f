#!/usr/bin/env bash
# One schedule fan-out over TENANTS (default 1000) Healthy tenants on moto, and the same event
# delivered again: DynamoDB requests by operation, estimated capacity units, executions started,
# seconds. PER_SECOND bounds the creates (default 1000/s, to measure the cost itself; the
# deployed default is 10/s, FanOutPerSecond). Writes bench/FANOUT.json.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# shellcheck source=bench/moto.sh
source bench/moto.sh
"${CARGO_TARGET_DIR:-target}/debug/route-costs" fan-out --moto "http://127.0.0.1:$MOTO_PORT" \
  --tenants "${TENANTS:-1000}" --per-second "${PER_SECOND:-1000}" >"$WORK/stdout.log"
# stdout also carries the core's metric lines (CloudWatch's embedded format, one JSON object a
# line, as in Lambda); the report is the indented document after them.
grep -v '^{"' "$WORK/stdout.log" | tee bench/FANOUT.json
