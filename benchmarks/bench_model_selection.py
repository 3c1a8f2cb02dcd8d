"""Model choice (gppnmf_core.select_model): picks and time per candidate in single-fit times (issue 12).

For each data set: the candidates, whether cross-validation (and the Laplace
evidence, a second opinion) picks the right one, the wall time of
``select_model``, the single-fit time (median of 3 fits of the true model,
``fit_gppnmf`` as a user would call it) and the ratio

    time per candidate / single-fit time      (target: <= 6 toy, <= 10 CSI)

Families (as in benchmarks/bench_posterior.py):

* ``toy``: paper toy, 10 data sets; ranks 1-4 with the correct priors and rank 2
  with the incorrect preset (right: rank 2 + correct);
* ``toy beta``: the same toys, rank 2, correct links, RBF beta of both factors
  on {5, 7, 10, 14, 20} (right: within one grid step of 10);
* ``csi``: CSI phantom, ranks 1-3 with the paper preset and rank 2 without the
  symmetry (right: rank 2 + paper), as many seeds as fit in ``--csi-seconds``.

Besides the wall-clock ratio the CPU-time ratio (``time.process_time``, n_jobs=1 only), which the load
of other jobs on the 2-core machine disturbs far less, and "own": all the work of the candidates over
their own full-data fits (CPU), i.e. per candidate in its own single-fit times. The load average is
printed with every line.

    .venv/bin/python benchmarks/bench_model_selection.py [--toy-sets 10] [--csi-seconds 300] [--n-jobs 1]
        [--fold-tol 1e-8] [--evidence auto] [--families toy,beta,csi]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import gppnmf_core as gp
from gppnmf_core.model_selection import select_model

BETA_GRID = [5.0, 7.0, 10.0, 14.0, 20.0]


def _load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def _fit_time(data, preset, repeats=5) -> tuple[float, float]:
    """Median wall and CPU seconds of one fit of the true model."""
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        gp.fit_gppnmf(data.X, data.rank, preset.prior_D, preset.prior_H, data.noise_var, random_state=0)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return float(np.median(wall)), float(np.median(cpu))


def toy_candidates(data):
    c, w = data.presets["correct"], data.presets["incorrect"]
    return ([{"rank": r, "prior_D": c.prior_D, "prior_H": c.prior_H, "name": "correct"} for r in (1, 2, 3, 4)]
            + [{"rank": 2, "prior_D": w.prior_D, "prior_H": w.prior_H, "name": "incorrect"}])


def beta_candidates(data):
    c = data.presets["correct"]
    return [{"rank": 2, "prior_D": gp.GPPrior(gp.RBF(beta=b), c.prior_D.link),
             "prior_H": gp.GPPrior(gp.RBF(beta=b), c.prior_H.link), "name": f"beta={b:g}"} for b in BETA_GRID]


def csi_candidates(data):
    p, q = data.presets["paper"], data.presets["no_symmetry"]
    return ([{"rank": r, "prior_D": p.prior_D, "prior_H": p.prior_H, "name": "paper"} for r in (1, 2, 3)]
            + [{"rank": 2, "prior_D": q.prior_D, "prior_H": q.prior_H, "name": "no_symmetry"}])


def _beta_ok(c) -> bool:
    return abs(BETA_GRID.index(float(c["name"].split("=")[1])) - BETA_GRID.index(10.0)) <= 1


FAMILIES = {
    "toy": (toy_candidates, lambda c: c["rank"] == 2 and c["name"] == "correct", "correct", 6.0),
    "beta": (beta_candidates, _beta_ok, "correct", 6.0),
    "csi": (csi_candidates, lambda c: c["rank"] == 2 and c["name"] == "paper", "paper", 10.0),
}


def run_one(family, seed, data, args):
    candidates_fn, right_fn, preset, _ = FAMILIES[family]
    candidates = candidates_fn(data)
    t, c = time.perf_counter(), time.process_time()
    sel = select_model(data.X, candidates, noise_var=data.noise_var, random_state=seed, n_jobs=args.n_jobs,
                       evidence=args.evidence, fold_tol=args.fold_tol)
    elapsed, cpu = time.perf_counter() - t, time.process_time() - c
    fit, fit_cpu = _fit_time(data, data.presets[preset])
    ratio = elapsed / len(candidates) / fit
    ratio_cpu = cpu / len(candidates) / fit_cpu if args.n_jobs == 1 else float("nan")
    ok_cv = right_fn(sel.best)
    ok_ev = sel.evidence_index is not None and right_fn(candidates[sel.evidence_index])
    ev_time = sum(r["evidence_time"] for r in sel.table)
    own = sum(r["cv_cpu_time"] for r in sel.table) / sum(r["fit_cpu_time"] for r in sel.table)
    folds = np.mean([np.mean(r["fold_iterations"]) / max(r["fit_iterations"], 1) for r in sel.table])
    print(f"  {family:<4} seed {seed}: {len(candidates)} candidates, CV picks #{sel.best_index} "
          f"({'right' if ok_cv else 'WRONG'}), evidence #{sel.evidence_index} ({'right' if ok_ev else 'WRONG'}); "
          f"{elapsed:.2f} s (evidence {ev_time:.2f} s), single fit {fit:.3f} s, {ratio:.1f} fit times per "
          f"candidate (CPU: {cpu:.2f} s / {fit_cpu:.3f} s, {ratio_cpu:.1f}; in each candidate's own full-fit CPU "
          f"time {own:.1f}); fold/full iterations {folds:.2f}  "
          f"[{_load()}]", flush=True)
    return ok_cv, ok_ev, elapsed, fit, ratio, len(candidates), ratio_cpu, own


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--toy-sets", type=int, default=10)
    parser.add_argument("--csi-seconds", type=float, default=300.0, help="CSI seeds until this much time is spent")
    parser.add_argument("--csi-max-seeds", type=int, default=5)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--fold-tol", type=float, default=None, help="default: select_model's")
    parser.add_argument("--evidence", default="auto", choices=["auto", "true", "false"])
    parser.add_argument("--families", default="toy,beta,csi")
    args = parser.parse_args(argv)
    args.evidence = {"auto": "auto", "true": True, "false": False}[args.evidence]
    families = args.families.split(",")
    print(f"select_model benchmark: n_jobs={args.n_jobs}, fold_tol={args.fold_tol}, evidence={args.evidence}, "
          f"{os.cpu_count()} CPUs  [{_load()}]", flush=True)
    summary = []
    for family in families:
        rows = []
        if family in ("toy", "beta"):
            for seed in range(args.toy_sets):
                rows.append(run_one(family, seed, gp.datasets.paper_toy(random_state=seed), args))
        elif family == "csi":
            start = time.perf_counter()
            for seed in range(args.csi_max_seeds):
                if seed and time.perf_counter() - start > args.csi_seconds:
                    break
                rows.append(run_one(family, seed, gp.datasets.csi_phantom(random_state=seed), args))
        else:
            raise SystemExit(f"unknown family {family!r}; use {sorted(FAMILIES)}")
        r = np.array(rows, dtype=float)
        summary.append((family, int(r[0, 5]), len(r), int(r[:, 0].sum()), int(r[:, 1].sum()),
                        float(np.median(r[:, 2])), float(np.median(r[:, 3])), float(np.median(r[:, 4])),
                        float(r[:, 4].max()), FAMILIES[family][3], float(np.median(r[:, 6])),
                        float(np.median(r[:, 7]))))
    print(f"\n{'data set':<8} {'cand.':>5} {'sets':>4} {'CV right':>9} {'evid. right':>11} {'time s':>7} "
          f"{'fit s':>7} {'ratio/cand wall (median, max)':>30} {'CPU ratio':>9} {'own':>5} {'target':>7}   [{_load()}]")
    for family, nc, n, ok, ok_ev, el, fit, ratio, worst, target, ratio_cpu, own in summary:
        print(f"{family:<8} {nc:>5} {n:>4} {f'{ok}/{n}':>9} {f'{ok_ev}/{n}':>11} {el:>7.2f} {fit:>7.3f} "
              f"{f'{ratio:.1f} ({worst:.1f})':>30} {ratio_cpu:>9.1f} {own:>5.1f} {'<= ' + format(target, 'g'):>7} "
              f"wall {'met' if ratio <= target else 'MISSED'}, CPU "
              f"{'n/a (n_jobs > 1)' if np.isnan(ratio_cpu) else 'met' if ratio_cpu <= target else 'MISSED'}")


if __name__ == "__main__":
    main()
