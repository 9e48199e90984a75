#!/usr/bin/env bash
# Fuzzes caltrace's pure domain layer with cargo-fuzz (libFuzzer): the unit parser
# (src/domain/quantity.rs) and the GUM budget evaluation (src/domain/uncertainty.rs)
# from arbitrary JSON and from structured input. Not part of CI.
#
#   scripts/fuzz.sh                      # 60 s per target, every target
#   scripts/fuzz.sh 300 budget_json      # 5 minutes on one target
#
# Targets: unit_parser, budget_json, budget_structured (fuzz/fuzz_targets/). The invariants
# they check are in fuzz/src/lib.rs. A finding stops the run, exits non-zero and leaves the
# input in fuzz/artifacts/<target>/; replay it with
#   (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none <target> artifacts/<target>/<file>)
# then fix the domain code and add the case as a unit test beside it.
# The toolchain here is stable; RUSTC_BOOTSTRAP=1 lets it take cargo-fuzz's nightly flags.
# Set FUZZ_SANITIZER=address for AddressSanitizer (slower; the domain code is safe Rust).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(unit_parser budget_json budget_structured)
sanitizer=${FUZZ_SANITIZER:-none}
export RUSTC_BOOTSTRAP=1

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
cargo fuzz build --sanitizer "$sanitizer"

status=0
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  corpora=("corpus/$target")
  [ -d "seeds/$target" ] && corpora+=("seeds/$target")
  max_len=4096
  [ "$target" = unit_parser ] && max_len=128
  log="corpus/$target.log"
  echo "== $target: ${seconds}s"
  set +e
  cargo fuzz run --sanitizer "$sanitizer" "$target" "${corpora[@]}" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
    -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -n 1 || true)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
  if [ $rc -ne 0 ]; then
    echo "!! $target found a problem (exit $rc); see fuzz/$log and fuzz/artifacts/$target/"
    grep -m 1 -A 3 'panicked at' "$log" || tail -n 20 "$log"
    status=1
  else
    echo "   ${runs:-no run count}s, ${cov:-?}, corpus $(ls "corpus/$target" | wc -l) inputs"
  fi
done
exit $status
