"""The claim protocol of Suggest settings on Celery, against a real redis-server (no Celery, no worker).

:class:`~components.jobs.candidate_claims.CandidateClaims`: one atomic claim
per candidate, namespaced by job, with an expiry; and
:class:`~components.jobs.candidate_executor.CeleryCandidateExecutor` with
stand-ins for the Celery tasks: it computes every candidate itself when no
worker runs any (all slots busy), waits only for a candidate a worker holds
(working ahead meanwhile), and computes a held candidate whose task ended
without an outcome or whose worker's lease lapsed (its machine lost). A
worker's lease (:class:`~components.jobs.candidate_claims.WorkerLease`) lives on
while renewed and notices when the job took it over. Every wait is bounded;
nothing sleeps a fixed time.
"""

from __future__ import annotations

import os
import threading
import uuid

import pytest

from components.jobs.candidate_claims import JOB, STOPPED, CandidateClaims, WorkerLease
from components.jobs.candidate_executor import CeleryCandidateExecutor
from tests.services.conftest import redis_of_its_own
from tests.services.stack import wait_until

WAIT_S = 30.0


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """The URL of a redis-server of this module's own (loopback, with a password)."""
    yield from redis_of_its_own(tmp_path_factory, "claims")


@pytest.fixture
def redis_client(redis_url):
    import redis

    with redis.Redis.from_url(redis_url) as client:
        yield client


def _job_id() -> str:
    return uuid.uuid4().hex[:16]


def test_one_claim_per_candidate_namespaced_by_job_with_an_expiry(redis_client):
    job, other_job = _job_id(), _job_id()
    claims = CandidateClaims(redis_client, job, ttl_s=120)
    assert claims.holder(0) is None
    assert claims.claim(0, "host:1") is True
    assert claims.claim(0, JOB) is False and claims.holder(0) == "host:1"  # the first holder keeps it
    assert claims.claim(1, JOB) is True  # another candidate of the same job
    assert CandidateClaims(redis_client, other_job, 120).claim(0, JOB) is True  # the same index of another job
    assert claims.key(0) == f"gppnmf:candidate:{job}:0"
    assert 0 < redis_client.ttl(claims.key(0)) <= 120
    assert CandidateClaims(redis_client, _job_id(), ttl_s=0.2).ttl_s == 1  # never a key without an expiry


