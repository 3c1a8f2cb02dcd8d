"""Who computes each candidate of a Suggest-settings job on Celery: one atomic claim per candidate in Redis.

The job sends one task per candidate to the workers and also computes
candidates itself. Whoever starts a candidate first claims it: the key
``gppnmf:candidate:<job id>:<index>`` is set once (``SET NX``, with an expiry
so that nothing outlives the job) to its holder — a worker's
``"<host>:<pid>"``, :data:`JOB` (the job's own process) or :data:`STOPPED`
(the job stopped: nobody may start it any more). Whoever loses leaves the
candidate alone: a worker's task returns at once, and the job waits for the
task that won. So the job only ever waits for a task that a worker is
actually running, and it never deadlocks when every worker slot is busy (its
own included): then it wins every claim and computes every candidate itself.

A worker's claim is a lease (:class:`WorkerLease`): it expires
:data:`LEASE_S` seconds after the worker last renewed it, and a thread of the
worker renews it while it computes. So when a worker's whole machine is lost
(power, network: nobody is left to report the task's failure) its claim lapses,
the job wins it on its next look and computes the candidate itself, instead of
waiting for it until the job's time limit. A worker that finds its lease lost
stops computing the candidate.

The job also notes each candidate's task id (the hash
``gppnmf:candidate:<job id>:tasks``) so that whoever stops the job (the job
itself, or its supervisor after killing it) can revoke the tasks
(:meth:`CandidateClaims.stop`).
"""

from __future__ import annotations

import os
import re
import socket
import threading

#: Who computes a candidate: the job's own process (also its claim's holder) or a worker.
JOB = "job"
WORKER = "worker"
#: The holder of a candidate that nobody may start any more (its job stopped).
STOPPED = "stopped"
PREFIX = "gppnmf:candidate:"
#: Seconds a worker's claim lives after its last renewal (it renews every third of that).
LEASE_S = 15.0
# Extend a key's expiry only while it still holds the given holder (atomic in Redis).
_RENEW_IF_HELD = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('expire', KEYS[1], ARGV[2])
end
return 0
"""
_JOB_ID = re.compile(r"^[0-9a-f]{1,64}\Z")


def computed_by(role: str) -> dict:
    """Who computes a candidate: ``role`` ("worker" or "job"), the host and the process id."""
    return {"by": role, "host": socket.gethostname(), "pid": os.getpid()}


def _text(value) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


class CandidateClaims:
    """The claims of one job's candidates on a Redis client.

    Parameters
    ----------
    client : redis.Redis
    job_id : str
        The job's id (hexadecimal, as :func:`components.jobs.runner.new_record` makes them).
    ttl_s : float
        Seconds every key lives (at least 1): the job's time left plus a margin.
    """

    def __init__(self, client, job_id: str, ttl_s: float):
        if not isinstance(job_id, str) or not _JOB_ID.match(job_id):
            raise ValueError(f"job_id must be a hexadecimal job id, got {str(job_id)[:80]!r}")
        self.client = client
        self.job_id = job_id
        self.ttl_s = max(1, int(ttl_s))

    def key(self, index: int) -> str:
        return f"{PREFIX}{self.job_id}:{int(index)}"

    @property
    def tasks_key(self) -> str:
        return f"{PREFIX}{self.job_id}:tasks"

    def claim(self, index: int, holder: str, lease_s: float | None = None) -> bool:
        """Claim candidate ``index`` for ``holder``; True when this call won it (nobody had it).

        The claim lives ``lease_s`` seconds (a worker's lease, see :meth:`renew`),
        or by default as long as the job's keys (:attr:`ttl_s`).
        """
        ttl = self.ttl_s if lease_s is None else max(1, int(lease_s))
        return bool(self.client.set(self.key(index), holder, nx=True, ex=ttl))

    def renew(self, index: int, holder: str, lease_s: float) -> bool:
        """Let ``holder``'s claim of ``index`` live ``lease_s`` seconds more; False when it holds it no longer."""
        return bool(self.client.eval(_RENEW_IF_HELD, 1, self.key(index), holder, max(1, int(lease_s))))

    def holder(self, index: int) -> str | None:
        """Who holds candidate ``index`` (None: nobody yet, or the claim expired)."""
        return _text(self.client.get(self.key(index)))

    def note_task(self, index: int, task_id: str) -> None:
        """Remember the Celery task sent for candidate ``index``."""
        pipe = self.client.pipeline()
        pipe.hset(self.tasks_key, str(int(index)), task_id)
        pipe.expire(self.tasks_key, self.ttl_s)
        pipe.execute()

    def tasks(self) -> dict[int, str]:
        """The noted task of each candidate, by index."""
        return {int(_text(k)): _text(v) for k, v in self.client.hgetall(self.tasks_key).items()}

    def stop(self) -> list[str]:
        """Forbid every noted candidate nobody has started; the task ids to revoke (all noted), then forget them.

        A candidate already held (by a worker or the job) keeps its holder: its
        task, if a worker runs it, is among those returned and must be revoked
        (terminated) by the caller.
        """
        tasks = self.tasks()
        for index in tasks:
            self.claim(index, STOPPED)
        self.client.delete(self.tasks_key)
        return list(tasks.values())


class WorkerLease:
    """A worker's claim of one candidate, renewed by a thread while the worker computes it.

    Use as a context manager after :meth:`CandidateClaims.claim` with
    ``lease_s`` has won the claim. Every ``lease_s / 3`` seconds the thread
    renews the claim; when a renewal finds it held no longer (it lapsed and the
    job took the candidate over) :attr:`lost` is set and renewals stop. On a
    clean exit the claim is kept for the job's lifetime (:attr:`CandidateClaims.ttl_s`),
    so nobody computes the candidate again while the job reads the answer.

    Parameters
    ----------
    claims : CandidateClaims
    index : int
        The candidate.
    holder : str
        The claim's holder (the worker's ``"<host>:<pid>"``).
    lease_s : float
        Seconds the claim lives after each renewal.
    """

    def __init__(self, claims: CandidateClaims, index: int, holder: str, lease_s: float = LEASE_S):
        self.claims, self.index, self.holder, self.lease_s = claims, int(index), holder, float(lease_s)
        self.lost = threading.Event()
        #: Renewals done so far.
        self.renewals = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew_until_stopped, daemon=True,
                                        name=f"gppnmf-lease-{claims.job_id}-{self.index}")

    def _renew_until_stopped(self) -> None:
        while not self._stop.wait(self.lease_s / 3.0):
            try:
                held = self.claims.renew(self.index, self.holder, self.lease_s)
            except Exception:  # noqa: BLE001 - Redis unreachable for a moment: try again at the next renewal
                continue
            if not held:
                self.lost.set()
                return
            self.renewals += 1

    def __enter__(self) -> WorkerLease:
        self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._stop.set()
        self._thread.join()
        if exc_type is None and not self.lost.is_set():
            try:
                self.claims.renew(self.index, self.holder, self.claims.ttl_s)
            except Exception:  # noqa: BLE001 - only a courtesy: the job reads the answer before it looks at claims
                pass
