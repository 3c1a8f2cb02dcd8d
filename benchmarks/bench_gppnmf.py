"""Fit and sampling times of GPP-NMF and the baselines on the paper's data sets.

Run: python benchmarks/bench_gppnmf.py [--repeats N]

Prints one table: median wall-clock time (and iterations) per task over
``--repeats`` runs. Targets on the 2-core reference machine: GPP-NMF on the
toy example <= 30 ms (the authors' MATLAB code needs about 1.4 s), on the CSI
phantom <= 0.3 s. Times are printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time

import gppnmf_core as gp
from gppnmf_core import priors as priors_module


def timed(task, repeats):
    """Median seconds of ``task()`` over ``repeats`` runs, and its last return value."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = task()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), out


def rows(repeats):
    toy = gp.datasets.paper_toy(random_state=0)
    correct = toy.presets["correct"]
    fit_kw = dict(prior_D=correct.prior_D, prior_H=correct.prior_H, noise_var=correct.noise_var, random_state=0)
    gp.fit_gppnmf(toy.X, 2, **fit_kw)  # bind the priors once: square roots are cached per setting

    yield "toy 100×200, M=2", "GPP-NMF (L-BFGS)", *timed(lambda: gp.fit_gppnmf(toy.X, 2, **fit_kw), repeats)
    yield ("toy 100×200, M=2", "GPP-NMF (alternating CG, <=1000 it.)",
           *timed(lambda: gp.fit_gppnmf(toy.X, 2, method="alternating_cg", **fit_kw), max(1, repeats // 5)))
    yield "toy 100×200, M=2", "LS-NMF", *timed(lambda: gp.ls_nmf(toy.X, 2, random_state=0), repeats)
    yield "toy 100×200, M=2", "CNMF", *timed(lambda: gp.cnmf(toy.X, 2, random_state=0), repeats)

    csi = gp.datasets.csi_phantom(random_state=0)
    paper = csi.presets["paper"]
    csi_kw = dict(prior_D=paper.prior_D, prior_H=paper.prior_H, noise_var=paper.noise_var, random_state=0)
    shape = f"CSI {csi.X.shape[0]}×{csi.X.shape[1]}, M=2"

    def cold_csi_fit():
        priors_module._axis_factor.cache_clear()
        for prior in (paper.prior_D, paper.prior_H):
            prior._bound.clear()
        return gp.fit_gppnmf(csi.X, 2, **csi_kw)

    yield shape, "GPP-NMF, cold (incl. square roots)", *timed(cold_csi_fit, repeats)
    yield shape, "GPP-NMF (L-BFGS)", *timed(lambda: gp.fit_gppnmf(csi.X, 2, **csi_kw), repeats)
    yield shape, "LS-NMF", *timed(lambda: gp.ls_nmf(csi.X, 2, random_state=0), repeats)
    yield shape, "CNMF", *timed(lambda: gp.cnmf(csi.X, 2, random_state=0), repeats)

    grid_prior = gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(2e-4), grid=(8, 8, 8), mirror_axis=0)

    def cold_sample():
        priors_module._axis_factor.cache_clear()
        grid_prior._bound.clear()
        return grid_prior.sample(3, random_state=0)

    yield "prior 8×8×8, mirror", "3 samples, cold", *timed(cold_sample, repeats)
    yield "prior 8×8×8, mirror", "3 samples, warm", *timed(lambda: grid_prior.sample(3, random_state=0), repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    header = f"{'data':<24} {'task':<38} {'median':>10} {'min':>10} {'iterations':>10}"
    print(header)
    print("-" * len(header))
    for data, task, median, best, out in rows(args.repeats):
        iterations = str(out.n_iter) if isinstance(out, gp.FitResult) else "-"
        print(f"{data:<24} {task:<38} {median * 1e3:>8.1f}ms {best * 1e3:>8.1f}ms {iterations:>10}")


if __name__ == "__main__":
    main()
