"""Suggest settings on the Celery workers: an ``executor`` for :func:`gppnmf_core.select_model` that fans out.

On Celery (``REDIS_URL``) the job (:func:`components.jobs.model_choice_job.run`)
passes :func:`for_job`'s executor to ``select_model``. ``submit`` sends each
candidate to the workers as a JSON message (:mod:`components.jobs.candidate_task`)
and notes its task; ``result()``, called in candidate order, then follows the
claim protocol of :mod:`components.jobs.candidate_claims`:

* a candidate whose task has answered gives that answer;
* else the job tries to claim it: if it wins, it computes the candidate here;
* if a worker holds it, the job does not sit idle: it claims a later
  candidate nobody has started (from the end of the list, away from the
  workers, which take the queue from its front) and computes that one, then
  looks again; only with nothing left to take does it wait for the task,
  which a worker is then running. A task that ends without an outcome
  (revoked, its process lost) is computed here, and so is one whose worker's
  lease lapsed (its machine lost): the job wins the claim at its next look.

So the job never waits for a task that no worker runs: with every worker slot
busy (its own included) it computes every candidate itself, as ``n_jobs=1``
would, and the outcomes are the same bit for bit wherever they were computed.
:attr:`CeleryCandidateExecutor.computed_by` says who computed each candidate.

Stopping: a stopped selection cancels the candidates it did not read, and
:meth:`~CeleryCandidateExecutor.close` (always, at the end) forbids every
candidate nobody started and revokes its tasks, terminating the running ones.
A job killed from outside (Cancel, its time limit) cannot do that itself: its
supervisor calls :func:`stop_candidates`; and a worker's task gives up by
itself at the next fold once the job's record has ended, and is killed at the
job's deadline (its time limit), so no candidate keeps a worker longer than its
job's own time limit.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager

from components.jobs import candidate_task, runner
from components.jobs.candidate_claims import JOB, STOPPED, CandidateClaims, computed_by
from components.services import config

log = logging.getLogger(__name__)

#: Seconds between two looks at a task a worker is running.
POLL_S = 0.05
#: Seconds to fetch a result the backend already holds.
FETCH_TIMEOUT_S = 10.0
_NO_OUTCOME = "no outcome"


class CandidateFuture:
    """What ``submit`` returns: ``result()`` and ``cancel()`` for one candidate."""

    def __init__(self, executor: CeleryCandidateExecutor, index: int):
        self._executor = executor
        self.index = index

    def result(self) -> dict:
        return self._executor.outcome(self.index)

    def cancel(self) -> None:
        self._executor.cancel(self.index)


class CeleryCandidateExecutor:
    """Candidates of one job on the workers and in the job's own process, by the claim protocol.

    Parameters
    ----------
    send : callable
        ``send(task) -> AsyncResult`` (anything with ``id``, ``ready()``,
        ``successful()``, ``get(timeout=, propagate=, disable_sync_subtasks=)`` and ``forget()``):
        sends one candidate task of ``select_model`` to the workers.
    revoke : callable
        ``revoke(task_ids)``: revokes tasks, terminating those that run.
    claims : CandidateClaims
        The job's claims.
    poll_s : float
        Seconds between two looks at a task a worker runs.
    """

    def __init__(self, send, revoke, claims: CandidateClaims, poll_s: float = POLL_S):
        self._send, self._revoke, self._claims, self._poll_s = send, revoke, claims, poll_s
        self._work: dict[int, tuple] = {}  # index -> (fn, task)
        self._sent: dict = {}  # index -> AsyncResult
        self._ready: dict[int, dict] = {}  # computed ahead here, not read yet
        self._held_elsewhere: set[int] = set()
        self._read: set[int] = set()
        #: Who computed each candidate, by index: ``{"by": "worker" or "job", "host", "pid"}``.
        self.computed_by: dict[int, dict] = {}

    def submit(self, fn, task: dict) -> CandidateFuture:
        index = int(task["index"])
        self._work[index] = (fn, task)
        self._sent[index] = sent = self._send(task)
        self._claims.note_task(index, sent.id)
        return CandidateFuture(self, index)

    # -- reading a candidate ----------------------------------------------------------------------

    def outcome(self, index: int) -> dict:
        """Candidate ``index``'s outcome: the worker's, or computed here when the job wins its claim."""
        while True:
            if index in self._ready:
                outcome = self._ready.pop(index)
                break
            answer = self._answer(index)
            if isinstance(answer, dict):
                outcome = answer
                break
            if self._claims.claim(index, JOB):  # nobody held it yet, or its worker's lease lapsed
                if index in self._held_elsewhere:
                    log.warning("candidate %d of job %s: its worker's claim lapsed (worker lost?); "
                                "computed by the job", index, self._claims.job_id)
                    self._revoke([self._sent[index].id])
                outcome = self._compute(index)
                break
            self._held_elsewhere.add(index)
            if answer is _NO_OUTCOME:  # its worker gave up or was lost: nobody else will compute it
                log.warning("candidate %d of job %s: its task ended without an outcome; computed by the job",
                            index, self._claims.job_id)
                outcome = self._compute(index)
                break
            if not self._compute_one_ahead(index):
                time.sleep(self._poll_s)
        self._read.add(index)
        return outcome

    def _answer(self, index: int):
        """The worker's outcome (a dict), None while its task is queued or running, or :data:`_NO_OUTCOME`."""
        sent = self._sent[index]
        if not sent.ready():
            return None
        # The job runs inside a Celery task, where Celery forbids waiting for another task (a deadlock when
        # the pool is full); the task is ready, so this is a read, and the claims keep every wait deadlock-free.
        answer = sent.get(timeout=FETCH_TIMEOUT_S, propagate=False, disable_sync_subtasks=False) \
            if sent.successful() else None
        if not isinstance(answer, dict) or "outcome" not in answer:
            return _NO_OUTCOME
        self.computed_by[index] = answer["computed_by"]
        return candidate_task.outcome_from_json(answer["outcome"])

    def _compute(self, index: int) -> dict:
        fn, task = self._work[index]
        outcome = fn(task)
        self.computed_by[index] = computed_by(JOB)
        return outcome

    def _compute_one_ahead(self, index: int) -> bool:
        """Claim and compute one later candidate nobody has started (the last first); False when there is none."""
        for later in sorted(self._work, reverse=True):
            if later <= index:
                break
            if later in self._ready or later in self._held_elsewhere or later in self._read:
                continue
            if self._claims.claim(later, JOB):
                self._ready[later] = self._compute(later)
                return True
            self._held_elsewhere.add(later)
        return False

    # -- stopping ---------------------------------------------------------------------------------

    def cancel(self, index: int) -> None:
        """The selection stopped before reading candidate ``index``: nobody may start it; revoke its task."""
        if index not in self._read and not self._claims.claim(index, STOPPED) and index in self._sent:
            self._revoke([self._sent[index].id])

    def close(self) -> None:
        """Forbid every candidate nobody started, revoke the tasks that have not answered, forget the results."""
        try:
            self._claims.stop()
            unanswered = [sent.id for sent in self._sent.values() if not sent.ready()]
            if unanswered:
                self._revoke(unanswered)
        finally:
            for sent in self._sent.values():
                sent.forget()


