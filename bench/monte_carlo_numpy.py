#!/usr/bin/env python3
"""The Monte Carlo simulation of bench/monte_carlo_bench.rs vectorised in numpy, for the README's
comparison (issue 17: 10^6 trials of a nonlinear five-input model).

P = V^2 / R0 / (1 + alpha (t - t0)) in mW; V normal, R0 scaled and shifted t_4 from five
readings, alpha rectangular, t normal, t0 triangular; mean, standard deviation, np.sort and the
probabilistically symmetric 95 % interval of JCGM 101 7.7.1 - the same summary as the Rust
loops. numpy's generator is PCG64 (its default), not ChaCha12: the figures agree to the
Monte Carlo scatter, not bit for bit.

    python3 bench/monte_carlo_numpy.py [trials] [passes]
"""

import sys
import time

import numpy as np

READINGS = np.array([100.02, 99.98, 100.01, 100.00, 99.99])


def simulate(m, rng):
    u_r0 = READINGS.std(ddof=1) / np.sqrt(5)
    v = rng.normal(1.0, 0.002, m)
    r0 = READINGS.mean() + u_r0 * rng.standard_t(4, m)
    alpha = rng.uniform(0.0039 - 0.0001, 0.0039 + 0.0001, m)
    t = rng.normal(23.0, 0.1, m)
    t0 = rng.triangular(20.0 - 0.05, 20.0, 20.0 + 0.05, m)
    y = 1000.0 * v * v / r0 / (1.0 + alpha * (t - t0))
    mean, sd = y.mean(), y.std(ddof=1)
    y.sort()
    q = int(0.95 * m + 0.5)
    r = (m - q) // 2
    return mean, sd, y[r], y[r + q - 1]


def main():
    m = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    passes = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    rng = np.random.default_rng(1)
    times = []
    for _ in range(passes):
        start = time.perf_counter()
        result = simulate(m, rng)
        times.append(time.perf_counter() - start)
    times.sort()
    mean, sd, low, high = result
    print(f"numpy_seconds={times[len(times) // 2]:.6f}  y={mean:.6f} u={sd:.6f} [{low:.5f}, {high:.5f}] mW"
          f"  (numpy {np.__version__}, one thread)")


if __name__ == "__main__":
    main()
