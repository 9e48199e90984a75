#!/usr/bin/env bash
# Validity benchmarks (DESIGN.md section 10) on the generated data set:
#  - single status over HTTP vs a bare Rocket route returning a constant (target >= 0.5),
#    both driven by the same wrk script and requests (bench/status.lua)
#  - the server's RSS idle, after the load, and around a streamed NDJSON bulk answer
#  - bulk status of 10 000 ids vs the equivalent raw SQL (target <= 3x)
# Usage: [ROUNDS=N] [DURATION=10s] [STREAM_IDS="100000 1000000"] [MAX_ID=N] bench/validity.sh [database-url]
#   (default database: a fresh SQLite file under bench/out)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
mkdir -p bench/out
url=${1:-sqlite://$PWD/bench/out/bench.sqlite3}
export ROCKET_DATABASE_URL=$url ROCKET_LOG_LEVEL=off ROCKET_PORT=${ROCKET_PORT:-8765}
release=${CARGO_TARGET_DIR:-target}/release
cargo build --release --quiet --bin caltrace --example generate --example serve --example bulk_bench
if [ "$url" = "sqlite://$PWD/bench/out/bench.sqlite3" ] && [ ! -s bench/out/bench.sqlite3 ]; then
  $release/examples/generate
fi
token=$($release/caltrace token create bench-technician 2>/dev/null | tail -n 1) || {
  $release/caltrace user add bench-technician --role technician >/dev/null; token=$($release/caltrace token create bench-technician | tail -n 1); }
$release/examples/serve & server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$ROCKET_PORT/healthz" >/dev/null && break; sleep 0.2; done

threads=2; connections=32; duration=${DURATION:-10s}
# Requests per second, and the server's CPU time per request (µs, user + system, from
# /proc/<pid>/stat in clock ticks): the throughput ratio moves with the host's speed, the CPU
# ratio much less.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
ticks_per_second=$(getconf CLK_TCK)
rate_and_cpu() {
  local before after out
  before=$(cpu_ticks); out=$(wrk -t$threads -c$connections -d"$duration" "$@"); after=$(cpu_ticks)
  python3 -c "import sys; requests, rate = int(sys.argv[1]), float(sys.argv[2]); \
print(rate, round(($after - $before) * 1e6 / $ticks_per_second / requests, 1))" \
    "$(echo "$out" | awk '/requests in/ {print $1}')" "$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
}
rate() { rate_and_cpu "$@" | cut -d' ' -f1; }
ratio() { python3 -c "print(round($1/$2, 3))"; }
rss() { awk -v k="$1:" '$1 == k {printf "%.0f MB", $2 / 1024}' "/proc/$server/status"; }
echo "server RSS idle after start: $(rss VmRSS)"
# Warm the page cache and the server's mappings first: the first run after generating the
# data set otherwise measures the disk.
rate -s bench/status.lua "http://127.0.0.1:$ROCKET_PORT" -- /api/v1/instruments "$token" >/dev/null
# The machine's speed drifts within minutes (other work on the host): ROUNDS=N alternates N
# runs of each route and reports the median of the per-round ratios as well.
ratios=(); cpu_ratios=()
for round in $(seq "${ROUNDS:-1}"); do
  read -r status status_cpu <<<"$(rate_and_cpu -s bench/status.lua "http://127.0.0.1:$ROCKET_PORT" -- /api/v1/instruments "$token")"
  read -r same same_cpu <<<"$(rate_and_cpu -s bench/status.lua "http://127.0.0.1:$ROCKET_PORT" -- /bench/constant "$token")"
  ratios+=("$(ratio "$status" "$same")")
  cpu_ratios+=("$(ratio "$status_cpu" "$same_cpu")")
  echo "single validity over HTTP: $status req/s, server CPU $status_cpu µs/request"
  echo "  bare constant route, the same requests (path shape, query, bearer header): $same req/s, $same_cpu µs/request; ratio ${ratios[-1]} (target >= 0.5), CPU ${cpu_ratios[-1]}x"
done
median() { python3 -c "import statistics, sys; print(round(statistics.median(map(float, sys.argv[1:])), 3))" "$@"; }
if [ "${ROUNDS:-1}" -gt 1 ]; then
  echo "  median ratio of ${ROUNDS} rounds: $(median "${ratios[@]}") (${ratios[*]})"
  echo "  median server CPU per request, validity / bare: $(median "${cpu_ratios[@]}")x (${cpu_ratios[*]})"
fi
plain=$(rate "http://127.0.0.1:$ROCKET_PORT/bench/constant")
echo "  bare constant route, plain GET /bench/constant without headers: $plain req/s; ratio $(ratio "$status" "$plain")"
echo "server RSS after the load: $(rss VmRSS), peak $(rss VmHWM)"
# The streamed bulk answer (NDJSON): ids spread over the register, as many as STREAM_IDS
# (default 100 000); the server's peak RSS before and after says whether memory stayed flat.
max_id=${MAX_ID:-100000}
for n in ${STREAM_IDS:-100000}; do
  python3 -c "import json, sys; n, m = int(sys.argv[1]), int(sys.argv[2]); \
print(json.dumps({'ids': [1 + (i * 7919) % m for i in range(n)]}))" "$n" "$max_id" > bench/out/stream-ids.json
  peak_before=$(rss VmHWM)
  timing=$(curl -sf -o bench/out/stream.ndjson -w '%{time_total} %{size_download}' -X POST \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -H 'Accept: application/x-ndjson' \
    --data-binary @bench/out/stream-ids.json "http://127.0.0.1:$ROCKET_PORT/api/v1/instruments/status")
  echo "streamed bulk validity, $n ids as NDJSON: $(wc -l < bench/out/stream.ndjson) rows, $timing (s, bytes); server peak RSS $peak_before before, $(rss VmHWM) after"
done
kill $server; trap - EXIT
$release/examples/bulk_bench
