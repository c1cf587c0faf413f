# Sourced by the bench scripts that need moto alone (fanout.sh, fleet.sh): from the repository's
# root, builds the workspace as the tests do, starts moto through the project's launcher on a free
# loopback port, and sets MOTO_PORT and WORK (a temporary directory); both go when the script exits.
export AWS_EC2_METADATA_DISABLED=true
PY="$PWD/.tools/venv/bin/python"
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
