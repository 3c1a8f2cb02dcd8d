"""Long 1-D axes: the dense square root against the circulant (FFT) one.

Run: python benchmarks/bench_long_axis.py [--sizes 1024 2048 4096 8192] [--dense-max 4096] [--budget SECONDS]

For each number of points K, a descending ppm axis (10 … -20 ppm) carries an
RBF prior with beta = 4 points (in ppm), exponential link (lam = 1); the 72
observations an RBF prior with beta = 5 (index coordinates), exponential link.
Synthetic data X = D H + noise (rank 2, noise variance 0.1, known) are drawn
from these priors. Per path:

* setup: binding the prior on the K points, caches cleared (the dense path:
  kernel matrix + eigen-decomposition; the circulant path: growing the
  embedding, FFTs);
* factor MiB: the arrays the square-root operator holds, and its whitened
  variables per column (K dense; m, about K plus the kernel's reach, circulant);
* sample(3): three prior draws with the bound prior (warm);
* one GPP-NMF fit (L-BFGS, default tolerances, random_state 0): seconds,
  iterations, final objective; the last column is the relative difference of
  the circulant fit's objective from the dense one.

The dense path runs up to --dense-max points (its square root alone takes
minutes beyond and its factor grows as K²). Targets on the 2-core reference
machine at 4096 × 72: setup <= 0.2 s and fit <= 5 s (dense: about 36 s and
124 s). Times are printed, never asserted.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import gppnmf_core as gp
from gppnmf_core import priors as priors_module

L, RANK, NOISE_VAR, BETA_POINTS = 72, 2, 0.1, 4.0
MIB = 2.0**20


def make_priors(K, structure="auto"):
    """The priors on D (a K-point descending ppm axis) and on H (72 observations)."""
    ppm = np.linspace(10.0, -20.0, K)
    beta = BETA_POINTS * abs(ppm[1] - ppm[0])
    prior_D = gp.GPPrior(gp.RBF(beta), gp.ExponentialLink(1.0), coords=ppm, structure=structure)
    prior_H = gp.GPPrior(gp.RBF(5.0), gp.ExponentialLink(1.0))
    return prior_D, prior_H


def make_data(K, seed=0):
    """X (K, 72) drawn from the model (with the fast path)."""
    rng = np.random.default_rng(seed)
    prior_D, prior_H = make_priors(K)
    D = prior_D.sample(RANK, random_state=rng).T
    H = prior_H.sample(RANK, size=L, random_state=rng)
    return D @ H + np.sqrt(NOISE_VAR) * rng.standard_normal((K, L))


def measure(X, structure, budget):
    """Setup, factor size, sampling and one fit for one path; a dict for the table."""
    K = X.shape[0]
    prior_D, prior_H = make_priors(K, structure)
    priors_module._axis_factor.cache_clear()
    start = time.perf_counter()
    sqrt = prior_D.bind().sqrt
    setup = time.perf_counter() - start
    start = time.perf_counter()
    prior_D.sample(3, random_state=1)
    sample = time.perf_counter() - start
    start = time.perf_counter()
    res = gp.fit_gppnmf(X, RANK, prior_D, prior_H, NOISE_VAR, max_iter=50000, random_state=0,
                        callback=lambda p: time.perf_counter() - start > budget)
    fit = time.perf_counter() - start
    return {"path": type(sqrt).__name__.replace("SquareRoot", "").lower(), "setup": setup,
            "mib": sqrt.nbytes / MIB, "latent": sqrt.n_latent, "sample": sample, "fit": fit,
            "iter": res.n_iter, "objective": res.objective, "converged": res.converged}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096, 8192])
    parser.add_argument("--dense-max", type=int, default=4096, help="largest K for the dense path")
    parser.add_argument("--budget", type=float, default=600.0, help="seconds per fit before it is stopped")
    args = parser.parse_args()
    print(f"Long axis: RBF beta = {BETA_POINTS:g} points on a descending ppm axis of K points, {L} observations "
          f"(RBF beta = 5), rank {RANK}, exponential links, noise variance {NOISE_VAR}")
    header = (f"{'K':>5} {'path':>9} {'setup s':>8} {'factor MiB':>10} {'latent':>6} {'sample(3) ms':>12} "
              f"{'fit s':>7} {'iter':>6} {'objective':>14} {'vs dense':>9}")
    print(header)
    print("-" * len(header))
    for K in args.sizes:
        X = make_data(K)
        dense = None
        for structure in ("dense", "auto"):
            if structure == "dense" and K > args.dense_max:
                print(f"{K:>5} {'dense':>9}  skipped (K > --dense-max {args.dense_max}): its factor alone would "
                      f"need {K * K * 8 / MIB:.0f} MiB, the eigen-decomposition as much again")
                continue
            r = measure(X, structure, args.budget)
            if structure == "dense":
                dense = r["objective"]
            diff = "" if dense is None or structure == "dense" else f"{(r['objective'] - dense) / abs(dense):9.1e}"
            flag = "" if r["converged"] else " (not converged)"
            print(f"{K:>5} {r['path']:>9} {r['setup']:8.3f} {r['mib']:10.2f} {r['latent']:>6} "
                  f"{r['sample'] * 1e3:12.2f} {r['fit']:7.2f} {r['iter']:>6} {r['objective']:14.8g} {diff:>9}{flag}",
                  flush=True)
    print("setup: square root with caches cleared; factor MiB: arrays the operator holds; latent: whitened "
          "variables per column; vs dense: (objective - dense objective) / dense objective")


if __name__ == "__main__":
    main()
