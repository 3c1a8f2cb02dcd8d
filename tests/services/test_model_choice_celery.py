"""Suggest settings on real Celery workers: the candidates fan out, the answer is the local one, nothing deadlocks.

Two stacks on loopback, each Redis and one Celery worker of the app (prefork),
of two slots and of one; Suggest-settings jobs run as the web server runs them
(``tests/services/suggest_client.py``, a process with the stack's environment).
With two slots the job holds one and candidates go to the other and to the
job's own process; with one slot the job holds it and must compute every
candidate itself. Either way the table must equal the local
:func:`gppnmf_core.select_model` with the same candidates and seed, bit for bit.
Cancel while a worker computes a (CSI) candidate: that task is stopped, the
others may never start, the worker is free again. A worker whose whole machine
is lost while it computes a candidate (frozen with SIGSTOP: no answer, no
renewal of its lease) costs the job one lease, not its time limit: the job
computes that candidate itself and the table is still the local one. Every wait
is bounded; nothing sleeps a fixed time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
import redis

import gppnmf_core as gp
from components.jobs.candidate_claims import JOB, LEASE_S, PREFIX, STOPPED, CandidateClaims
from components.jobs.model_choice_job import build_candidate
from components.services.data_source import load_dataset
from tests.services.conftest import _missing
from tests.services.stack import REPO, Stack, StackError, have_redis, missing_packages, wait_until

#: Generous: the 2-core machine may be running other suites and benchmarks beside these.
JOB_TIMEOUT_S = 240.0
#: What must be equal to the local selection (times differ from run to run).
SAME = ("rank", "cv_error", "cv_error_se", "diff", "diff_se", "within_one_se", "evidence", "objective",
        "fit_iterations", "fold_iterations")


def _workers(tmp_path_factory, concurrency: int):
    if not have_redis():
        _missing("redis-server", "GPPNMF_REQUIRE_SERVICES", "apt-get install redis-server")
    if missing_packages():
        _missing(f"Python package(s) {', '.join(missing_packages())}", "GPPNMF_REQUIRE_SERVICES",
                 "pip install celery redis")
    stack = Stack(tmp_path_factory.mktemp(f"suggest-{concurrency}"), backend="celery",
                  worker_concurrency=concurrency)
    try:
        stack.start_redis()
        stack.start_worker()
    except StackError as exc:
        stack.stop()
        pytest.fail(f"Redis and the Celery worker did not start: {exc}")
    return stack


def _serve(tmp_path_factory, concurrency: int):
    """The stack of :func:`_workers` for a module's tests, stopped (and checked stopped) after them."""
    stack = _workers(tmp_path_factory, concurrency)
    yield stack
    problems = stack.stop()
    assert not problems, problems


@pytest.fixture(scope="module")
def two_slots(tmp_path_factory):
    """Redis and one worker of concurrency 2: the job takes one slot, candidates may take the other."""
    yield from _serve(tmp_path_factory, 2)


@pytest.fixture(scope="module")
def one_slot(tmp_path_factory):
    """Redis and one worker of concurrency 1: the job takes the only slot."""
    yield from _serve(tmp_path_factory, 1)


def _client_argv(*args) -> list[str]:
    return [sys.executable, "-m", "tests.services.suggest_client", "--timeout", str(JOB_TIMEOUT_S), *args]


def client(stack, *args) -> dict:
    """What ``tests/services/suggest_client.py ARGS`` printed, run with the stack's environment."""
    done = subprocess.run(_client_argv(*args), cwd=REPO, env=stack.env, capture_output=True, text=True,
                          timeout=JOB_TIMEOUT_S + 60)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:] + stack.services["worker"].tail()
    return json.loads(done.stdout)


def suggest(stack, families: str) -> dict:
    """A Suggest-settings job on the toy run to its end on ``stack`` as the web server runs it."""
    outcome = client(stack, "--families", families)
    record = outcome["record"]
    assert record["state"] == "done", (record["message"], record["text"], stack.services["worker"].tail())
    return outcome


def local_selection(request: dict) -> gp.ModelSelection:
    """``select_model`` here, one candidate after the other, with the job's candidates, folds and seed."""
    dataset = load_dataset(request["specs"]["dataset"])
    built = [build_candidate(dataset, c) for c in request["candidates"]]
    return gp.select_model(dataset.X, built, noise_var=request["specs"]["noise_var"],
                           n_folds=int(request["n_folds"]), random_state=0)


def assert_same_selection(meta: dict, local: gp.ModelSelection) -> None:
    assert (meta["best_index"], meta["lowest_index"], meta["evidence_index"]) == \
        (local.best_index, local.lowest_index, local.evidence_index)
    assert len(meta["table"]) == len(local.table)
    for got, expected in zip(meta["table"], local.table, strict=True):
        assert {k: got[k] for k in SAME} == {k: expected[k] for k in SAME}, got["name"]


def processes(meta: dict) -> dict[tuple, int]:
    """Candidates computed by each (role, host, pid)."""
    return Counter((c["by"], c["host"], c["pid"]) for c in meta["computed_by"])


def test_candidates_spread_over_the_workers_and_the_table_is_the_local_one(two_slots):
    outcome = suggest(two_slots, "ranks,presets,betas")
    meta = outcome["meta"]
    assert_same_selection(meta, local_selection(outcome["request"]))
    assert len(meta["computed_by"]) == len(meta["candidates"]) >= 6
    seen = processes(meta)
    roles = {role for role, _, _ in seen}
    print(f"\nSuggest settings on a worker of 2 slots: {len(meta['candidates'])} candidates in "
          f"{outcome['seconds']:.2f} s; computed by {dict(seen)}")
    assert len(seen) >= 2 and roles == {"job", "worker"}, meta["computed_by"]
    assert "gppnmf.evaluate_candidate" in two_slots.services["worker"].log()


