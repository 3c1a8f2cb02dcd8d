"""Run one Suggest-settings job as the web server does, from a process of its own; print its end as JSON.

``python -m tests.services.suggest_client [--families ranks,presets] [--timeout S]`` with a stack's
environment (``REDIS_URL``, ``SECRET_KEY``, ``GPPNMF_CACHE_DIR``): a new session, the request the page
builds for the toy with the correct preset at rank 2, :func:`components.jobs.runner.start`, then the
page's poll (:func:`~components.jobs.runner.status` and :func:`~components.jobs.runner.seen`) until the
job ends. Prints ``{"request", "record", "meta", "seconds"}`` (``meta``: the stored outcome, None
unless done). A process of its own because the app's services are chosen from the environment at import.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from components.jobs import model_choice_job, runner
from components.services import store
from components.services.data_source import builtin_key, load_dataset

TOY = builtin_key("paper_toy")
RANK = 2
POLL_S = 0.05


def toy_request(families) -> dict:
    """The page's Suggest-settings request for the toy, the correct preset, rank 2, no mask."""
    dataset = load_dataset(TOY)
    preset = dataset.presets["correct"]
    specs = {"dataset": TOY, "D": preset.prior_D.to_spec(), "H": preset.prior_H.to_spec(),
             "noise_var": preset.noise_var}
    return model_choice_job.request_for(dataset, specs, RANK, 0, list(families))


def run_job(request: dict, timeout_s: float) -> dict:
    """Start ``request`` in a new session and poll it as the page does until it ends (or ``timeout_s`` pass)."""
    token = store.new_session_id()
    start = time.perf_counter()
    record = runner.start(token, request)
    deadline = time.monotonic() + timeout_s
    while record is not None and record["state"] in runner.ACTIVE and time.monotonic() < deadline:
        time.sleep(POLL_S)
        runner.seen(token, record["id"])
        record = runner.status(token)
    seconds = time.perf_counter() - start
    if record is not None and record["state"] in runner.ACTIVE:
        runner.cancel(token)
    stored = store.get(token, model_choice_job.ENTRY) if record and record["state"] == "done" else None
    return {"request": request, "record": record, "meta": None if stored is None else stored[1],
            "seconds": seconds}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="ranks,presets", help="comma-separated (ranks, presets, betas)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the job")
    args = parser.parse_args(argv)
    json.dump(run_job(toy_request(args.families.split(",")), args.timeout), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
