#!/usr/bin/env bash
# `make dev`: moto on a free loopback port, the registry table from infra/template.yaml, demo
# data, and the API on http://127.0.0.1:$PORT. Ctrl-C stops everything this started.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"

export AWS_EC2_METADATA_DISABLED=true AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export PORT="${PORT:-3000}"
export TABLE_NAME="${TABLE_NAME:-admin-portal-registry}"
PY="$REPO/.tools/venv/bin/python"
mkdir -p .dev

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "dev: port $PORT is already in use; stop what runs there or use PORT=..." >&2
  exit 1
fi

echo "dev: building the local server (the first build takes a few minutes)..." >&2
cargo build --locked --bin devstack

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MOTO_PORT="${MOTO_PORT:-$(free_port)}"
# moto sends every Lambda invocation (Step Functions tasks) to the dev server's invoke API.
export INVOKE_PORT="${INVOKE_PORT:-$(free_port)}"
export JENKINS_PORT="${JENKINS_PORT:-$(free_port)}"
LAMBDA_INVOKE_ENDPOINT="http://127.0.0.1:$INVOKE_PORT" \
  "$PY" tests/stack/moto_launcher.py --host 127.0.0.1 --port "$MOTO_PORT" > .dev/moto.log 2>&1 &
MOTO_PID=$!
SERVER_PID=""
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null || true
  kill "$MOTO_PID" 2>/dev/null || true
  # moto's server threads can take a while to wind down: give it 3 s, then stop it hard.
  for _ in 1 2 3 4 5 6; do kill -0 "$MOTO_PID" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$MOTO_PID" 2>/dev/null || true
  wait "$MOTO_PID" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

for _ in $(seq 1 150); do
  grep -q '^moto ready' .dev/moto.log 2>/dev/null && break
  kill -0 "$MOTO_PID" 2>/dev/null || { echo "dev: moto failed to start:" >&2; cat .dev/moto.log >&2; exit 1; }
  sleep 0.2
done
grep -q '^moto ready' .dev/moto.log || { echo "dev: moto did not become ready" >&2; exit 1; }
export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"

# In the background and waited for, so a TERM to this script (not only Ctrl-C) runs the cleanup
# at once: bash runs traps only between commands, and `wait` is one it can interrupt.
"${CARGO_TARGET_DIR:-$REPO/target}/debug/devstack" serve &
SERVER_PID=$!

# The banner once the API answers (the server seeds the demo data before it listens), so a curl
# right after it works. Stop waiting if the server ends: `wait` then reports how it ended.
echo "dev: starting the API and seeding the demo data..." >&2
until curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/v1/health" 2>/dev/null; do
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.2
done
if kill -0 "$SERVER_PID" 2>/dev/null; then
  # A sign-in link for an admin (the fragment never reaches the server; the page keeps the
  # token in sessionStorage). Other roles: make signin ROLE=operator|viewer [SUB=name].
  SIGNIN="http://127.0.0.1:$PORT/#access_token=$("${CARGO_TARGET_DIR:-$REPO/target}/debug/devstack" token --role admin --sub admin)"
  cat >&2 <<MSG

  Web portal (admin)     $SIGNIN
      (another role: make signin ROLE=operator|viewer [SUB=name])
  Admin Portal (local)   http://127.0.0.1:$PORT/v1/health
  OpenAPI                http://127.0.0.1:$PORT/v1/openapi.json
  AWS emulator (moto)    $AWS_ENDPOINT_URL   (log: .dev/moto.log)

  Stand-in Jenkins       http://127.0.0.1:$JENKINS_PORT   (make a job fail:
      make jenkins OUTCOME=FAILURE JOB=upgrade-tenant; every job: make jenkins OUTCOME=hang)

  A token:   TOKEN=\$(make -s token ROLE=admin SUB=alice)
  Then:      curl -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:$PORT/v1/fleet/summary
  Run one:   curl -H "Authorization: Bearer \$TOKEN" -H 'content-type: application/json' \\
               -d '{"operation":"enter_maintenance"}' http://127.0.0.1:$PORT/v1/tenants/<id>/change-requests

MSG
fi
wait "$SERVER_PID"
