#!/usr/bin/env python3
"""Benchmark the model GUM path (DESIGN 5b) against the GUM Tree Calculator (GTC).

Issue 17: the GUM evaluation of 10 000 generated measurement models in process must be >= 100x
faster than the same models through GTC. This script

  1. generates N models with the generator of tests/gtc_differential.py (fixed seed; 2-6
     inputs, + - * / powers and the functions sqrt exp ln log10 sin cos tan atan, finite and
     infinite degrees of freedom, correlations between infinite-nu inputs) and writes the
     requests as JSON lines;
  2. runs `cargo run --release --example model_bench`, which times evaluate_model (method GUM:
     parse, unit check, compile, exact derivatives, correlated u_c, Welch-Satterthwaite, k; the
     median of several passes), then evaluate_model_numbers (the same without the answer's
     echoed names and unit strings, which GTC does not build either);
  3. evaluates the same models with GTC, timing only the evaluation: a ureal per input, the
     correlations, the model, its value, uncertainty, dof, every sensitivity and k;
  4. checks y, u_c, nu_eff, k and the sensitivities agree to 1e-9 relative, and prints models,
     rust seconds, gtc seconds and the ratio.

    python3 bench/model_vs_gtc.py [--n 10000] [--seed 17] [--workdir DIR] [--target 100]

With --linear every model is replaced by the plain sum of its inputs (the same inputs,
uncertainties and correlations): what is left is the work that does not depend on the model's
expression (checking the inputs and correlations, the GUM sums, k, the answer's rows), a floor
under any faster parser or compiler.
"""

import argparse
import importlib.util
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "gtc_differential", os.path.join(HERE, "..", "tests", "gtc_differential.py"))
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)
GTC = gen.GTC
from scipy import special  # noqa: E402  (gtc brings scipy)

P = 0.9545


def models(n, seed):
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        try:
            c = gen.case(rng, len(out))
        except (ValueError, ZeroDivisionError, OverflowError, ArithmeticError):
            continue
        if c is not None:
            out.append(c["request"])
    return out


def k_of(nu):
    if math.isinf(nu):
        return float(special.ndtri((1.0 + P) / 2.0))
    return float(special.stdtrit(math.floor(nu + 1e-9), (1.0 + P) / 2.0))


