#!/usr/bin/env bash
# A fleet seeded on moto in batches up to 10,000 tenants (SIZES, default 1000,2500,5000,10000), and
# at each size: the fleet summary, filtered list pages, a dry-run plan over SELECT (1000) tenants,
# that rollout's fan-out, CONCURRENT (200) transitions of different tenants at once; DynamoDB
# requests, estimated capacity units, executions started, seconds (`route-costs fleet`). Writes
# bench/FLEET.json, then bench/FLEET.md (bench/fleet_report.py).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# shellcheck source=bench/moto.sh
source bench/moto.sh
"${CARGO_TARGET_DIR:-target}/debug/route-costs" fleet --moto "http://127.0.0.1:$MOTO_PORT" \
  --sizes "${SIZES:-1000,2500,5000,10000}" --select "${SELECT:-1000}" --concurrent "${CONCURRENT:-200}" \
  --out "$WORK/fleet.json" >"$WORK/stdout.log"
cp "$WORK/fleet.json" "${FLEET_OUT:-bench/FLEET.json}"
# The report exits 1 when a target is missed; the table is written either way.
rc=0
python3 bench/fleet_report.py "${FLEET_OUT:-bench/FLEET.json}" >"${FLEET_MD:-bench/FLEET.md}" || rc=$?
cat "${FLEET_MD:-bench/FLEET.md}"
exit "$rc"
