#!/usr/bin/env bash
# The benchmark suite of DESIGN.md section 10 on PostgreSQL: a throwaway cluster with default
# durability (fsync and synchronous commit on), the generated data set (100 000 instruments,
# ~495 000 calibrations, 6 levels), then the same benchmarks as on SQLite, each printing its
# ratio against its own baseline measured in the same run.
# Usage: bench/postgres.sh   (CALTRACE_BENCH_PG_PORT, default 55440)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg.sh
start_throwaway_pg "${CALTRACE_BENCH_PG_PORT:-55440}" shared_buffers=512MB work_mem=32MB
url=$PG_URL
cargo build --release --quiet --bin caltrace --example generate --example serve \
  --example bulk_bench --example trace_bench --example ingest_bench
echo "== generating the data set"
time ROCKET_DATABASE_URL=$url ./target/release/examples/generate
run_as_pg "$pg_bin/psql" -h 127.0.0.1 -p "${CALTRACE_BENCH_PG_PORT:-55440}" -U postgres -q -c "VACUUM ANALYZE" postgres
echo "== validity (single over HTTP, bulk 10 000)"
bench/validity.sh "$url"
echo "== traceability tree and impact"
ROCKET_DATABASE_URL=$url ./target/release/examples/trace_bench
echo "== batch ingestion"
./target/release/examples/ingest_bench "$url"
