"""GPP-NMF at MRSI scale: Kronecker + mirror priors on 3-D grids with a head mask.

Run: python benchmarks/bench_scale.py [--quick] [--budget SECONDS] [--threads N]

For each grid (16×16×16 and 32×32×16 with K = 512 spectral points, 64×64×32
with K = 256 to keep the data at 256 MiB) the data are drawn from the model
itself, rank 3:

* D: GP on a ppm axis (-20…10 ppm), RBF with beta = 0.3 ppm, exponential link (lam = 1);
* H: GP on the grid, RBF with beta = 2 voxels, exponential link (lam = 1),
  exactly mirror-symmetric on axis 0;
* X = D H inside an ellipsoidal head (semi-axes 0.45 × the grid, about 38 %
  of the voxels), noise only outside it, plus Gaussian noise of variance 1;
* the fit leaves the voxels outside the head out with a 1-D voxel mask.

Each fit runs in its own subprocess, so that its memory can be measured: the
peak RSS during the square roots and the fit (the peak is reset just before
them through /proc/self/clear_refs, then read with resource.getrusage) minus
the RSS just before them, next to the data size; "traced" is tracemalloc's
peak over a short (10-iteration) repeat of the fit, i.e. the arrays the fit
allocates. Square roots (cold, caches cleared) are timed apart from the fit. The dense path
(structure="dense", an explicit (N, N) factor) runs where its factor needs at
most --dense-limit MiB; otherwise the line says how much it would need. Fits
stop after --budget seconds (reported as not converged; the 64×64×32 fit
needs about 3200 iterations, some 4 minutes, so give it --budget 300 to see it
converge). Last, prior sampling on the largest grid (3 samples, also with
--quick), cold (incl. square roots) and warm.

Targets on the 2-core reference machine: the 32×32×16 fit converges in
<= 60 s with a peak <= 2 GiB; prior sampling on 64×64×32 in <= 1 s.
Times are printed, never asserted.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np

import gppnmf_core as gp
from gppnmf_core import priors as priors_module
from gppnmf_core.threads import blas_threads

#: (grid, spectral points K); K = 256 on the largest grid keeps X at 256 MiB.
PROBLEMS = [((16, 16, 16), 512), ((32, 32, 16), 512), ((64, 64, 32), 256)]
RANK = 3
NOISE_VAR = 1.0
HEAD_SEMI_AXES = 0.45  # times the grid size per axis
MIB = 2.0**20


def make_priors(grid, K, structure="auto"):
    """The priors the data are drawn from and fitted with."""
    ppm = np.linspace(-20.0, 10.0, K)
    prior_D = gp.GPPrior(gp.RBF(0.3), gp.ExponentialLink(1.0), coords=ppm)
    prior_H = gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(1.0), grid=grid, mirror_axis=0, structure=structure)
    return prior_D, prior_H


def head_mask(grid):
    """Voxels inside an ellipsoid centred on the grid, flattened in C order; (L,) bool."""
    index = np.indices(grid).reshape(len(grid), -1).astype(float)
    r2 = sum(((index[a] - (n - 1) / 2.0) / (HEAD_SEMI_AXES * n)) ** 2 for a, n in enumerate(grid))
    return r2 <= 1.0


def make_data(grid, K, seed=0):
    """X (K, L) drawn from the model, and the head mask (L,)."""
    rng = np.random.default_rng(seed)
    prior_D, prior_H = make_priors(grid, K)
    D = prior_D.sample(RANK, random_state=rng).T
    H = prior_H.sample(RANK, random_state=rng)
    inside = head_mask(grid)
    H[:, ~inside] = 0.0  # noise only outside the head
    X = D @ H
    X += np.sqrt(NOISE_VAR) * rng.standard_normal(X.shape)
    return X, inside


def _rss_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def child(spec):
    """One fit, measured; returns a dict for the table."""
    grid, K, structure = tuple(spec["grid"]), spec["K"], spec["structure"]
    X, inside = make_data(grid, K)
    prior_D, prior_H = make_priors(grid, K, structure)
    priors_module._axis_factor.cache_clear()
    kw = dict(mask=inside, max_iter=20000, random_state=0, n_threads=spec["threads"])

    gc.collect()
    exact_peak = _reset_peak_rss()
    rss_before = _rss_mib()
    start = time.perf_counter()
    prior_D.bind(K)
    prior_H.bind(X.shape[1])
    sqrt_time = time.perf_counter() - start
    start = time.perf_counter()
    res = gp.fit_gppnmf(X, RANK, prior_D, prior_H, NOISE_VAR,
                        callback=lambda p: time.perf_counter() - start > spec["budget"], **kw)
    fit_time = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0 - rss_before

    objective = gp.GPPNMFObjective(X, RANK, prior_D.bind(K), prior_H.bind(X.shape[1]), NOISE_VAR, inside * 1.0)
    theta = objective.pack(res.latent["delta"], res.latent["eta"])
    with blas_threads(spec["threads"], objective.product_work):
        objective(theta)
        n_eval = 20
        start = time.perf_counter()
        for _ in range(n_eval):
            objective(theta)
        eval_ms = 1e3 * (time.perf_counter() - start) / n_eval
    del objective

    tracemalloc.start()
    gp.fit_gppnmf(X, RANK, prior_D, prior_H, NOISE_VAR, **{**kw, "max_iter": 10})
    traced = tracemalloc.get_traced_memory()[1] / MIB
    tracemalloc.stop()
    return {
        "kept": int(inside.sum()), "data_mib": X.nbytes / MIB, "sqrt_s": sqrt_time, "fit_s": fit_time,
        "n_iter": res.n_iter, "eval_ms": eval_ms, "peak_mib": peak, "exact_peak": exact_peak,
        "traced_mib": traced, "converged": res.converged, "stopped": res.stopped, "objective": res.objective,
    }


def run_child(spec, timeout):
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                         timeout=timeout)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def sampling_times(grid, n_samples=3):
    """Cold (fresh prior, caches cleared) and warm prior sampling times on ``grid``."""
    priors_module._axis_factor.cache_clear()
    prior = make_priors(grid, 8)[1]
    start = time.perf_counter()
    prior.sample(n_samples, random_state=0)
    cold = time.perf_counter() - start
    warm = []
    for seed in range(5):
        start = time.perf_counter()
        prior.sample(n_samples, random_state=seed)
        warm.append(time.perf_counter() - start)
    return cold, min(warm)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the first grid")
    parser.add_argument("--budget", type=float, default=90.0, help="seconds per fit before it is stopped")
    parser.add_argument("--dense-limit", type=float, default=512.0,
                        help="largest dense (N, N) factor in MiB for the dense-path comparison")
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: the library's policy)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return

    problems = PROBLEMS[:1] if args.quick else PROBLEMS
    print(f"GPP-NMF scaling: rank {RANK}, noise variance {NOISE_VAR}, L-BFGS, fits stopped after {args.budget:.0f} s; "
          f"BLAS threads: {args.threads or 'library policy'}")
    header = (f"{'grid':>9} {'path':>9} {'K×L':>14} {'kept':>6} {'data MiB':>8} {'sqrt s':>7} {'fit s':>7} "
              f"{'iter':>5} {'ms/eval':>8} {'peak MiB':>8} {'traced':>7} {'objective':>12} converged")
    print(header)
    print("-" * len(header))
    for grid, K in problems:
        N = int(np.prod(grid))
        for structure in ("auto", "dense"):
            label = "kronecker" if structure == "auto" else "dense"
            name = "×".join(map(str, grid))
            if structure == "dense" and N * N * 8 / MIB > args.dense_limit:
                print(f"{name:>9} {label:>9}  skipped: would need {N * N * 8 / 2**30:.1f} GiB for C "
                      f"({N}×{N}), and as much again for the covariance")
                continue
            spec = {"grid": grid, "K": K, "structure": structure, "budget": args.budget, "threads": args.threads}
            r = run_child(spec, timeout=args.budget + 600)
            if "error" in r:
                print(f"{name:>9} {label:>9}  failed: {r['error']}")
                continue
            converged = "yes" if r["converged"] else ("no (budget)" if r["stopped"] else "no")
            peak = f"{r['peak_mib']:8.0f}" + ("" if r["exact_peak"] else "*")
            print(f"{name:>9} {label:>9} {f'{K}×{N}':>14} {r['kept']:>6} {r['data_mib']:8.0f} {r['sqrt_s']:7.2f} "
                  f"{r['fit_s']:7.1f} {r['n_iter']:>5} {r['eval_ms']:8.1f} {peak} {r['traced_mib']:7.0f} "
                  f"{r['objective']:12.6g} {converged}",
                  flush=True)
    grid = PROBLEMS[-1][0]  # sampling is cheap: always the largest grid
    cold, warm = sampling_times(grid)
    print(f"\nprior sampling on {'×'.join(map(str, grid))} (3 samples, Kronecker + mirror): "
          f"cold {cold * 1e3:.0f} ms (incl. square roots), warm {warm * 1e3:.0f} ms")
    print("peak MiB: peak RSS during square roots + fit minus the RSS before them (X is allocated before; "
          "* = peak not resettable here, includes making the data); traced: tracemalloc peak of a "
          "10-iteration fit; ms/eval: one objective value + gradient at the optimum")


if __name__ == "__main__":
    main()