def gtc_evaluate(request):
    scope = {name: fn for name, (fn, _) in gen.FUNCS.items()}
    correlated = {v for c in request.get("correlations", []) for v in c["inputs"]}
    for i in request["inputs"]:
        df = i.get("degrees_of_freedom", GTC.inf)
        scope[i["name"]] = GTC.ureal(i["estimate"]["value"], i["standard_uncertainty"], df,
                                     label=i["name"], independent=i["name"] not in correlated)
    for c in request.get("correlations", []):
        a, b = c["inputs"]
        GTC.set_correlation(c["coefficient"], scope[a], scope[b])
    y = eval(request["model"].replace("^", "**"), {"__builtins__": {}}, scope)  # noqa: S307
    nu = GTC.dof(y)
    sensitivities = [GTC.reporting.sensitivity(y, scope[i["name"]]) for i in request["inputs"]]
    return GTC.value(y), GTC.uncertainty(y), nu, k_of(nu), sensitivities


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def compare(r, g, tolerance):
    y, u_c, nu, k, sens = g
    if "errors" in r:
        return [f"rejected: {r['errors']}"]
    problems = [f"{name} {mine!r} vs {theirs!r}"
                for name, mine, theirs in (("y", r["y"], y), ("u_c", r["u_c"], u_c), ("k", r["k"], k))
                if rel(mine, theirs) > tolerance and abs(mine - theirs) > 1e-15]
    # Where every finite-nu contribution is negligible, nu_eff is above 1e60 on one side and
    # infinite on the other by rounding: the same k, the same answer.
    mine_nu = math.inf if r["nu_eff"] is None or r["nu_eff"] > 1e30 else r["nu_eff"]
    theirs_nu = math.inf if nu > 1e30 else nu
    if math.isinf(mine_nu) != math.isinf(theirs_nu) or (
            not math.isinf(mine_nu) and rel(mine_nu, theirs_nu) > tolerance):
        problems.append(f"nu_eff {r['nu_eff']!r} vs {nu!r}")
    for mine, theirs in zip(r["sensitivities"], sens):
        if abs(mine - theirs) > tolerance * max(abs(theirs), abs(u_c)):
            problems.append(f"sensitivity {mine!r} vs {theirs!r}")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--manifest-dir", default=os.path.dirname(HERE))
    ap.add_argument("--target", type=float, default=100.0)
    ap.add_argument("--tolerance", type=float, default=1e-9)
    ap.add_argument("--strict", action="store_true", help="exit 2 when the ratio is below --target")
    ap.add_argument("--linear", action="store_true",
                    help="replace each model by the sum of its inputs (the expression-independent floor)")
    args = ap.parse_args()
    workdir = args.workdir or tempfile.mkdtemp(prefix="model_bench_")
    os.makedirs(workdir, exist_ok=True)
    models_path = os.path.join(workdir, "models.jsonl")
    results_path = os.path.join(workdir, "results.jsonl")

    requests = models(args.n, args.seed)
    if args.linear:
        for r in requests:
            r["model"] = " + ".join(i["name"] for i in r["inputs"])
    with open(models_path, "w") as f:
        for r in requests:
            f.write(json.dumps(r) + "\n")
    cmd = ["cargo", "run", "--quiet", "--release", "--example", "model_bench", "--", models_path, results_path]
    run = subprocess.run(cmd, cwd=args.manifest_dir, capture_output=True, text=True)
    if run.returncode != 0:
        sys.stderr.write(run.stdout + run.stderr)
        sys.exit(f"model_bench failed: {' '.join(cmd)}")
    rust_seconds = numbers_seconds = served_seconds = None
    for line in run.stdout.splitlines():
        if line.startswith("rust_seconds="):
            rust_seconds = float(line.split("=", 1)[1])
        elif line.startswith("rust_numbers_seconds="):
            numbers_seconds = float(line.split("=", 1)[1])
        elif line.startswith("rust_served_seconds="):
            served_seconds = float(line.split("=", 1)[1])
        else:
            print("rust:", line)
    with open(results_path) as f:
        rust = [json.loads(line) for line in f]

    start = time.perf_counter()
    gtc = [gtc_evaluate(r) for r in requests]
    gtc_seconds = time.perf_counter() - start

    mismatches = 0
    for i, (r, g) in enumerate(zip(rust, gtc)):
        problems = compare(r, g, args.tolerance)
        if problems:
            mismatches += 1
            if mismatches <= 10:
                print(f"model {i}: " + "; ".join(problems))
    correlated = sum(1 for r in requests if r.get("correlations"))
    ratio = gtc_seconds / rust_seconds
    verdict = "meets" if ratio >= args.target else "BELOW"
    print(f"models           {len(requests)} ({correlated} with correlations), seed {args.seed}")
    print(f"agreement        {len(requests) - mismatches}/{len(requests)} within {args.tolerance:g} relative (y, u_c, nu_eff, k, sensitivities)")
    print(f"rust seconds     {rust_seconds:.6f}  ({1e6 * rust_seconds / len(requests):.2f} us/model, median pass): evaluate_model, the full answer")
    print(f"                 {numbers_seconds:.6f}  ({1e6 * numbers_seconds / len(requests):.2f} us/model): evaluate_model_numbers, same checks and numbers, no echoed strings")
    print(f"                 {served_seconds:.6f}  ({1e6 * served_seconds / len(requests):.2f} us/model): evaluate_model, each answer freed before the next model, as the API does")
    print(f"gtc seconds      {gtc_seconds:.6f}  ({1e6 * gtc_seconds / len(requests):.1f} us/model)")
    print(f"speed ratio      {ratio:.1f}x  ({verdict} target {args.target:g}x; {gtc_seconds / numbers_seconds:.1f}x for evaluate_model_numbers; {gtc_seconds / served_seconds:.1f}x one answer at a time)")
    if mismatches:
        sys.exit(1)
    if args.strict and ratio < args.target:
        sys.exit(2)


if __name__ == "__main__":
    main()
