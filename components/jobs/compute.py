"""Decomposition jobs as plain functions: check a request, run the chosen methods, match, score, store.

The job process (:mod:`components.jobs.worker`) calls :func:`prepare` and
:func:`run_decomposition`, then :func:`store_results`; so can a test, without
Dash. Time limits are enforced from outside the computation (the job process
kills it), never inside it.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

import gppnmf_core as gp
from components.services import config, store
from components.services.data_source import load_dataset
from components.views.specs import checked_prior_specs, factor_axis, prior_for
from components.views.theme import METHOD_LABELS, METHODS
from gppnmf_core.plotting.alignment import align_results, score_results


@dataclass(frozen=True)
class JobSettings:
    """What the Decompose panel asks for."""

    methods: tuple[str, ...]
    rank: int
    max_iter: int
    tol: float
    n_replicates: int
    noise_var: float
    mask_threshold: float = 0.0


def mask_threshold_of(value) -> float:
    """The page's mask threshold as a number (ValueError with a message for anything else)."""
    try:
        return float(value or 0.0)
    except (TypeError, ValueError):
        raise ValueError("the mask threshold must be a number; reload the page") from None


def column_weights(X: np.ndarray, mask_threshold) -> np.ndarray | None:
    """The voxel mask as one weight per column for the core (None when every observation takes part)."""
    include = gp.included_observations(X, mask_threshold_of(mask_threshold))
    return None if include.all() else include.astype(float)


def throttled(report, text_of, every_s: float = 0.2):
    """A core callback that passes its progress on as ``report(*text_of(progress))``, at most every ``every_s``
    seconds (a job record is written for each report)."""
    last = [0.0]

    def callback(progress):
        now = time.monotonic()
        if now - last[0] >= every_s:
            last[0] = now
            report(*text_of(progress))

    return callback


def single_fit_settings(dataset: gp.Dataset, specs: dict, rank, mask_threshold) -> JobSettings:
    """The checked settings of the GPP-NMF fit a model-choice or σ² request builds on; ValueError for the page."""
    settings = JobSettings(methods=("gppnmf",), rank=rank, max_iter=1000, tol=1e-6, n_replicates=1,
                           noise_var=specs["noise_var"], mask_threshold=mask_threshold_of(mask_threshold))
    check_settings(dataset, settings)
    return settings


def check_settings(dataset: gp.Dataset, settings: JobSettings) -> None:
    """Raise ValueError with a message for the page when the settings cannot run."""
    unknown = [m for m in settings.methods if m not in METHODS]
    if not settings.methods or unknown:
        raise ValueError("choose at least one method (GPP-NMF, CNMF, LS-NMF)")
    K, L = dataset.X.shape
    if K * L > config.MAX_JOB_ENTRIES:
        raise ValueError(f"the data ({K} × {L} = {K * L:,} values) exceed this server's limit of "
                         f"{config.MAX_JOB_ENTRIES:,} values per job (GPPNMF_MAX_JOB_ENTRIES)")
    allowed = min(K, L, config.MAX_RANK)
    if not isinstance(settings.rank, int) or not 1 <= settings.rank <= allowed:
        why = f"for data of size {K} × {L}"
        if config.MAX_RANK < min(K, L):
            why += f" on this server (GPPNMF_MAX_RANK = {config.MAX_RANK})"
        raise ValueError(f"rank must be a whole number from 1 to {allowed} {why}; got {settings.rank}")
    if not isinstance(settings.max_iter, int) or settings.max_iter < 1:
        raise ValueError(f"iterations must be a whole number ≥ 1, got {settings.max_iter}")
    if not isinstance(settings.n_replicates, int) or not 1 <= settings.n_replicates <= 20:
        raise ValueError(f"replicates must be a whole number from 1 to 20, got {settings.n_replicates}")
    if not settings.tol >= 0:
        raise ValueError(f"tolerance must be ≥ 0, got {settings.tol}")
    if not settings.noise_var > 0:
        raise ValueError(f"noise variance σ² must be > 0, got {settings.noise_var}")
    kept = int(gp.included_observations(dataset.X, settings.mask_threshold).sum())
    if kept < settings.rank:
        raise ValueError(f"the voxel mask keeps {kept} observations, fewer than the rank {settings.rank}; "
                         "lower the mask threshold")


def fit_method(method, dataset, prior_D, prior_H, settings: JobSettings, callback) -> gp.FitResult:
    """One method's fit with the job's settings and voxel mask (one weight per column: no K × L mask).

    GPP-NMF takes the mask as weights (left-out voxels still get smooth,
    symmetric maps from the prior); the baselines fit the kept columns only.
    """
    common = dict(max_iter=settings.max_iter, n_replicates=settings.n_replicates, callback=callback,
                  random_state=0)
    include = gp.included_observations(dataset.X, settings.mask_threshold)
    mask = None if include.all() else include
    if method == "gppnmf":
        return gp.fit_gppnmf(dataset.X, settings.rank, prior_D, prior_H, settings.noise_var,
                             mask=None if mask is None else mask.astype(float), **common)
    fit = gp.cnmf if method == "cnmf" else gp.ls_nmf
    return fit(dataset.X, settings.rank, tol=settings.tol, mask=mask, **common)


