#!/usr/bin/env python3
"""Benchmark caltrace's GUM engine against the GUM Tree Calculator (GTC).

DESIGN.md section 10: evaluating 10 000 budgets in process must be >= 100x faster than the same
budgets through GTC. This script

  1. generates N random budgets (fixed seed; 2-8 components each, Type A from readings or a
     pooled standard deviation, Type B rectangular / triangular / u-shaped / normal, finite and
     infinite degrees of freedom, bare and {value, unit} sensitivities, every unit the
     measurand's) and writes them as JSON lines;
  2. runs `cargo run --release --example gum_bench -- budgets.jsonl results.jsonl`, which times
     the in-process evaluation of all of them (median of several passes);
  3. evaluates the same budgets with GTC (ureal per component, linear combination, dof() for
     Welch-Satterthwaite, reporting.k_factor for k), timing only the evaluation;
  4. checks u_c, nu_eff and k agree to 1e-6 relative (nu_eff infinite in both or neither), and
     prints budgets, rust seconds, gtc seconds and the speed ratio.

Needs `pip install gtc` (brings numpy and scipy). Exit status 1 on any disagreement; with
--strict, 2 if the ratio is below --target.

    python3 bench/gum_vs_gtc.py [--n 10000] [--seed 20260510] [--workdir DIR] [--target 100]
"""

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time

try:
    from GTC import ureal, type_a, type_b, reporting, dof, uncertainty, inf
    from GTC import inf_dof as GTC_INF_DOF
    from scipy import special
except ImportError:  # pragma: no cover
    sys.exit("needs the GUM Tree Calculator: pip install gtc")

UNITS = ["nm", "um", "mg", "g", "kPa", "MPa", "mV", "K", "degC"]
PROBABILITIES = [0.6827, 0.9, 0.95, 0.9545, 0.99, 0.9973]


def random_budget(rng, index):
    unit = rng.choice(UNITS)
    p = rng.choice(PROBABILITIES) if rng.random() < 0.8 else round(rng.uniform(0.5, 0.999), 6)
    all_infinite = rng.random() < 0.2  # nu_eff must come out infinite for these
    components = []
    for i in range(rng.randint(2, 8)):
        c = {"name": f"c{i}", "unit": unit}
        kind = rng.random()
        if kind < 0.35 and not all_infinite:
            c["type"] = "A"
            level = rng.uniform(-100, 100)
            spread = 10 ** rng.uniform(-3, 1)
            if rng.random() < 0.7:
                c["readings"] = [level + rng.gauss(0, spread) for _ in range(rng.randint(2, 10))]
            else:
                c["readings"] = [level + rng.gauss(0, spread) for _ in range(rng.randint(1, 5))]
                c["pooled"] = {"standard_deviation": spread, "degrees_of_freedom": rng.randint(1, 60)}
        else:
            c["type"] = "B"
            dist = rng.choice(["rectangular", "triangular", "u_shaped", "normal", "normal"])
            c["distribution"] = dist
            size = 10 ** rng.uniform(-3, 1)
            if dist != "normal":
                c["half_width"] = size
            elif rng.random() < 0.5:
                c["expanded_uncertainty"] = size
                c["coverage_factor"] = rng.choice([1.0, 2.0, 2.58, 3.0, round(rng.uniform(1, 3), 3)])
            else:
                c["standard_uncertainty"] = size
            if not all_infinite and rng.random() < 0.4:
                c["degrees_of_freedom"] = rng.choice([rng.randint(1, 100), round(rng.uniform(1, 200), 2)])
        s = rng.random()
        if s < 0.25:
            c["sensitivity"] = round(rng.uniform(0.1, 5) * rng.choice([-1, 1]), 4)
        elif s < 0.4:
            c["sensitivity"] = {"value": round(rng.uniform(0.1, 5), 4), "unit": "1"}
        components.append(c)
    return {
        "measurand": {"name": f"budget {index}", "unit": unit},
        "coverage_probability": p,
        "components": components,
    }


def sensitivity(c):
    s = c.get("sensitivity", 1.0)
    return float(s["value"] if isinstance(s, dict) else s)


