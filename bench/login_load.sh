#!/usr/bin/env bash
# API reads during 100 simultaneous logins (issue 21), on a fresh demo database (SQLite by
# default, or the database URL given). Usage: bench/login_load.sh [database-url] [logins]
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
rm -f bench/out/login.sqlite3*
url=${1:-sqlite://$PWD/bench/out/login.sqlite3}
export ROCKET_DATABASE_URL=$url ROCKET_LOG_LEVEL=off ROCKET_PORT=${ROCKET_PORT:-8766}
release=${CARGO_TARGET_DIR:-target}/release
cargo build --release --quiet --bin caltrace
$release/caltrace demo >/dev/null
# 25 people, 4 logins each: the throttle lets at most 5 checks per account run at once.
for i in $(seq 25); do
  $release/caltrace user add "bench-login-$i" --role inspector >/dev/null
  echo "bench login password" | $release/caltrace user password "bench-login-$i" >/dev/null
done
token=$($release/caltrace token create bench-login-1 | tail -n 1)
$release/caltrace serve & server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$ROCKET_PORT/healthz" >/dev/null && break; sleep 0.2; done
python3 bench/login_load.py "http://127.0.0.1:$ROCKET_PORT" bench-login- "bench login password" "$token" "${2:-100}"
