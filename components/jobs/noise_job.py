"""The "Estimate σ²" job: the noise variance by alternating MAP fits and MacKay's RSS / (n − γ), for the page
to offer beside the noise control.

A job, not a synchronous call: measured on the 2-core machine (loaded), the
toy takes about 3 s and the CSI phantom about 9 s, beyond what a callback
should hold a web worker for. :func:`gppnmf_core.estimate_noise_var` has no
progress callback; the page shows "estimating" until it ends, and Cancel kills
it like any job. A stopped job keeps nothing.
"""

from __future__ import annotations

import time

import gppnmf_core as gp
from components.jobs import compute
from components.services import store
from components.services.data_source import load_dataset
from components.views.specs import checked_prior_specs, factor_axis, prior_for

KIND = "noise"
ENTRY = "noise-estimate"


def request_for(dataset: gp.Dataset, specs, rank, mask_threshold) -> dict:
    """An estimation request from the page's state; ValueError with a message for the page."""
    if not specs:
        raise ValueError("fix the prior settings first (see the message in the prior designer)")
    specs = checked_prior_specs(specs)
    settings = compute.single_fit_settings(dataset, specs, rank, mask_threshold)
    return {"kind": KIND, "specs": specs, "settings": {"rank": rank, "mask_threshold": settings.mask_threshold}}


def run(token: str, job_id: str, request: dict, report) -> dict:
    """Estimate σ² and store it with where it came from (entry :data:`ENTRY`); its meta."""
    specs = checked_prior_specs(request["specs"])
    dataset = load_dataset(specs["dataset"], token)
    rank = int(request["settings"]["rank"])
    prior_D, prior_H = (prior_for(specs[f], factor_axis(dataset, f), f) for f in ("D", "H"))
    mask = compute.column_weights(dataset.X, request["settings"].get("mask_threshold"))
    report(0.1, "estimating σ²: MAP fits and MacKay's update RSS / (n − γ)")
    start = time.perf_counter()
    value, details = gp.estimate_noise_var(dataset.X, rank, prior_D, prior_H, mask=mask, random_state=0,
                                           return_details=True)
    last = details.rounds[-1] if details.rounds else {}
    meta = {
        "dataset": specs["dataset"], "job_id": job_id, "noise_var": float(value), "rank": rank,
        "specs": specs, "n_rounds": details.n_rounds, "converged": bool(details.converged),
        "gamma": float(last.get("gamma", float("nan"))), "n": float(last.get("n", float("nan"))),
        "masked": mask is not None, "runtime": time.perf_counter() - start, "finished": time.time(),
    }
    store.put(token, ENTRY, {}, meta)
    return meta
