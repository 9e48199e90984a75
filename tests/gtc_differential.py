#!/usr/bin/env python3
"""Differential test of the model engine (DESIGN 5b, src/domain/model/) against the GUM Tree
Calculator (pip package `gtc`, MSL New Zealand).

Generates a few hundred random measurement models with functions, Type B inputs with finite and
infinite degrees of freedom and correlations between infinite-ν inputs, evaluates each with GTC,
and writes the requests with GTC's estimate, u_c, ν_eff and sensitivities to a JSON file. The
Rust test `domain::model::tests::gtc_differential` (ignored unless CALTRACE_GTC_CASES names that
file) evaluates the same requests and compares to 1e-9 relative.

Usage: python3 tests/gtc_differential.py [--cases 300] [--seed 17] [--out FILE] [--no-run]
Without --no-run it also runs the Rust test (CARGO_TARGET_DIR is honoured).
"""

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile

try:
    import GTC
except ImportError:  # pragma: no cover - told to the user, not hidden
    sys.exit("the differential test needs the GUM Tree Calculator: pip install gtc")

FUNCS = {
    # ours: (GTC function, needs a positive argument)
    "sqrt": (GTC.sqrt, True),
    "exp": (GTC.exp, False),
    "ln": (GTC.log, True),
    "log10": (GTC.log10, True),
    "sin": (GTC.sin, False),
    "cos": (GTC.cos, False),
    "tan": (GTC.tan, False),
    "atan": (GTC.atan, False),
}


def expression(rng, names, depth):
    """(model text in our grammar, python text over the GTC names)."""
    if depth == 0 or rng.random() < 0.25:
        if rng.random() < 0.8:
            n = rng.choice(names)
            return n, n
        c = round(rng.uniform(0.5, 3.0), 3)
        return repr(c), repr(c)
    kind = rng.random()
    if kind < 0.55:
        op = rng.choice(["+", "-", "*", "/"])
        a, pa = expression(rng, names, depth - 1)
        b, pb = expression(rng, names, depth - 1)
        if op == "/":
            # keep the denominator away from zero
            return f"({a}) / (1.5 + ({b})^2)", f"({pa}) / (1.5 + ({pb})**2)"
        return f"({a} {op} {b})", f"({pa} {op} {pb})"
    if kind < 0.7:
        e = rng.choice([2, 3, -1])
        a, pa = expression(rng, names, depth - 1)
        return f"({a})^{e}" if e > 0 else f"({a})^({e})", f"({pa})**({e})"
    name = rng.choice(sorted(FUNCS))
    a, pa = expression(rng, names, depth - 1)
    if FUNCS[name][1]:
        return f"{name}(1 + ({a})^2)", f"{name}(1 + ({pa})**2)"
    if name == "exp":
        return f"exp(({a}) / 4)", f"exp(({pa}) / 4)"
    if name == "tan":
        return f"tan(atan({a}) / 2)", f"tan(atan({pa}) / 2)"
    return f"{name}({a})", f"{name}({pa})"


def case(rng, index):
    n = rng.randint(2, 6)
    names = [f"x{i}" for i in range(n)]
    text, python = expression(rng, names, rng.randint(2, 4))
    unused = [v for v in names if v not in _tokens(text)]
    for v in unused:
        c = round(rng.uniform(0.2, 2.0), 3)
        text += f" + {c} * {v}"
        python += f" + {c} * {v}"
    inputs, values = [], {}
    infinite = []
    for v in names:
        x = round(rng.uniform(0.5, 2.0), 6) * rng.choice([1, -1])
        u = round(abs(x) * rng.uniform(0.001, 0.05), 8)
        df = rng.choice([None, None, None, rng.randint(3, 40)])
        entry = {"name": v, "estimate": {"value": x, "unit": "1"}, "type": "B",
                 "distribution": "normal", "standard_uncertainty": u}
        if df is not None:
            entry["degrees_of_freedom"] = df
        else:
            infinite.append(v)
        inputs.append(entry)
        values[v] = (x, u, df)
    correlations = []
    rng.shuffle(infinite)
    # disjoint pairs with |r| < 1: always a positive definite matrix
    for a, b in zip(infinite[0::2], infinite[1::2]):
        if rng.random() < 0.7:
            correlations.append({"inputs": [a, b], "coefficient": round(rng.uniform(-0.9, 0.9), 3)})

    scope = {name: fn for name, (fn, _) in FUNCS.items()}
    for v, (x, u, df) in values.items():
        scope[v] = GTC.ureal(x, u, df if df is not None else GTC.inf, label=v,
                             independent=v not in infinite)
    for c in correlations:
        a, b = c["inputs"]
        GTC.set_correlation(c["coefficient"], scope[a], scope[b])
    y = eval(python, {"__builtins__": {}}, scope)  # noqa: S307 - our own generated text
    value, u = GTC.value(y), GTC.uncertainty(y)
    if not (math.isfinite(value) and math.isfinite(u)) or u == 0 or abs(value) > 1e12:
        return None
    dof = GTC.dof(y)
    sensitivities = {v: GTC.reporting.sensitivity(y, scope[v]) for v in names}
    request = {
        "measurand": {"name": f"case {index}", "unit": "1"},
        "model": text,
        "inputs": inputs,
    }
    if correlations:
        request["correlations"] = correlations
    return {
        "request": request,
        "expected": {
            "estimate": value,
            "combined_standard_uncertainty": u,
            "effective_degrees_of_freedom": None if math.isinf(dof) else dof,
            "sensitivities": sensitivities,
        },
    }


def _tokens(text):
    out, cur = [], ""
    for ch in text:
        if ch.isalnum() or ch == "_":
            cur += ch
        else:
            if cur:
                out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--out")
    parser.add_argument("--no-run", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    cases = []
    attempts = 0
    while len(cases) < args.cases and attempts < 20 * args.cases:
        attempts += 1
        try:
            c = case(rng, len(cases))
        except (ValueError, ZeroDivisionError, OverflowError, ArithmeticError):
            continue
        if c is not None:
            cases.append(c)
    out = args.out or os.path.join(tempfile.gettempdir(), "caltrace-gtc-cases.json")
    with open(out, "w") as f:
        json.dump(cases, f)
    print(f"{len(cases)} models evaluated by GTC {GTC.version} -> {out}")
    if args.no_run:
        return 0
    env = dict(os.environ, CALTRACE_GTC_CASES=out)
    cmd = ["cargo", "test", "--lib", "domain::model::tests::gtc_differential", "--", "--ignored",
           "--exact", "--nocapture"]
    return subprocess.call(cmd, env=env, cwd=os.path.join(os.path.dirname(__file__), ".."))


if __name__ == "__main__":
    sys.exit(main())
