#!/usr/bin/env bash
# Validity benchmarks (DESIGN.md section 10) on the generated data set:
#  - single status over HTTP vs a bare Rocket route returning a constant (target >= 0.5)
#  - bulk status of 10 000 ids vs the equivalent raw SQL (target <= 3x)
# Usage: bench/validity.sh [database-url]   (default: a fresh SQLite file under bench/out)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
mkdir -p bench/out
url=${1:-sqlite://$PWD/bench/out/bench.sqlite3}
export ROCKET_DATABASE_URL=$url ROCKET_LOG_LEVEL=off ROCKET_PORT=${ROCKET_PORT:-8765}
cargo build --release --quiet --bin caltrace --example generate --example serve --example bulk_bench
if [ "$url" = "sqlite://$PWD/bench/out/bench.sqlite3" ] && [ ! -s bench/out/bench.sqlite3 ]; then
  ./target/release/examples/generate
fi
token=$(./target/release/caltrace token create bench-technician 2>/dev/null | tail -n 1) || {
  ./target/release/caltrace user add bench-technician --role technician >/dev/null; token=$(./target/release/caltrace token create bench-technician | tail -n 1); }
./target/release/examples/serve & server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$ROCKET_PORT/healthz" >/dev/null && break; sleep 0.2; done

cat > bench/out/status.lua <<LUA
math.randomseed(42)
request = function()
  local id = math.random(1, 100000)
  return wrk.format("GET", "/api/v1/instruments/" .. id .. "/status?at=2026-06-01", {["Authorization"] = "Bearer $token"})
end
LUA
threads=2; connections=32; duration=${DURATION:-10s}
base=$(wrk -t$threads -c$connections -d"$duration" "http://127.0.0.1:$ROCKET_PORT/bench/constant" | awk '/Requests\/sec/ {print $2}')
status=$(wrk -t$threads -c$connections -d"$duration" -s bench/out/status.lua "http://127.0.0.1:$ROCKET_PORT" | awk '/Requests\/sec/ {print $2}')
echo "single validity over HTTP: $status req/s; bare constant route: $base req/s; ratio $(python3 -c "print(round($status/$base, 3))") (target >= 0.5)"
kill $server; trap - EXIT
./target/release/examples/bulk_bench
