#!/usr/bin/env bash
# `make web`: the web portal into web/dist, from the lockfile (npm registry only). The API types
# are generated from shared/api/openapi.json first, and `tsc --noEmit` fails the build when the
# client does not match them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
# npm ci only when the lockfile changed since the last install (it wipes node_modules).
stamp=node_modules/.lock-stamp
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
npm run --silent build
