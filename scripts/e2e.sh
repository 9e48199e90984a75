#!/usr/bin/env bash
# End-to-end tests of the pages in headless Chromium (playwright-core driving Debian's chromium)
# against the real binary on a fresh SQLite database seeded by `caltrace demo`.
# Usage: scripts/e2e.sh [screenshot-dir]   (installs chromium and node packages when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
# Only what is missing: a machine's own Node.js (e.g. from NodeSource) must not be replaced.
need_packages=()
command -v chromium >/dev/null 2>&1 || need_packages+=(chromium)
command -v node >/dev/null 2>&1 || need_packages+=(nodejs)
command -v npm >/dev/null 2>&1 || need_packages+=(npm)
if [ ${#need_packages[@]} -gt 0 ]; then
  echo "== installing ${need_packages[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_packages[@]}"
fi
(cd tests/e2e && { [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --silent; })
cargo build --quiet --bin caltrace
bin=$PWD/target/debug/caltrace

work=$(mktemp -d /tmp/caltrace-e2e.XXXXXX)
port=${CALTRACE_E2E_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
export ROCKET_DATABASE_URL="sqlite://$work/e2e.sqlite3" ROCKET_PORT=$port ROCKET_LOG_LEVEL=critical
"$bin" demo >/dev/null
export TECH_PASSWORD="technician-e2e-$RANDOM$RANDOM" APPROVER_PASSWORD="approver-e2e-$RANDOM$RANDOM"
echo "$TECH_PASSWORD" | "$bin" user password demo-technician >/dev/null
echo "$APPROVER_PASSWORD" | "$bin" user password demo-approver >/dev/null
"$bin" serve >"$work/server.log" 2>&1 & server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
BASE_URL="http://127.0.0.1:$port" SCREENSHOTS="${1:-}" node tests/e2e/e2e.mjs