def test_exactly_one_of_many_simultaneous_claimants_wins(redis_client, redis_url):
    import redis

    job, n = _job_id(), 16
    barrier, wins = threading.Barrier(n), []

    def claimant(i):
        with redis.Redis.from_url(redis_url) as client:
            barrier.wait(timeout=WAIT_S)
            if CandidateClaims(client, job, 60).claim(3, f"claimant:{i}"):
                wins.append(i)

    threads = [threading.Thread(target=claimant, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=WAIT_S)
    assert len(wins) == 1, wins
    assert CandidateClaims(redis_client, job, 60).holder(3) == f"claimant:{wins[0]}"


def test_stop_forbids_the_candidates_nobody_started_and_returns_every_task_to_revoke(redis_client):
    claims = CandidateClaims(redis_client, _job_id(), 60)
    for index in range(3):
        claims.note_task(index, f"task-{index}")
    assert claims.tasks() == {0: "task-0", 1: "task-1", 2: "task-2"}
    claims.claim(1, "host:7")  # a worker runs candidate 1
    assert sorted(claims.stop()) == ["task-0", "task-1", "task-2"]
    assert [claims.holder(i) for i in range(3)] == [STOPPED, "host:7", STOPPED]
    assert claims.claim(0, "host:8") is False  # a late worker's task finds it forbidden
    assert claims.tasks() == {} and claims.stop() == []


def test_a_lease_lapses_unless_its_holder_renews_it(redis_client):
    claims = CandidateClaims(redis_client, _job_id(), ttl_s=600)
    assert claims.claim(0, "w:1", lease_s=60)
    assert 0 < redis_client.ttl(claims.key(0)) <= 60  # a lease, not the job's lifetime
    assert claims.renew(0, "w:2", 600) is False  # only its holder renews it
    assert redis_client.ttl(claims.key(0)) <= 60
    assert claims.renew(0, "w:1", 600) is True and redis_client.ttl(claims.key(0)) > 60
    assert claims.claim(1, "w:1", lease_s=1)  # never renewed: it lapses, and the candidate is free again
    wait_until(lambda: claims.holder(1) is None, WAIT_S, 0.05, "the lease lapsing")
    assert claims.renew(1, "w:1", 60) is False
    assert claims.claim(1, JOB)


def test_a_worker_lease_lives_on_while_renewed_then_stays_for_the_job(redis_client):
    claims = CandidateClaims(redis_client, _job_id(), ttl_s=600)
    assert claims.claim(0, "w:1", lease_s=3)
    with WorkerLease(claims, 0, "w:1", lease_s=3) as lease:
        wait_until(lambda: lease.renewals >= 4, WAIT_S, 0.05, "four renewals")  # past the first 3-s expiry
        assert claims.holder(0) == "w:1" and not lease.lost.is_set()
    assert redis_client.ttl(claims.key(0)) > 3  # finished: kept for the job's lifetime


def test_a_worker_lease_taken_over_by_the_job_is_noticed_lost(redis_client):
    claims = CandidateClaims(redis_client, _job_id(), ttl_s=600)
    assert claims.claim(0, "w:1", lease_s=3)
    with WorkerLease(claims, 0, "w:1", lease_s=3) as lease:
        redis_client.delete(claims.key(0))  # as if it had lapsed ...
        assert claims.claim(0, JOB)  # ... and the job took the candidate over
        assert lease.lost.wait(WAIT_S)
    assert claims.holder(0) == JOB  # the worker never takes it back


@pytest.mark.parametrize("job_id", ["", "../x", "a:b", "ABC", 12, None])
def test_a_job_id_that_is_not_one_is_refused(redis_client, job_id):
    with pytest.raises(ValueError, match="job_id must be a hexadecimal job id"):
        CandidateClaims(redis_client, job_id, 60)


class FakeTask:
    """A stand-in for a Celery AsyncResult: queued until someone answers it."""

    def __init__(self):
        self.id = uuid.uuid4().hex
        self.answer, self.state, self.forgotten = None, "PENDING", False
        self.done = threading.Event()

    def finish(self, answer, state="SUCCESS"):
        self.answer, self.state = answer, state
        self.done.set()

    def ready(self):
        return self.done.is_set()

    def successful(self):
        return self.state == "SUCCESS"

    def get(self, timeout=None, propagate=True, disable_sync_subtasks=True):
        assert self.done.wait(timeout)
        return self.answer

    def forget(self):
        self.forgotten = True


def _outcome(index: int) -> dict:
    return {"index": index, "pid": os.getpid(), "thread": threading.get_ident()}


def _results(futures, timeout: float = WAIT_S) -> list:
    """Each future's result, in order, read in a thread: a deadlocked executor fails the test instead of hanging it."""
    got, failed = [], []

    def read():
        try:
            got.extend(f.result() for f in futures)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failed.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    assert not reader.is_alive(), f"the executor still waits after {timeout:g} s (deadlock?)"
    assert not failed, failed
    return got


def _executor(redis_client, job_id):
    sent, revoked = [], []

    def send(task):
        sent.append(FakeTask())
        return sent[-1]

    executor = CeleryCandidateExecutor(send, revoked.extend, CandidateClaims(redis_client, job_id, 60), poll_s=0.01)
    return executor, sent, revoked


def test_with_every_worker_busy_the_job_computes_every_candidate_itself(redis_client):
    executor, sent, revoked = _executor(redis_client, _job_id())
    futures = [executor.submit(lambda task: _outcome(task["index"]), {"index": i}) for i in range(4)]
    results = _results(futures)  # no task ever runs: this must not wait for them
    assert [r["index"] for r in results] == [0, 1, 2, 3]
    assert [executor.computed_by[i]["by"] for i in range(4)] == ["job"] * 4
    executor.close()
    assert sorted(revoked) == sorted(t.id for t in sent)  # the queued tasks are revoked, their results forgotten
    assert all(t.forgotten for t in sent)


def test_the_job_waits_only_for_a_candidate_a_worker_runs_and_works_ahead_meanwhile(redis_client):
    job = _job_id()
    executor, sent, _ = _executor(redis_client, job)
    computed_here = []

    def fn(task):
        computed_here.append(task["index"])
        if task["index"] == 3:  # the job works ahead on the last candidate while the worker holds candidate 1
            sent[1].finish({"index": 1, "outcome": {"values": {"from": "worker"}, "arrays": {}},
                            "computed_by": {"by": "worker", "host": "w", "pid": 1}})
        return _outcome(task["index"])

    futures = [executor.submit(fn, {"index": i}) for i in range(4)]
    assert CandidateClaims(redis_client, job, 60).claim(1, "w:1")  # a worker starts candidate 1
    results = _results(futures)
    assert results[1] == {"from": "worker"}
    assert computed_here == [0, 3, 2]  # 0 first (needed now), then ahead from the end while 1 runs elsewhere
    assert [executor.computed_by[i]["by"] for i in range(4)] == ["job", "worker", "job", "job"]
    executor.close()


@pytest.mark.parametrize("answer, state", [({"index": 0, "skipped": "the job has ended"}, "SUCCESS"),
                                           (RuntimeError("WorkerLostError"), "FAILURE"),
                                           (None, "REVOKED")])
def test_a_held_candidate_whose_task_ends_without_an_outcome_is_computed_by_the_job(redis_client, answer, state):
    job = _job_id()
    executor, sent, _ = _executor(redis_client, job)
    future = executor.submit(lambda task: _outcome(task["index"]), {"index": 0})
    assert CandidateClaims(redis_client, job, 60).claim(0, "w:1")
    sent[0].finish(answer, state)
    assert _results([future])[0]["index"] == 0
    assert executor.computed_by[0]["by"] == "job"
    executor.close()


def test_a_stopped_selection_forbids_what_it_did_not_read_and_revokes_what_runs(redis_client):
    job = _job_id()
    executor, sent, revoked = _executor(redis_client, job)
    futures = [executor.submit(lambda task: _outcome(task["index"]), {"index": i}) for i in range(3)]
    worker = CandidateClaims(redis_client, job, 60)
    assert worker.claim(2, "w:1")
    _results(futures[:1])
    for future in futures[1:]:  # what select_model's _collect does after a stop
        future.cancel()
    assert worker.holder(1) == STOPPED and not worker.claim(1, "w:2")
    assert revoked == [sent[2].id]  # the running task is revoked; the forbidden one never starts
    executor.close()


def test_a_candidate_whose_worker_was_lost_is_computed_by_the_job_once_its_lease_lapses(redis_client):
    job = _job_id()
    executor, sent, revoked = _executor(redis_client, job)
    future = executor.submit(lambda task: _outcome(task["index"]), {"index": 0})
    # a worker started it, then its machine was lost: no renewal, and its task never answers
    assert CandidateClaims(redis_client, job, 60).claim(0, "lost-host:1", lease_s=1)
    assert _results([future])[0]["index"] == 0
    assert executor.computed_by[0]["by"] == "job"
    assert not sent[0].ready() and revoked == [sent[0].id]
    executor.close()