# -- the app's wiring ----------------------------------------------------------------------------

def _claims_ttl(deadline: float) -> float:
    return deadline - time.time() + candidate_task.CLAIM_MARGIN_S


def _client_app():
    """A Celery client of its own (JSON only): the job runs in a fork, whose inherited connections are not its."""
    from celery import Celery

    from gppnmf_core.batch import configure_json

    celery_app = Celery("gppnmf-candidates", broker=config.REDIS_URL, backend=config.REDIS_URL)
    configure_json(celery_app)
    return celery_app


@contextmanager
def for_job(token: str, job_id: str):
    """The executor for job ``job_id``'s candidates on the Celery workers (closed on leaving); None when embedded."""
    if not config.REDIS_URL:
        yield None
        return
    import redis

    record = runner.read(token)
    deadline = float(record["started"]) + float(record["limits"]["timeout_s"])
    celery_app = _client_app()
    client = redis.Redis.from_url(config.REDIS_URL)

    def send(task):
        left = max(1.0, deadline - time.time())
        return celery_app.send_task(candidate_task.CANDIDATE_TASK,
                                    args=[candidate_task.message(token, job_id, deadline, task)],
                                    time_limit=int(left) + 1, expires=left)

    def revoke(task_ids):
        celery_app.control.revoke(task_ids, terminate=True)

    executor = CeleryCandidateExecutor(send, revoke, CandidateClaims(client, job_id, _claims_ttl(deadline)))
    try:
        yield executor
    finally:
        try:
            executor.close()
        finally:
            client.close()
            celery_app.close()


def stop_candidates(job_id: str) -> None:
    """After a job's computation was killed: forbid its candidates nobody started and revoke their tasks.

    For the job's supervisor (:mod:`components.jobs.worker`); does nothing
    without ``REDIS_URL`` or for a job that sent no candidates; never raises
    (the job's end must be recorded whatever Redis says).
    """
    if not config.REDIS_URL:
        return
    try:
        import redis

        with redis.Redis.from_url(config.REDIS_URL) as client:
            task_ids = CandidateClaims(client, job_id, config.JOB_TIMEOUT_S + candidate_task.CLAIM_MARGIN_S).stop()
        if task_ids:
            config.make_celery_app().control.revoke(task_ids, terminate=True)
    except Exception:  # noqa: BLE001 - a failed clean-up leaves tasks that end by themselves at their deadline
        log.exception("job %s: could not stop its candidate tasks", job_id)
