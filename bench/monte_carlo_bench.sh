#!/usr/bin/env bash
# 10^6 Monte Carlo trials of a nonlinear five-input model (issue 17): the engine against a
# hand-written Rust loop with the same generator (bench/monte_carlo_bench.rs), and beside them
# the same simulation vectorised in numpy (bench/monte_carlo_numpy.py), in one run.
# Usage: bench/monte_carlo_bench.sh [trials] [passes]
set -euo pipefail
cd "$(dirname "$0")/.."
trials=${1:-1000000}
passes=${2:-7}
source scripts/python-tools.sh
python_tools numpy
cargo run --quiet --release --example monte_carlo_bench -- "$trials" "$passes"
"$CALTRACE_PYTHON" bench/monte_carlo_numpy.py "$trials" "$passes"
