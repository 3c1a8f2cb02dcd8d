"""The "Suggest settings" job: model choice by paired held-out-entry CV (and the Laplace evidence) over
candidates built from the page, stored for the page to plot and apply.

Candidates (:func:`candidates_from_page`) come from the page's current
settings, in families the page picks: **ranks** around the current one (same
priors), the data set's **presets** (at the current rank), and a **β grid**
(each factor's length scale halved and doubled, the rest as now). Each is a
JSON-able dict ``{"name", "rank", "D": spec, "H": spec}`` (the core's prior
specs, as the page keeps them), so the page can apply the choice to its controls.

The stored entry :data:`ENTRY` holds no arrays; its meta holds the
candidates, :attr:`gppnmf_core.ModelSelection.table`, the choice and where it
all came from. A stopped job keeps nothing.
"""

from __future__ import annotations

import time
from contextlib import nullcontext

import numpy as np

import gppnmf_core as gp
from components.jobs import candidate_claims, compute
from components.services import config, store
from components.services.data_source import load_dataset
from components.views.specs import canonical_spec, checked_prior_specs, factor_axis, prior_for

KIND = "model-choice"
ENTRY = "model-choice"
FAMILIES = {"ranks": "ranks around the current one", "presets": "the data set's presets",
            "betas": "β of each factor × ½ and × 2"}
N_FOLDS = 5
BETA_STEPS = (0.5, 2.0)


def _same(a: dict, b: dict) -> bool:
    return all(a[f] == b[f] for f in ("D", "H")) and a["rank"] == b["rank"]


def _with_beta(spec: dict, step: float) -> dict | None:
    """The spec with its (single) kernel's β times ``step`` (3 significant digits); None without one."""
    kernel = spec["kernel"]
    if isinstance(kernel, list) or "beta" not in kernel:
        return None
    return {**spec, "kernel": {**kernel, "beta": float(f"{kernel['beta'] * step:.3g}")}}


def candidates_from_page(dataset: gp.Dataset, specs: dict, rank: int, families) -> list[dict]:
    """The candidates for the page's current settings (the current ones first), without duplicates."""
    current = {"name": f"current settings, rank {rank}", "rank": rank, "D": specs["D"], "H": specs["H"]}
    found = [current]

    def add(candidate):
        if not any(_same(candidate, other) for other in found):
            found.append(candidate)

    if "ranks" in families:
        highest = min(*dataset.X.shape, config.MAX_RANK)
        for r in (rank - 1, rank + 1):
            if 1 <= r <= highest:
                add({**current, "name": f"rank {r}, current priors", "rank": r})
    if "presets" in families:
        for name, preset in dataset.presets.items():
            add({"name": f"preset '{name}', rank {rank}", "rank": rank,
                 "D": canonical_spec(preset.prior_D.to_spec(), "D"),
                 "H": canonical_spec(preset.prior_H.to_spec(), "H")})
    if "betas" in families:
        for factor in ("D", "H"):
            for step in BETA_STEPS:
                spec = _with_beta(specs[factor], step)
                if spec is not None:
                    add({**current, "name": f"β of {factor} {'½' if step < 1 else '2'}× "
                                            f"({spec['kernel']['beta']:g})", factor: spec})
    return found


def request_for(dataset: gp.Dataset, specs, rank, mask_threshold, families) -> dict:
    """A model-choice request from the page's state; ValueError with a message for the page."""
    if not specs:
        raise ValueError("fix the prior settings first (see the message in the prior designer)")
    specs = checked_prior_specs(specs)
    settings = compute.single_fit_settings(dataset, specs, rank, mask_threshold)
    families = [f for f in FAMILIES if isinstance(families, list) and f in families]
    candidates = candidates_from_page(dataset, specs, rank, families)
    if len(candidates) < 2:
        raise ValueError("nothing to compare: tick at least one family of candidates")
    return {"kind": KIND, "specs": specs, "settings": {"rank": rank, "noise_var": specs["noise_var"],
                                                        "mask_threshold": settings.mask_threshold},
            "families": families, "candidates": candidates, "n_folds": N_FOLDS}


def progress_text(progress, candidates: list[dict]) -> tuple[float, str]:
    """(fraction, text) for one report of :func:`gppnmf_core.select_model`'s callback."""
    i, n = progress.replicate, progress.n_replicates
    name = candidates[i]["name"] if 0 <= i < len(candidates) else f"candidate {i + 1}"
    return (min(1.0, progress.fraction),
            f"cross-validating {name} ({i + 1}/{n}): fold {progress.iteration}/{progress.max_iter}")


def build_candidate(dataset: gp.Dataset, candidate: dict) -> dict:
    """A page candidate (prior specs) as :func:`gppnmf_core.select_model` takes it: priors on the data set's axes."""
    return {"rank": candidate["rank"], "name": candidate["name"],
            "prior_D": prior_for(candidate["D"], factor_axis(dataset, "D"), "D"),
            "prior_H": prior_for(candidate["H"], factor_axis(dataset, "H"), "H")}


def inputs(token: str, request: dict) -> tuple[gp.Dataset, dict, np.ndarray | None]:
    """The data set, the checked prior specs and the voxel mask of a request (the job's and its workers' alike)."""
    specs = checked_prior_specs(request["specs"])
    dataset = load_dataset(specs["dataset"], token)
    return dataset, specs, compute.column_weights(dataset.X, request["settings"].get("mask_threshold"))


def _executor(token: str, job_id: str):
    """The Celery workers' executor where the app runs on them (:mod:`components.jobs.candidate_executor`)."""
    if not config.REDIS_URL:
        return nullcontext()
    from components.jobs import candidate_executor  # Celery and Redis only when the app runs on them

    return candidate_executor.for_job(token, job_id)


def run(token: str, job_id: str, request: dict, report) -> dict:
    """Cross-validate every candidate and store the outcome (entry :data:`ENTRY`); its meta.

    On Celery the candidates are spread over the workers and this job's own
    process (:mod:`components.jobs.candidate_executor`); the meta's
    ``computed_by`` says, per candidate, which process computed it.
    """
    dataset, specs, mask = inputs(token, request)
    candidates = request["candidates"]
    built = [build_candidate(dataset, c) for c in candidates]
    callback = compute.throttled(report, lambda progress: progress_text(progress, candidates))
    report(0.0, f"cross-validating {len(candidates)} candidates")
    with _executor(token, job_id) as executor:
        selection = gp.select_model(dataset.X, built, noise_var=specs["noise_var"],
                                    n_folds=int(request["n_folds"]), random_state=0, mask=mask,
                                    executor=executor, callback=callback)
    here = candidate_claims.computed_by(candidate_claims.JOB)
    computed_by = [here if executor is None else executor.computed_by[i] for i in range(len(selection.table))]
    meta = {
        "dataset": specs["dataset"], "job_id": job_id, "candidates": candidates, "families": request["families"],
        "table": selection.table, "best_index": selection.best_index, "lowest_index": selection.lowest_index,
        "evidence_index": selection.evidence_index, "n_folds": int(request["n_folds"]),
        "noise_var": specs["noise_var"], "rank": request["settings"]["rank"], "specs": specs,
        "runtime": float(selection.runtime), "finished": time.time(), "computed_by": computed_by,
    }
    store.put(token, ENTRY, {}, meta)
    return meta
