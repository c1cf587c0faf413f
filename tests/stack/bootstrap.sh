#!/usr/bin/env bash
# Installs the local test/dev tooling into $REPO/.tools (git-ignored):
#   - a Python venv with the AWS emulator (moto server), cfn-lint, cargo-lambda, zig and
#     python-jenkins (a real Jenkins client the stand-in Jenkins is checked with)
#   - checkov (the template's security scan, in `make lint`) in a venv of its own: it pins boto3
#     1.35 and networkx 2.x, which would downgrade the botocore moto runs on
#   - schemathesis and openapi-python-client (the contract tests: a fuzzer and a client generator
#     nobody here wrote read the served OpenAPI document) in a venv of their own, .tools/contract:
#     their hypothesis/httpx/attrs pins stay out of moto's venv
#   - asl-validator (npm) under .tools/node_modules
#   - Debian's chromium (/usr/bin/chromium), which the web portal's browser tests drive, with
#     apt-get when it is missing (Playwright's own browser download cannot work here)
# Idempotent: a stamp file holding a hash of the pinned requirements makes a second run a no-op.
#
# Usage: tests/stack/bootstrap.sh        (FORCE=1 to reinstall even when the stamp matches)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/../.." && pwd)"
TOOLS="$REPO/.tools"
VENV="$TOOLS/venv"
CHECKOV_VENV="$TOOLS/checkov"
CONTRACT_VENV="$TOOLS/contract"
STAMP="$TOOLS/.bootstrap.stamp"
PYTHON="${PYTHON:-python3}"

# Pinned versions. The moto launcher (moto_launcher.py) patches moto internals: keep moto pinned.
PY_REQUIREMENTS=(
  "moto[server]==5.2.5"
  "cfn-lint==1.58.0"
  "cargo-lambda==1.9.2"
  "ziglang==0.17.0"
  "python-jenkins==1.8.3"
)
CHECKOV_REQUIREMENTS=(
  "checkov==3.3.30"
)
CONTRACT_REQUIREMENTS=(
  "schemathesis==4.32.5"
  "openapi-python-client==0.29.1"
)
NPM_REQUIREMENTS=(
  "asl-validator@4.0.0"
)

log() { printf 'bootstrap: %s\n' "$*" >&2; }

hash_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum | cut -d' ' -f1; else shasum -a 256 | cut -d' ' -f1; fi
}

# The stamp covers the requirement lists and this python's major.minor (a venv is tied to it).
PY_MM="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
WANT="$( { printf '%s\n' "${PY_REQUIREMENTS[@]}" "${CHECKOV_REQUIREMENTS[@]}" "${CONTRACT_REQUIREMENTS[@]}" "${NPM_REQUIREMENTS[@]}"; echo "python=$PY_MM"; } | hash_of)"

ASL_BIN="$TOOLS/node_modules/.bin/asl-validator"

# The browser of `make test-browser`: installed only when missing (apt-get, as root or with sudo);
# without it everything else still works, and the browser tests say what is missing.
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$CHROMIUM" ]]; then
  sudo=""; [[ "$(id -u)" == 0 ]] || sudo="sudo -n"
  if command -v apt-get >/dev/null 2>&1; then
    log "installing chromium with apt-get (for the browser tests)"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 \
      && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2 \
      || log "could not install chromium (make test-browser needs it): apt-get install chromium, or set CHROMIUM=path"
  else
    log "chromium not found at $CHROMIUM (make test-browser needs it): install Debian's chromium or set CHROMIUM=path"
  fi
fi

if [[ "${FORCE:-0}" != "1" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" \
      && -x "$VENV/bin/python" && -x "$VENV/bin/moto_server" && -x "$CHECKOV_VENV/bin/checkov" \
      && -x "$CONTRACT_VENV/bin/schemathesis" && -x "$CONTRACT_VENV/bin/openapi-python-client" \
      && -x "$ASL_BIN" ]]; then
  log "tools up to date ($TOOLS)"
  exit 0
fi

mkdir -p "$TOOLS"

# A venv made with this python (one made with another is recreated).
ensure_venv() {
  local venv="$1"
  if [[ -x "$venv/bin/python" ]]; then
    local mm
    mm="$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo broken)"
    if [[ "$mm" != "$PY_MM" ]]; then
      log "venv $venv was made with python $mm, want $PY_MM: recreating"
      rm -rf "$venv"
    fi
  fi
  if [[ ! -x "$venv/bin/python" ]]; then
    log "creating venv $venv"
    "$PYTHON" -m venv "$venv"
  fi
}

ensure_venv "$VENV"
log "pip install ${PY_REQUIREMENTS[*]}"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${PY_REQUIREMENTS[@]}"

ensure_venv "$CHECKOV_VENV"
log "pip install ${CHECKOV_REQUIREMENTS[*]} (into $CHECKOV_VENV)"
"$CHECKOV_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${CHECKOV_REQUIREMENTS[@]}"

ensure_venv "$CONTRACT_VENV"
log "pip install ${CONTRACT_REQUIREMENTS[*]} (into $CONTRACT_VENV)"
"$CONTRACT_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${CONTRACT_REQUIREMENTS[@]}"

# asl-validator: (re)install when missing or when the pin changed (stamp mismatch).
ASL_PKG="$TOOLS/node_modules/asl-validator/package.json"
ASL_WANT="${NPM_REQUIREMENTS[0]##*@}"
ASL_HAVE=""
if [[ -f "$ASL_PKG" ]]; then
  ASL_HAVE="$(node -p "require(process.argv[1]).version" "$ASL_PKG" 2>/dev/null || true)"
fi
if [[ ! -x "$ASL_BIN" || "$ASL_HAVE" != "$ASL_WANT" ]]; then
  command -v npm >/dev/null 2>&1 || { log "npm not found: install Node.js (npm) first"; exit 1; }
  log "npm install ${NPM_REQUIREMENTS[*]}"
  npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error --save-exact "${NPM_REQUIREMENTS[@]}" >&2
fi

# Smoke checks: every tool answers.
"$VENV/bin/python" -c 'import moto, moto.server; assert moto.__version__ == "5.2.5", moto.__version__'
"$VENV/bin/cfn-lint" --version >/dev/null
"$VENV/bin/cargo-lambda" lambda --version >/dev/null
"$VENV/bin/python" -m ziglang version >/dev/null
"$VENV/bin/python" -c 'import jenkins'
CKV_SKIP_PACKAGE_UPDATE_CHECK=true "$CHECKOV_VENV/bin/checkov" --version >/dev/null
"$CONTRACT_VENV/bin/schemathesis" --version >/dev/null
"$CONTRACT_VENV/bin/openapi-python-client" --version >/dev/null
"$ASL_BIN" --help >/dev/null 2>&1 || { log "asl-validator does not run"; exit 1; }

printf '%s\n' "$WANT" >"$STAMP"
log "tools ready: venv=$VENV, checkov=$CHECKOV_VENV, contract=$CONTRACT_VENV, asl-validator=$ASL_BIN"
