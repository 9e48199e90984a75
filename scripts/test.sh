#!/usr/bin/env bash
# Runs every test caltrace has, on SQLite and then on a throwaway PostgreSQL.
# Installs the system packages the suite needs when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_packages=()
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_packages+=(postgresql)
command -v xmllint >/dev/null 2>&1 || need_packages+=(libxml2-utils)
command -v pdftotext >/dev/null 2>&1 || need_packages+=(poppler-utils)
command -v qpdf >/dev/null 2>&1 || need_packages+=(qpdf)
if [ ${#need_packages[@]} -gt 0 ]; then
  echo "== installing ${need_packages[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_packages[@]}"
fi

# A throwaway PostgreSQL cluster in a temporary directory, on its own port.
pg_bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
pg_dir=$(mktemp -d /tmp/caltrace-pg.XXXXXX)
pg_port=${CALTRACE_PG_PORT:-55432}
run_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres:postgres "$pg_dir"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}
stop_pg() {
  run_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
trap stop_pg EXIT
run_pg "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres --no-sync >/dev/null
run_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w start \
  -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" >/dev/null
echo "== PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port"

# The document tests (DCC schema, PDF text and structure) must not skip here.
export CALTRACE_REQUIRE_TOOLS=1

echo "== tests on SQLite"
cargo test --all-targets
cargo test --doc

echo "== tests on PostgreSQL"
CALTRACE_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/postgres" cargo test --test integration

echo "== pages end to end in headless Chromium"
scripts/e2e.sh

echo "== API conformance (schemathesis against the OpenAPI document)"
scripts/schemathesis.sh

echo "== all tests passed on SQLite and PostgreSQL; pages pass in Chromium; schemathesis found nothing"
