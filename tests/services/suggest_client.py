"""Run one Suggest-settings job as the web server does, from a process of its own; print its end as JSON.

``python -m tests.services.suggest_client [--dataset paper_toy] [--families ranks,presets] [--timeout S]
[--cancel-when-a-worker-computes]`` with a stack's environment (``REDIS_URL``, ``SECRET_KEY``,
``GPPNMF_CACHE_DIR``): a new session, the request the page builds for the data set's first preset at
rank 2, :func:`components.jobs.runner.start`, then the page's poll (:func:`~components.jobs.runner.status`
and :func:`~components.jobs.runner.seen`) until the job ends, or (on Celery) Cancel as soon as a
worker has claimed one of its candidates. Prints ``{"request", "record", "meta", "seconds", "cancelled"}``
(``meta``: the stored outcome, None unless done; ``cancelled``: the job id, its candidates' tasks and
those a worker held, or None). A process of its own because the app's services are chosen from the
environment at import.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import contextmanager

from components.jobs import model_choice_job, runner
from components.jobs.candidate_claims import JOB, STOPPED, CandidateClaims
from components.services import store
from components.services.data_source import builtin_key, load_dataset

RANK = 2
POLL_S = 0.05


def page_request(name: str, families) -> dict:
    """The page's Suggest-settings request for built-in data set ``name`` with its first preset, rank 2, no mask."""
    key = builtin_key(name)
    dataset = load_dataset(key)
    preset = next(iter(dataset.presets.values()))
    specs = {"dataset": key, "D": preset.prior_D.to_spec(), "H": preset.prior_H.to_spec(),
             "noise_var": preset.noise_var}
    return model_choice_job.request_for(dataset, specs, RANK, 0, list(families))


@contextmanager
def job_claims(job_id: str):
    """The candidate claims of job ``job_id`` on this environment's Redis (Celery only)."""
    import redis

    from components.services import config

    with redis.Redis.from_url(config.REDIS_URL) as client:
        yield CandidateClaims(client, job_id, 60)


def _cancel_if_a_worker_computes(token: str, record: dict, n_candidates: int) -> dict | None:
    """Cancel the job once it has sent every candidate and a worker holds one: what it held, and the tasks."""
    with job_claims(record["id"]) as claims:
        held = [i for i in range(n_candidates) if claims.holder(i) not in (None, JOB, STOPPED)]
        tasks = claims.tasks()
        if not held or len(tasks) < n_candidates:  # a worker may start before the job has sent every candidate
            return None
    runner.cancel(token)
    return {"job_id": record["id"], "held": held, "tasks": tasks}


def run_job(request: dict, timeout_s: float, cancel_when_a_worker_computes: bool = False) -> dict:
    """Start ``request`` in a new session and poll it as the page does until it ends (or ``timeout_s`` pass)."""
    token = store.new_session_id()
    start = time.perf_counter()
    record = runner.start(token, request)
    deadline = time.monotonic() + timeout_s
    cancelled = None
    while record is not None and record["state"] in runner.ACTIVE and time.monotonic() < deadline:
        time.sleep(POLL_S)
        runner.seen(token, record["id"])
        record = runner.status(token)
        if cancel_when_a_worker_computes and record["state"] == "running":
            cancelled = _cancel_if_a_worker_computes(token, record, len(request["candidates"]))
            if cancelled:
                record = runner.status(token)
    seconds = time.perf_counter() - start
    if record is not None and record["state"] in runner.ACTIVE:
        runner.cancel(token)
    stored = store.get(token, model_choice_job.ENTRY) if record and record["state"] == "done" else None
    return {"request": request, "record": record, "meta": None if stored is None else stored[1],
            "seconds": seconds, "cancelled": cancelled}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="paper_toy", help="a built-in data set")
    parser.add_argument("--families", default="ranks,presets", help="comma-separated (ranks, presets, betas)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the job")
    parser.add_argument("--cancel-when-a-worker-computes", action="store_true",
                        help="press Cancel as soon as a worker has claimed a candidate")
    args = parser.parse_args(argv)
    request = page_request(args.dataset, args.families.split(","))
    json.dump(run_job(request, args.timeout, args.cancel_when_a_worker_computes), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
