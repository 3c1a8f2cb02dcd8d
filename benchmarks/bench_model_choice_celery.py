"""Suggest settings on the Celery workers: job time at worker concurrency 1 and 2 against the local select_model.

For each data set, the candidates the page offers by default at rank 2 with
the first preset (families "ranks" and "presets"; 4 on the toy, 4 on the CSI
phantom), and:

* ``local n_jobs=1``: :func:`gppnmf_core.select_model` in this process, one
  candidate after the other (no job, no services);
* ``embedded job``: the job without Celery (a fresh interpreter per job, as the
  web server starts it; candidates one after the other in it);
* ``celery cN``: Redis and one Celery worker of concurrency N started on
  loopback (``tests/services/stack.py``); a Suggest-settings job run as the
  web server runs it (``tests/services/suggest_client.py``: Run to "done" seen
  by the page's poll, every 50 ms). The job holds one of the N slots; at N = 1
  it computes every candidate itself (the claim protocol,
  ``components/jobs/candidate_executor.py``), at N = 2 a worker takes some.

Each line: the median (and min–max) of ``--repeats`` runs, the select_model time
inside the job (``runtime`` in the job's meta), who computed the candidates
(job/worker) and the 1-minute load average before the line. The machine's core
count is printed first: on the 2-core development machine, shared with other
work, two processes cannot take more than the cores that are free.

    .venv/bin/python benchmarks/bench_model_choice_celery.py [--datasets paper_toy,csi_phantom] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import gppnmf_core as gp  # noqa: E402
from components.jobs.model_choice_job import build_candidate  # noqa: E402
from components.services.data_source import load_dataset  # noqa: E402
from tests.services.stack import Stack  # noqa: E402

FAMILIES = "ranks,presets"


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def _spread(times: list[float]) -> str:
    return f"{statistics.median(times):7.2f} s ({min(times):.2f}-{max(times):.2f})"


def local_times(dataset_name: str, request: dict, repeats: int) -> list[float]:
    """Wall times of select_model here (n_jobs=1) with the job's candidates and seed."""
    dataset = load_dataset(request["specs"]["dataset"])
    built = [build_candidate(dataset, c) for c in request["candidates"]]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        gp.select_model(dataset.X, built, noise_var=request["specs"]["noise_var"], n_folds=int(request["n_folds"]),
                        random_state=0)
        times.append(time.perf_counter() - start)
    return times


def job_runs(stack: Stack, dataset_name: str, repeats: int) -> list[dict]:
    """``repeats`` Suggest-settings jobs with ``stack``'s environment, each as the client printed it."""
    outcomes = []
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-m", "tests.services.suggest_client", "--dataset", dataset_name,
                               "--families", FAMILIES, "--timeout", "600"], cwd=REPO, env=stack.env,
                              capture_output=True, text=True, timeout=700)
        if done.returncode != 0:
            raise RuntimeError(f"the client failed:\n{done.stderr[-3000:]}")
        outcome = json.loads(done.stdout)
        if outcome["record"]["state"] != "done":
            raise RuntimeError(f"the job did not finish: {outcome['record'].get('message')}")
        outcomes.append(outcome)
    return outcomes


def _who(outcomes: list[dict]) -> str:
    counts = Counter(c["by"] for o in outcomes for c in o["meta"]["computed_by"])
    return " ".join(f"{role} {n / len(outcomes):.1f}" for role, n in sorted(counts.items()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="paper_toy", help="comma-separated built-in data sets")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    from tests.services.suggest_client import page_request

    print(f"Suggest settings ({FAMILIES}, rank 2, first preset) on {os.cpu_count()} cores "
          f"(shared: load average is per line); {args.repeats} runs per line")
    print(f"{'data set':<12} {'where':<16} {'job time: median (min-max)':<30} {'select_model in job':<22} "
          f"{'candidates by (per run)':<24} load")
    requests = {name: page_request(name, FAMILIES.split(",")) for name in args.datasets.split(",")}
    for name, request in requests.items():
        load = _load()
        times = local_times(name, request, args.repeats)
        print(f"{name:<12} {'local n_jobs=1':<16} {_spread(times):<30} {'-':<22} "
              f"{'here ' + str(len(request['candidates'])):<24} {load}")
    for concurrency in (0, 1, 2):
        with tempfile.TemporaryDirectory() as workdir:
            stack = Stack(Path(workdir), backend="celery" if concurrency else "embedded",
                          worker_concurrency=max(1, concurrency))
            where = f"celery c{concurrency}" if concurrency else "embedded job"
            try:
                if concurrency:
                    stack.start_redis()
                    stack.start_worker()
                    job_runs(stack, "paper_toy", 1)  # warm-up: the pool processes import what a job needs
                for name in requests:
                    load = _load()
                    outcomes = job_runs(stack, name, args.repeats)
                    job = [o["seconds"] for o in outcomes]
                    inside = [o["meta"]["runtime"] for o in outcomes]
                    print(f"{name:<12} {where:<16} {_spread(job):<30} {_spread(inside):<22} "
                          f"{_who(outcomes):<24} {load}")
            finally:
                problems = stack.stop()
                if problems:
                    print(f"left running: {problems}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
