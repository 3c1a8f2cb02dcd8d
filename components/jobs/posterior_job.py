"""The "How sure?" job: posterior draws of a GPP-NMF run, summarised as 90 % bands and stored for the page.

The request names the run it came from (its results' ``job_id`` and run
number) and repeats that run's prior specs and settings, so the bands are of
the same model and data as the run's GPP-NMF column. :data:`N_CHAINS` chains
of :data:`N_DRAWS` draws run one after the other in the job's own process (one
core, as every job: Cancel and the time limit stop it by killing that one
process); where the worst R̂ or bulk ESS then misses its target, the chains go
on, half of :data:`N_DRAWS` draws at a time, up to :data:`MAX_DRAWS` each
(``max_draws`` of :func:`gppnmf_core.sample_posterior`; on the toy data sets
this brings R̂ ≤ 1.01 and ESS ≥ 200 from about half to nearly all of the 10
sets, see benchmarks/bench_posterior.py). A stopped sampling job keeps nothing.

The stored entry :data:`ENTRY` holds the 5/50/95 % quantiles of the
unit-norm columns of D (``"D.q"``, shape (3, K, M)) and of the rows of H on
the matching scale (``"H.q"``, shape (3, M, L)), components in the order of
the run's GPP-NMF column, and in its meta the diagnostics and where it came
from.
"""

from __future__ import annotations

import math
import time

import numpy as np

import gppnmf_core as gp
from components.jobs import compute
from components.services import store

KIND = "posterior"
ENTRY = "posterior"
#: Draws per chain, the most per chain while the diagnostics miss their targets, and chains for the page.
N_DRAWS = 1000
MAX_DRAWS = 2000
N_CHAINS = 2
#: Warm-up iterations per chain (the library's default).
N_WARMUP = 300
QUANTILES = (0.05, 0.5, 0.95)
#: Shares of the progress bar: the MAP fit, the chains, then the summaries.
_MAP_SHARE, _CHAIN_SHARE = 0.1, 0.85


def request_for(results_meta: dict, run: int | None) -> dict:
    """A sampling request for the run whose results' meta is ``results_meta``; ValueError when it has no GPP-NMF."""
    if "gppnmf" not in (results_meta.get("methods") or []):
        raise ValueError("How sure? samples the GPP-NMF posterior: run GPP-NMF first (tick it under methods)")
    settings = (results_meta.get("settings") or {}).get("job")
    specs = (results_meta.get("settings") or {}).get("priors")
    if not settings or not specs:
        raise ValueError("these results do not say which settings they came from; run the decomposition again")
    return {"kind": KIND, "specs": specs, "settings": {**settings, "methods": ["gppnmf"]},
            "source": {"job_id": results_meta.get("job_id"), "run": run, "dataset": results_meta.get("dataset")},
            "sampling": {"n_draws": N_DRAWS, "n_chains": N_CHAINS, "max_draws": MAX_DRAWS}}


def progress_text(progress, n_chains: int, first_round: int | None = None) -> tuple[float, str]:
    """(fraction, text) for one report of :func:`gppnmf_core.sample_posterior`'s callback.

    ``first_round``: iterations over all chains before any extension (``max_draws``); reports beyond it
    say that the chains go on for the diagnostics (the bar then measures the longer total).
    """
    if progress.method == "posterior":
        done = progress.iteration / max(1, progress.max_iter)
        why = ("more draws until R̂ ≤ 1.01 and ESS ≥ 200" if first_round and progress.max_iter > first_round
               else "warm-up first")
        return (_MAP_SHARE + _CHAIN_SHARE * done,
                f"sampling: {progress.iteration}/{progress.max_iter} iterations over {n_chains} chains ({why})")
    return (_MAP_SHARE * progress.fraction,
            f"sampling: the MAP fit first, iteration {progress.iteration}/{progress.max_iter}")


def _finite(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def component_order(D_map: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
    """Indices putting the posterior's components in the reference's order (identity without one)."""
    if reference is None or reference.shape != D_map.shape:
        return np.arange(D_map.shape[1])
    return np.asarray(gp.match_components(D_map, reference))


def _reference(token: str, source: dict, dataset) -> np.ndarray | None:
    """The run's GPP-NMF D when its results are still the session's, else the truth's D."""
    stored = store.get(token, "results")
    if stored is not None and stored[1].get("job_id") == source.get("job_id") and "gppnmf.D" in stored[0]:
        return stored[0]["gppnmf.D"]
    return None if dataset.truth is None else dataset.truth.D


def run(token: str, job_id: str, request: dict, report) -> dict:
    """Sample, summarise and store (entry :data:`ENTRY`); its meta. ``report(fraction, text)`` hears progress."""
    dataset, prior_D, prior_H, settings = compute.prepare(request, token)
    sampling = request.get("sampling") or {}
    n_draws, n_chains = int(sampling.get("n_draws", N_DRAWS)), int(sampling.get("n_chains", N_CHAINS))
    max_draws = None if sampling.get("max_draws") is None else max(n_draws, int(sampling["max_draws"]))
    first_round = n_chains * (N_WARMUP + n_draws)
    mask = compute.column_weights(dataset.X, settings.mask_threshold)
    callback = compute.throttled(report, lambda progress: progress_text(progress, n_chains, first_round))
    report(0.0, "sampling: the MAP fit first")
    post = gp.sample_posterior(dataset.X, settings.rank, prior_D, prior_H, settings.noise_var, mask=mask,
                               n_draws=n_draws, n_chains=n_chains, callback=callback, random_state=0, n_jobs=1,
                               n_warmup=N_WARMUP, max_draws=max_draws)
    report(_MAP_SHARE + _CHAIN_SHARE, "summarising the draws (bands, R̂, ESS)")
    source = request.get("source") or {}
    order = component_order(post.D_map, _reference(token, source, dataset))
    D_q = post.quantiles("D", QUANTILES)[:, :, order]
    H_q = post.quantiles("H", QUANTILES)[:, order, :]
    meta = {
        "dataset": request["specs"]["dataset"], "rank": settings.rank, "source": source, "job_id": job_id,
        "quantiles": list(QUANTILES), "n_draws": post.n_draws, "n_chains": post.n_chains,
        "rhat_max": _finite(post.rhat_max), "ess_bulk_min": _finite(post.ess_bulk_min),
        "ess_tail_min": _finite(post.ess_tail_min), "n_divergent": int(post.n_divergent),
        "runtime": float(post.runtime), "masked": mask is not None,
        "settings": {"priors": request["specs"], "job": request["settings"], "random_state": 0},
        "finished": time.time(),
    }
    store.put(token, ENTRY, {"D.q": D_q, "H.q": H_q}, meta)
    return meta
