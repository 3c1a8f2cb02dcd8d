"""One candidate of a Suggest-settings job as a Celery task: JSON in, JSON out, never pickle.

The job (:func:`components.jobs.model_choice_job.run`) hands
:func:`gppnmf_core.model_selection.evaluate_candidate` tasks to
:class:`~components.jobs.candidate_executor.CeleryCandidateExecutor`, which
sends each as a :func:`message` to the task :data:`CANDIDATE_TASK`
(:func:`run_candidate`, registered by
:func:`components.services.config.make_celery_app`). The message names the
session, the job and the candidate's index, and carries what
:func:`~gppnmf_core.select_model` drew for every candidate alike: the fold
labels (exactly, as base64 bytes), the fit's seed, the folds, σ² and the
evidence setting. The worker rebuilds the rest from the job's own record (the
request the page sent: the data set, mask threshold and the candidate's prior
specs), so the candidate's data, priors and folds are the job's own, and
checks a digest of X and the mask against the job's: the outcome equals the
local computation bit for bit.

A worker's task does nothing for a job that has ended (cancelled, stopped at
its time limit, done) or past the job's deadline, nor for a candidate that
someone else has claimed (:mod:`components.jobs.candidate_claims`); while it
computes it renews its claim (a lease) and looks at the job's record after each
fold, and gives up once the job has ended or its lease was lost (the job then
computes the candidate itself).
"""

from __future__ import annotations

import hashlib
import time

import numpy as np

from components.jobs import model_choice_job, runner
from components.jobs.candidate_claims import LEASE_S, WORKER, CandidateClaims, WorkerLease, computed_by
from components.services import config
from gppnmf_core.batch import decode_arrays, encode_arrays
from gppnmf_core.model_selection import evaluate_candidate

#: The Celery task name (registered next to the job task by ``make_celery_app``).
CANDIDATE_TASK = "gppnmf.evaluate_candidate"
MESSAGE_VERSION = 1
#: Seconds a claim outlives the job's deadline (clocks of the machines may differ a little).
CLAIM_MARGIN_S = 60.0


class JobEnded(Exception):
    """The candidate's job has ended (or passed its deadline): stop computing for it."""


def data_digest(X: np.ndarray, mask) -> str:
    """A digest of X and the mask (shape, dtype and bytes): the worker's data must be the job's."""
    digest = hashlib.sha256()
    for array in (X, mask):
        if array is None:
            digest.update(b"none")
            continue
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def message(token: str, job_id: str, deadline: float, task: dict) -> dict:
    """The JSON message for one of :func:`~gppnmf_core.select_model`'s candidate tasks."""
    labels = np.asarray(task["labels"])
    small = np.int8 if int(task["n_folds"]) < 127 else np.int32
    return {"version": MESSAGE_VERSION, "token": token, "job_id": job_id, "index": int(task["index"]),
            "deadline": float(deadline), "labels": encode_arrays({"labels": labels.astype(small)}),
            "seed": int(task["seed"]), "n_folds": int(task["n_folds"]),
            "noise_var": None if task["noise_var"] is None else float(task["noise_var"]),
            "evidence": task["evidence"], "fold_tol": task["fold_tol"],
            "digest": data_digest(task["X"], task["mask"])}


def outcome_to_json(outcome: dict) -> dict:
    """:func:`evaluate_candidate`'s outcome as JSON (arrays as exact bytes, NumPy scalars as numbers)."""
    arrays = {k: v for k, v in outcome.items() if isinstance(v, np.ndarray)}
    values = {k: v.item() if isinstance(v, np.generic) else v for k, v in outcome.items() if k not in arrays}
    return {"arrays": encode_arrays(arrays), "values": values}


def outcome_from_json(data: dict) -> dict:
    """What :func:`outcome_to_json` made, as :func:`evaluate_candidate` returned it."""
    return {**data["values"], **decode_arrays(data["arrays"])}


def _running_request(token: str, job_id: str) -> dict | None:
    """The request of job ``job_id`` while it runs (None once it has ended or was replaced)."""
    record = runner.read(token)
    if record is None or record.get("id") != job_id or record["state"] != "running":
        return None
    if runner.kind_of(record) != model_choice_job.KIND:
        raise ValueError(f"job {job_id} is not a Suggest-settings job")
    return record["request"]


def _check_running(token: str, job_id: str, deadline: float, lease: WorkerLease):
    """A ``report`` hook for :func:`evaluate_candidate`: JobEnded once the job has ended, is past its
    deadline, or has taken the candidate over (this worker's lease was lost)."""

    def report(index, folds_done, objective):
        if lease.lost.is_set() or time.time() >= deadline or _running_request(token, job_id) is None:
            raise JobEnded

    return report


def task_from_message(payload: dict, token: str, request: dict) -> dict:
    """The candidate's :func:`evaluate_candidate` task, rebuilt from the message and the job's request."""
    dataset, _, mask = model_choice_job.inputs(token, request)
    if data_digest(dataset.X, mask) != payload["digest"]:
        raise ValueError("this worker's data set or mask differs from the job's (is the data set the same "
                         "version on every machine?)")
    index = int(payload["index"])
    if not 0 <= index < len(request["candidates"]):
        raise ValueError(f"candidate {index} of a job with {len(request['candidates'])} candidates")
    labels = decode_arrays(payload["labels"])["labels"]
    if labels.shape != dataset.X.shape:
        raise ValueError(f"fold labels of shape {labels.shape} do not fit X of shape {dataset.X.shape}")
    return {"X": dataset.X, "mask": mask, "labels": labels, "n_folds": int(payload["n_folds"]),
            "candidate": model_choice_job.build_candidate(dataset, request["candidates"][index]),
            "noise_var": payload["noise_var"], "seed": int(payload["seed"]), "index": index,
            "evidence": payload["evidence"], "fold_tol": payload["fold_tol"]}


def run_candidate(payload: dict) -> dict:
    """The Celery task :data:`CANDIDATE_TASK`: evaluate one candidate unless its job ended or it is claimed.

    Returns ``{"index", "outcome", "computed_by"}`` (the outcome as
    :func:`outcome_to_json`), or ``{"index", "skipped": reason}`` when it did
    no work (the job ended, or another process claimed the candidate first).
    """
    import redis

    if payload.get("version") != MESSAGE_VERSION:
        raise ValueError(f"candidate message version {payload.get('version')!r}; this worker reads "
                         f"{MESSAGE_VERSION} (update the workers and the web server together)")
    token, job_id, index = payload["token"], payload["job_id"], int(payload["index"])
    deadline = float(payload["deadline"])
    request = _running_request(token, job_id)
    if request is None or time.time() >= deadline:
        return {"index": index, "skipped": "the job has ended"}
    me = computed_by(WORKER)
    holder = f"{me['host']}:{me['pid']}"
    with redis.Redis.from_url(config.REDIS_URL) as client:
        claims = CandidateClaims(client, job_id, deadline - time.time() + CLAIM_MARGIN_S)
        if not claims.claim(index, holder, lease_s=LEASE_S):
            return {"index": index, "skipped": f"claimed by {claims.holder(index)}"}
        task = task_from_message(payload, token, request)
        try:
            with WorkerLease(claims, index, holder, LEASE_S) as lease:
                outcome = evaluate_candidate({**task, "report": _check_running(token, job_id, deadline, lease)})
        except JobEnded:
            return {"index": index, "skipped": "the job ended, or took the candidate over, while this worker "
                                               "computed it"}
    return {"index": index, "outcome": outcome_to_json(outcome), "computed_by": me}