def gtc_evaluate(budget):
    """The same budget through GTC: (u_c, nu_eff or inf, k)."""
    y = None
    for c in budget["components"]:
        if c["type"] == "A":
            r = c["readings"]
            if "pooled" in c:
                # GUM 4.2.4: u = s_p / sqrt(n) with the pooled dof
                pooled = c["pooled"]
                x = ureal(sum(r) / len(r), pooled["standard_deviation"] / math.sqrt(len(r)),
                          pooled["degrees_of_freedom"], label=c["name"])
            else:
                x = type_a.estimate(r, label=c["name"])
        else:
            d = c["distribution"]
            if d == "rectangular":
                u = type_b.uniform(c["half_width"])
            elif d == "triangular":
                u = type_b.triangular(c["half_width"])
            elif d == "u_shaped":
                u = type_b.arcsine(c["half_width"])
            elif "standard_uncertainty" in c:
                u = c["standard_uncertainty"]
            else:
                u = c["expanded_uncertainty"] / c["coverage_factor"]
            x = ureal(0.0, u, c.get("degrees_of_freedom", inf), label=c["name"])
        term = sensitivity(c) * x
        y = term if y is None else y + term
    u_c = uncertainty(y)
    nu = dof(y)
    p = budget["coverage_probability"]
    if math.isinf(nu):
        k = reporting.k_factor(inf, 100.0 * p)
    else:
        nu_floor = math.floor(nu + 1e-9)
        if nu_floor > GTC_INF_DOF:
            # GTC treats dof above 1e5 as infinite; compare with the exact t quantile instead
            k = float(special.stdtrit(nu_floor, (1.0 + p) / 2.0))
        else:
            k = reporting.k_factor(nu_floor, 100.0 * p)
    return u_c, nu, k


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=20260510)
    ap.add_argument("--workdir", default=None, help="where budgets.jsonl / results.jsonl go (default: a temp dir)")
    ap.add_argument("--manifest-dir", default=os.path.dirname(here), help="crate root (default: parent of bench/)")
    ap.add_argument("--target", type=float, default=100.0)
    ap.add_argument("--tolerance", type=float, default=1e-6)
    ap.add_argument("--strict", action="store_true", help="exit 2 when the ratio is below --target")
    args = ap.parse_args()

    workdir = args.workdir or tempfile.mkdtemp(prefix="gum_bench_")
    os.makedirs(workdir, exist_ok=True)
    budgets_path = os.path.join(workdir, "budgets.jsonl")
    results_path = os.path.join(workdir, "results.jsonl")

    rng = random.Random(args.seed)
    budgets = [random_budget(rng, i) for i in range(args.n)]
    with open(budgets_path, "w") as f:
        for b in budgets:
            f.write(json.dumps(b) + "\n")

    cmd = ["cargo", "run", "--quiet", "--release", "--example", "gum_bench", "--", budgets_path, results_path]
    run = subprocess.run(cmd, cwd=args.manifest_dir, capture_output=True, text=True)
    if run.returncode != 0:
        sys.stderr.write(run.stdout + run.stderr)
        sys.exit(f"gum_bench failed: {' '.join(cmd)}")
    rust_seconds = rust_numbers_seconds = served_seconds = None
    for line in run.stdout.splitlines():
        if line.startswith("rust_seconds="):
            rust_seconds = float(line.split("=", 1)[1])
        elif line.startswith("rust_numbers_seconds="):
            rust_numbers_seconds = float(line.split("=", 1)[1])
        elif line.startswith("rust_served_seconds="):
            served_seconds = float(line.split("=", 1)[1])
        else:
            print("rust:", line)
    with open(results_path) as f:
        rust = [json.loads(line) for line in f]

    start = time.perf_counter()
    gtc = [gtc_evaluate(b) for b in budgets]
    gtc_seconds = time.perf_counter() - start

    mismatches = 0
    infinite = 0
    for i, (r, (u_c, nu, k)) in enumerate(zip(rust, gtc)):
        problems = []
        if "errors" in r:
            problems.append(f"rejected: {r['errors']}")
        else:
            if rel(r["u_c"], u_c) > args.tolerance:
                problems.append(f"u_c {r['u_c']!r} vs {u_c!r}")
            if r["nu_eff"] is None or math.isinf(nu):
                if not (r["nu_eff"] is None and math.isinf(nu)):
                    problems.append(f"nu_eff {r['nu_eff']!r} vs {nu!r}")
                else:
                    infinite += 1
            elif rel(r["nu_eff"], nu) > args.tolerance:
                problems.append(f"nu_eff {r['nu_eff']!r} vs {nu!r}")
            if rel(r["k"], k) > args.tolerance:
                problems.append(f"k {r['k']!r} vs {k!r}")
        if problems:
            mismatches += 1
            if mismatches <= 10:
                print(f"budget {i}: " + "; ".join(problems))
    if len(rust) != len(budgets):
        mismatches += abs(len(rust) - len(budgets))

    ratio = gtc_seconds / rust_seconds if rust_seconds else float("inf")
    ratio_numbers = gtc_seconds / rust_numbers_seconds if rust_numbers_seconds else float("inf")
    verdict = "meets" if ratio >= args.target else "BELOW"
    print(f"budgets          {len(budgets)} ({infinite} with infinite nu_eff), seed {args.seed}")
    print(f"agreement        {len(budgets) - mismatches}/{len(budgets)} within {args.tolerance:g} relative (u_c, nu_eff, k)")
    print(f"rust seconds     {rust_seconds:.6f}  evaluate(): full JSON response (median pass)")
    print(f"                 {rust_numbers_seconds:.6f}  evaluate_numbers(): same validation and numbers, no echoed strings")
    print(f"                 {served_seconds:.6f}  evaluate(), each answer freed before the next budget, as the API does")
    print(f"gtc seconds      {gtc_seconds:.6f}")
    print(f"speed ratio      {ratio:.1f}x  ({verdict} target {args.target:g}x; {ratio_numbers:.1f}x for evaluate_numbers; {gtc_seconds / served_seconds:.1f}x one answer at a time)")
    if mismatches:
        sys.exit(1)
    if args.strict and ratio < args.target:
        sys.exit(2)


if __name__ == "__main__":
    main()