def test_with_every_worker_slot_busy_the_job_computes_its_candidates_itself(one_slot):
    outcome = suggest(one_slot, "ranks,presets")
    meta = outcome["meta"]
    assert_same_selection(meta, local_selection(outcome["request"]))
    assert len(processes(meta)) == 1 and {c["by"] for c in meta["computed_by"]} == {"job"}, meta["computed_by"]
    print(f"\nSuggest settings on a worker of 1 slot: {len(meta['candidates'])} candidates in "
          f"{outcome['seconds']:.2f} s, all in the job's own process")
    # The candidate tasks left in the queue do no work: revoked or skipped, the worker is soon idle again.
    wait_until(lambda: one_slot.active_tasks() == [], 30, interval=0.2, message="the worker did not become idle")
    assert "'outcome'" not in one_slot.services["worker"].log()


def test_cancel_stops_the_candidate_a_worker_computes_and_forbids_the_others(two_slots):
    outcome = client(two_slots, "--dataset", "csi_phantom", "--families", "ranks", "--cancel-when-a-worker-computes")
    cancelled = outcome["cancelled"]
    assert cancelled, f"no worker claimed a candidate before the job ended: {outcome['record']}"
    assert outcome["record"]["state"] == "cancelled"
    start = time.perf_counter()
    tasks = {int(index): task_id for index, task_id in cancelled["tasks"].items()}
    assert len(tasks) == len(outcome["request"]["candidates"]) == 3
    results = {index: two_slots.client().AsyncResult(task_id) for index, task_id in tasks.items()}
    wait_until(lambda: all(r.state in ("SUCCESS", "FAILURE", "REVOKED") for r in results.values()), 60,
               interval=0.1, message="a candidate task of the cancelled job still runs or waits")
    ended = time.perf_counter() - start
    states = {index: r.state for index, r in results.items()}
    for index in cancelled["held"]:  # a CSI candidate takes many seconds: the worker's was stopped, not finished
        answer = results[index].result
        assert states[index] == "REVOKED" or (isinstance(answer, dict) and "skipped" in answer), (index, answer)
    with redis.Redis.from_url(two_slots.redis_url) as redis_client:
        claims = CandidateClaims(redis_client, cancelled["job_id"], 60)
        # The job's supervisor takes the noted tasks over to revoke them once it has killed the job; the tasks
        # themselves may have ended first (a task of an ended job returns at once).
        wait_until(lambda: claims.tasks() == {}, 30, interval=0.1,
                   message="the job's supervisor did not take over its candidates' tasks")
        holders = [claims.holder(i) for i in range(len(tasks))]
        assert None not in holders, holders  # every candidate is held or forbidden: no task may start one any more
    wait_until(lambda: two_slots.active_tasks() == [], 30, interval=0.2, message="the worker did not become idle")
    print(f"\nCancel during a worker's CSI candidate: every candidate task ended {ended:.2f} s after the page's "
          f"Cancel returned ({states}); claims {holders}")


def _held_by_a_worker(stack) -> tuple[str, int, int] | None:
    """(job id, candidate, pool pid) of a candidate claim a worker holds on ``stack``'s Redis, if any."""
    with redis.Redis.from_url(stack.redis_url) as redis_client:
        for key in redis_client.scan_iter(match=f"{PREFIX}*:tasks"):
            job_id = key.decode()[len(PREFIX):-len(":tasks")]
            claims = CandidateClaims(redis_client, job_id, 60)
            for index in claims.tasks():
                holder = claims.holder(index)
                if holder not in (None, JOB, STOPPED):
                    return job_id, index, int(holder.rsplit(":", 1)[1])
    return None


def test_a_worker_lost_while_it_computes_a_candidate_costs_the_job_one_lease(tmp_path_factory):
    stack = _workers(tmp_path_factory, 1)  # two workers of one slot each: the job takes one, a candidate the other
    frozen_worker = None
    try:
        stack.start_worker(name="second", concurrency=1)
        job = subprocess.Popen(_client_argv("--dataset", "csi_phantom", "--families", "ranks"), cwd=REPO,
                               env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            job_id, index, pid = wait_until(lambda: _held_by_a_worker(stack), JOB_TIMEOUT_S, 0.05,
                                            "no worker claimed a candidate")
            frozen_worker = next(s for s in stack.services.values() if pid in {p.pid for p in s.children()})
            os.killpg(frozen_worker.process.pid, signal.SIGSTOP)  # its machine is gone: no answer, no renewal
            frozen = time.perf_counter()
            out, err = job.communicate(timeout=JOB_TIMEOUT_S + 60)
        finally:
            job.kill()
        after = time.perf_counter() - frozen
        assert job.returncode == 0, out[-2000:] + err[-4000:]
        outcome = json.loads(out)
        record, meta = outcome["record"], outcome["meta"]
        assert record["state"] == "done" and record["id"] == job_id, record
        assert meta["computed_by"][index]["by"] == "job", meta["computed_by"]
        assert_same_selection(meta, local_selection(outcome["request"]))
        print(f"\nWorker {frozen_worker.name} frozen while computing CSI candidate {index}: the job ended "
              f"{after:.1f} s later (lease {LEASE_S:g} s); computed by {dict(processes(meta))}")
    finally:
        if frozen_worker is not None:
            os.killpg(frozen_worker.process.pid, signal.SIGCONT)
        problems = stack.stop()
    assert not problems, problems
