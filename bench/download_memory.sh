#!/usr/bin/env bash
# Memory of the service while four clients download the largest certificate allowed
# (1 000 points) at once (issue 21: four downloads of a 224 MB DCC once held 4.07 GB).
# Prints the DCC's size, and the server's resident set before and at its peak (VmHWM).
# Usage: bench/download_memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
rm -f bench/out/download.sqlite3*
export ROCKET_DATABASE_URL=sqlite://$PWD/bench/out/download.sqlite3 ROCKET_LOG_LEVEL=off ROCKET_PORT=${ROCKET_PORT:-8767}
release=${CARGO_TARGET_DIR:-target}/release
cargo build --release --quiet --bin caltrace
$release/caltrace demo >/dev/null
for role in technician approver; do
  $release/caltrace user add "bench-$role" --role "$role" >/dev/null
  declare "token_$role=$($release/caltrace token create "bench-$role" | tail -n 1)"
done
$release/caltrace serve & server=$!
trap 'kill $server 2>/dev/null' EXIT
base=http://127.0.0.1:$ROCKET_PORT
for _ in $(seq 50); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.2; done
api() { curl -sS --fail-with-body -H "Authorization: Bearer $1" -H 'Content-Type: application/json' "${@:2}"; }
gauge=$(api "$token_technician" "$base/api/v1/instruments?q=PG-0001" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
standard=$(api "$token_technician" "$base/api/v1/instruments?q=REF-P-01" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
python3 - "$gauge" "$standard" > bench/out/download-body.json <<'PY'
import json, sys
point = {"stage": "as_found", "reference": {"value": 0.5, "unit": "MPa"}, "indicated": {"value": 0.5003, "unit": "MPa"},
         "tolerance": {"value": 0.001, "unit": "MPa"},
         "stated_uncertainty": {"expanded_uncertainty": {"value": 0.0002, "unit": "MPa"}, "coverage_factor": 2}}
print(json.dumps({"instrument_id": int(sys.argv[1]), "kind": "internal", "performed_on": "2026-11-02",
                  "procedure": "JJG 52-2013", "standards_used": [int(sys.argv[2])], "decision_rule": "simple",
                  "deviations": "none", "points": [point] * 1000}))
PY
id=$(api "$token_technician" -X POST "$base/api/v1/calibrations" --data-binary @bench/out/download-body.json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
api "$token_technician" -X POST "$base/api/v1/calibrations/$id/submit" >/dev/null
number=$(api "$token_approver" -X POST "$base/api/v1/calibrations/$id/approve" -d '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["certificate_number"])')
rss() { awk "/^$1/ {print \$2 / 1024 \" MB\"}" "/proc/$server/status"; }
echo "certificate $number: DCC $(api "$token_technician" "$base/api/v1/certificates/$number/dcc" | wc -c) bytes"
echo "before: resident $(rss VmRSS), peak so far $(rss VmHWM)"
for _ in 1 2 3 4; do
  (for _ in $(seq 10); do api "$token_technician" "$base/api/v1/certificates/$number/dcc" >/dev/null; done) &
done
wait $(jobs -p | grep -v "^$server$") 2>/dev/null || true
echo "after 4 clients x 10 downloads: resident $(rss VmRSS), peak $(rss VmHWM)"