def run_decomposition(dataset, prior_D, prior_H, settings: JobSettings, report=None,
                      report_every_s: float = 0.1, on_result=None) -> dict[str, gp.FitResult]:
    """Run every chosen method in turn; ``report(fraction, text)`` hears about progress.

    Reports come at most every ``report_every_s`` seconds (and at the start of
    each method). ``on_result(results, next_method)`` hears the results so far
    each time a method other than the last finishes (a job keeps them, so that
    stopping it keeps the methods that finished). A job is stopped, on time or
    on Cancel, by killing its process.
    """
    check_settings(dataset, settings)
    results, last = {}, [0.0]
    n = len(settings.methods)

    for i, method in enumerate(settings.methods):
        def callback(progress, i=i, method=method):
            now = time.monotonic()
            if report is not None and now - last[0] > report_every_s:
                last[0] = now
                report((i + progress.fraction) / n,
                       f"{METHOD_LABELS[method]} ({i + 1}/{n}): replicate {progress.replicate + 1}/"
                       f"{progress.n_replicates}, iteration {progress.iteration}/{progress.max_iter}, "
                       f"objective {progress.objective:.5g}")

        if report is not None:
            report(i / n, f"{METHOD_LABELS[method]} ({i + 1}/{n}): starting")
        results[method] = fit_method(method, dataset, prior_D, prior_H, settings, callback)
        if on_result is not None and i + 1 < n:
            on_result(dict(results), settings.methods[i + 1])
    if report is not None:
        report(1.0, "done")
    return results


def prepare(request: dict, token: str) -> tuple[gp.Dataset, gp.GPPrior, gp.GPPrior, JobSettings]:
    """The data set, the two priors and the settings of a job request; ValueError when it cannot run.

    ``request`` is the JSON-able form a job record keeps: ``{"specs": <the page's prior specs:
    {"dataset": key, "D": spec, "H": spec, "noise_var": float}, each spec the core's
    (:meth:`gppnmf_core.GPPrior.to_spec`)>, "settings": <JobSettings as a dict>}``; the specs are checked here
    (they come from the browser) and the stored results keep them as they came.
    """
    if not request.get("specs"):
        raise ValueError("fix the prior settings first (see the message in the prior designer)")
    specs = checked_prior_specs(request["specs"])
    settings = JobSettings(**{**request["settings"], "methods": tuple(request["settings"]["methods"])})
    dataset = load_dataset(specs["dataset"], token)
    check_settings(dataset, settings)
    prior_D, prior_H = (prior_for(specs[f], factor_axis(dataset, f), f) for f in ("D", "H"))
    return dataset, prior_D, prior_H, settings


#: The store entry of a running job's results so far (``results`` holds only those of a job that has ended).
PARTIAL = "results-partial"
#: How many runs the session's history keeps (entries ``run-<n>``, the newest ``RUNS_KEPT``).
RUNS_KEPT = 8
RUNS_INDEX = "runs"


def store_results(token, dataset_key, dataset, settings, results, prior_specs=None, *, job_id=None,
                  pending=None, name="results") -> dict:
    """Keep a job's aligned factors, traces, fits and scores as the session's ``results`` entry; its meta.

    With ``pending`` (the method running now) the results are partial: the meta
    says which methods finished and which one was running (``meta["partial"]``).
    """
    factors = align_results(results, dataset)
    arrays, fits = {}, {}
    for method, result in results.items():
        arrays[f"{method}.D"], arrays[f"{method}.H"] = factors[method]
        arrays[f"{method}.trace"] = result.objective_trace
        fits[method] = {"objective": result.objective, "n_iter": result.n_iter, "converged": result.converged,
                        "runtime": result.runtime, "message": result.message}
    meta = {
        "dataset": dataset_key, "methods": list(results), "rank": settings.rank, "fits": fits,
        "scores": score_results(results, dataset),
        "settings": {"data": dataset.title, "job": dataclasses.asdict(settings), "priors": prior_specs},
        "job_id": job_id, "finished": time.time(),
    }
    if pending is not None:
        meta["partial"] = {"finished": list(results), "during": pending, "ended": None}
    store.put(token, name, arrays, meta)
    return meta


def end_partial(token, job_id, ended: str) -> dict | None:
    """A stopped job's results so far become the session's ``results`` (and a run in its history); their meta.

    ``ended`` says how the job ended ("cancelled", …). Called once the
    computation is dead, so nothing writes the partial entry any more. None when
    the job had finished no method.
    """
    stored = store.get(token, PARTIAL)
    if stored is None or stored[1].get("job_id") != job_id:
        return None
    arrays, meta = stored
    meta = {**meta, "partial": {**meta["partial"], "ended": ended}}
    store.put(token, "results", arrays, meta)
    store.delete(token, PARTIAL)
    keep_run(token, meta)
    return meta


def keep_run(token, meta: dict) -> int:
    """Add a run (its results' meta: settings, fits, scores; no arrays) to the session's history; its number.

    Only the newest :data:`RUNS_KEPT` runs stay; like every entry, they expire with the session.
    """
    index = store.get(token, RUNS_INDEX)
    n = (index[1]["last"] if index else 0) + 1
    store.put(token, f"run-{n}", {}, {**meta, "run": n})
    store.put(token, RUNS_INDEX, {}, {"last": n})
    if n > RUNS_KEPT:
        store.delete(token, f"run-{n - RUNS_KEPT}")
    return n


def runs(token) -> list[dict]:
    """The session's kept runs (meta of each, with its number ``run``), oldest first."""
    index = store.get(token, RUNS_INDEX)
    if index is None:
        return []
    last = index[1]["last"]
    found = (store.get(token, f"run-{n}") for n in range(max(1, last - RUNS_KEPT + 1), last + 1))
    return [entry[1] for entry in found if entry is not None]
