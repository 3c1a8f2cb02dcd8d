"""Iterations at scale: L-BFGS (the old default) against method="auto" (truncated Newton on these grids).

Run: python benchmarks/bench_iterations.py [--quick] [--old-cap SECONDS] [--threads N]

The problems of ``benchmarks/bench_scale.py`` (rank 3, exponential links, RBF
priors, Kronecker + mirror prior on the grid, ellipsoidal head mask given as a
1-D voxel mask, data drawn from the model plus unit-variance noise):
32×32×16 × 512 and 64×64×32 × 256 (``--quick``: 16×16×16 × 512 and
32×32×16 × 512). Each fit runs in its own subprocess so that its peak memory
can be measured (peak RSS during the fit minus the RSS before it, data made
before). For each grid the table shows both paths side by side: iterations,
objective-and-gradient evaluations, Hessian-vector products, seconds,
objective (and its difference from L-BFGS's, relative), peak MiB against the
data's MiB, and the ratio to CNMF's time on the same data (CNMF on the kept
voxels, its default 1000 multiplicative updates, one replicate).

L-BFGS on 64×64×32 needs about 3 minutes quiet (3,110 iterations, 179 s at
load 0.2; over 5 minutes under load); it is
stopped after ``--old-cap`` seconds (default 300), and the table then says
"capped" and compares the objective it had reached. Its results are kept in
``cache/bench_iterations_lbfgs.json`` (git-ignored; ``--old-cache``) and reused
by later runs, marked "cached", unless ``--rerun-old`` is given or the cached
run was capped at fewer seconds than ``--old-cap``: one run with a warm cache
takes about two minutes, so that the new path can be measured again and again.

Targets (issue 14, medians on the 2-core reference machine): 32×32×16 ≤ 5 s,
64×64×32 ≤ 30 s with peak memory ≤ 3× the data, objective ≤ L-BFGS's + 1e-6
relative, GPP-NMF within 3× CNMF's time. Times are printed, never asserted.

Measured (2-core machine, L-BFGS reference converged, load in brackets):
32×32×16 × 512: auto 2.0 s (2.9), 40 Newton steps, 3,766 H·v, -3.0e-8 relative to L-BFGS
(24.3 s); 64×64×32 × 256: auto 24.3 s (1.1), 61 steps, 7,323 H·v, -9.1e-8 relative to
L-BFGS (179 s, 3,110 iterations), peak 130 MiB for 256 MiB of data, 0.9× CNMF (27 s).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import bench_scale

import gppnmf_core as gp
from gppnmf_core.threads import blas_threads

PROBLEMS = [((32, 32, 16), 512), ((64, 64, 32), 256)]
QUICK_PROBLEMS = [((16, 16, 16), 512), ((32, 32, 16), 512)]
MIB = 2.0**20


def child(spec):
    """One fit (or CNMF) on one problem, measured; a dict for the table."""
    grid, K, what = tuple(spec["grid"]), spec["K"], spec["what"]
    X, inside = bench_scale.make_data(grid, K)
    prior_D, prior_H = bench_scale.make_priors(grid, K)
    prior_D.bind(K)
    prior_H.bind(X.shape[1])  # square roots are not part of either path
    bench_scale._reset_peak_rss()
    rss_before = bench_scale._rss_mib()
    start = time.perf_counter()
    if what == "cnmf":
        with blas_threads(spec["threads"] or 1, 0):
            res = gp.cnmf(X[:, inside], bench_scale.RANK, random_state=0)
        out = {"n_iter": res.n_iter, "nfev": 0, "objective": float("nan"), "message": "", "stopped": False}
    else:
        res = gp.fit_gppnmf(X, bench_scale.RANK, prior_D, prior_H, bench_scale.NOISE_VAR, mask=inside,
                            method=what, max_iter=20000, random_state=0, n_threads=spec["threads"],
                            callback=lambda p: time.perf_counter() - start > spec["cap"])
        out = {"n_iter": res.n_iter, "nfev": res.nfev, "objective": res.objective, "message": res.message,
               "stopped": res.stopped}
    out["seconds"] = time.perf_counter() - start
    out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0 - rss_before
    out["data_mib"] = X.nbytes / MIB
    return out


def run_child(spec, timeout):
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                         timeout=timeout, env={**os.environ, "OPENBLAS_NUM_THREADS": str(spec["threads"] or 1)})
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def load_cache(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def save_cache(path, cache):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cache, indent=1))


def cached_old(cache, name, args):
    """A cached L-BFGS result for this problem, or None when there is none (or it was capped sooner)."""
    entry = cache.get(name)
    if entry is None or (entry["stopped"] and entry["cap"] < args.old_cap) or entry.get("threads") != args.threads:
        return None
    return {**entry, "cached": f"{entry['date']}, load {entry['load']:.1f}"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16×16×16 and 32×32×16 instead of 32×32×16 and 64×64×32")
    parser.add_argument("--old-cap", type=float, default=300.0, help="seconds after which L-BFGS is stopped")
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: the library's policy, 1)")
    parser.add_argument("--old-cache", default=str(Path(__file__).resolve().parents[1] / "cache" /
                                                  "bench_iterations_lbfgs.json"),
                        help="JSON file of L-BFGS results reused across runs")
    parser.add_argument("--rerun-old", action="store_true", help="run L-BFGS even when a cached result exists")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return

    load = os.getloadavg()[0]
    print(f"GPP-NMF iterations at scale: rank {bench_scale.RANK}, head mask, one fit per path, "
          f"L-BFGS capped at {args.old_cap:.0f} s; load average at start {load:.1f} on {os.cpu_count()} cores")
    header = (f"{'grid × K':>16} {'path':>10} {'iter':>6} {'evals':>6} {'H·v':>6} {'seconds':>8} "
              f"{'objective':>16} {'rel. to L-BFGS':>14} {'peak MiB':>8} {'data MiB':>8} {'× CNMF':>7}")
    print(header)
    print("-" * len(header))
    cache = load_cache(args.old_cache)
    for grid, K in (QUICK_PROBLEMS if args.quick else PROBLEMS):
        name = f"{'×'.join(map(str, grid))} × {K}"
        base = {"grid": grid, "K": K, "threads": args.threads}
        cnmf = run_child({**base, "what": "cnmf", "cap": 0}, timeout=3600)
        old = cached_old(cache, name, args) if not args.rerun_old else None
        if old is None:
            old = run_child({**base, "what": "lbfgs", "cap": args.old_cap}, timeout=args.old_cap + 600)
            if "error" not in old:
                cache[name] = {**old, "cap": args.old_cap, "threads": args.threads, "load": os.getloadavg()[0],
                               "date": time.strftime("%Y-%m-%d %H:%M")}
                save_cache(args.old_cache, cache)
        new = run_child({**base, "what": "auto", "cap": 3600.0}, timeout=4200)
        for label, r in (("L-BFGS", old), ("auto", new)):
            if "error" in r:
                print(f"{name:>16} {label:>10}  failed: {r['error']}")
                continue
            products = r["message"].rsplit("(", 1)[-1].split()[0] if "Hessian-vector" in r["message"] else "-"
            reference = old.get("objective", float("nan"))
            relative = (r["objective"] - reference) / abs(reference)
            ratio = r["seconds"] / cnmf["seconds"] if "seconds" in cnmf else float("nan")
            capped = " (capped)" if r["stopped"] else ""
            if r.get("cached"):
                capped += f" (cached {r['cached']})"
            elif label == "auto":
                capped += f" (load {os.getloadavg()[0]:.1f})"
            print(f"{name:>16} {label:>10} {r['n_iter']:>6} {r['nfev']:>6} {products:>6} {r['seconds']:>8.1f} "
                  f"{r['objective']:>16.6f} {relative:>14.2e} {r['peak_mib']:>8.0f} {r['data_mib']:>8.0f} "
                  f"{ratio:>7.1f}{capped}", flush=True)
        if "seconds" in cnmf:
            print(f"{name:>16} {'CNMF':>10} {cnmf['n_iter']:>6} {'':>6} {'':>6} {cnmf['seconds']:>8.1f}", flush=True)
    print(f"load average at end {os.getloadavg()[0]:.1f}; peak MiB: RSS peak during the fit minus RSS before it; "
          "× CNMF: seconds / CNMF's seconds on the same kept voxels")


if __name__ == "__main__":
    main()
