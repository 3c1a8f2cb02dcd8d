"""The app's own job runner, seen from the web server: the job record, launch, cancel, status.

Each session has at most one job. Its **record** is the session-store entry
``"job"``: JSON with the job's ``id``, ``state`` (queued → running → done,
error, cancelled or lost), progress ``fraction`` and ``text``, a ``message``
for the page, the ``request`` it runs and the ``limits`` it runs under, and how
to reach its process (``pid``/``pgid`` on the embedded default, ``task_id``
on Celery).

Who writes the record, in turn: the web server creates it (queued, with the
process handle) *before* the job may start; then only the job process writes
it, until it ends; Cancel stops an embedded job first and then writes
"cancelled" (on Celery it writes first: the job process watches its record);
a status check writes "lost" only once the job's process is gone. Job-side writes
go through :func:`update`, which never touches a record that has ended or
belongs to another job.

The page's poll never writes the record (that would race the job's writes): it
notes the time in the entry ``"job-seen"`` (:func:`seen`). A job that no page
has polled for ``limits["grace_s"]`` seconds (``GPPNMF_JOB_GRACE_S``) is
cancelled by its own supervisor (:func:`page_gone`).

Launch: on the embedded default a fresh interpreter (``python -m
components.jobs.worker``, in a process group of its own, never a fork of the
web server), reaped by a daemon thread; with ``REDIS_URL`` a Celery task
(:data:`JOB_TASK`). Both run :func:`components.jobs.worker.run_job`.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import psutil

from components.services import config, sessions, store

RECORD = "job"
ACTIVE = ("queued", "running")
FINAL = ("done", "error", "cancelled", "lost")
#: The Celery task that runs a job (registered by :func:`components.services.make_celery_app`).
JOB_TASK = "gppnmf.run_job"
LOST_MESSAGE = "The job stopped unexpectedly (its worker was lost). Press Run to try again."
#: A running job whose record has said nothing for this long past its time limit is taken as lost.
LOST_AFTER_LIMIT_S = 60.0
REPO = Path(__file__).resolve().parents[2]
#: The embedded job process: a fresh interpreter (never a fork of the web server).
WORKER_ARGV = [sys.executable, "-m", "components.jobs.worker"]
_N_LOCKS = 64
#: Seconds a job goes on without any page polling it before its supervisor cancels it (GPPNMF_JOB_GRACE_S).
JOB_GRACE_S = float(os.environ.get("GPPNMF_JOB_GRACE_S", "120"))
SEEN = "job-seen"
PAGE_CLOSED_MESSAGE = "cancelled: the page was closed"


class JobRefused(ValueError):
    """This session already has a job queued or running."""


# -- the record --------------------------------------------------------------------------------

def read(token: str) -> dict | None:
    """This session's job record, or None."""
    stored = store.get(token, RECORD)
    return None if stored is None else stored[1]


def write(token: str, record: dict) -> None:
    store.put(token, RECORD, {}, record)


def update(token: str, job_id: str, **fields) -> bool:
    """Merge ``fields`` into job ``job_id``'s record while it is active; False when it has ended or was replaced."""
    record = read(token)
    if record is None or record.get("id") != job_id or record["state"] not in ACTIVE:
        return False
    write(token, {**record, **fields})
    return True


#: The job kind of a request without one: a decomposition (Run). Others: :data:`components.jobs.worker.KINDS`.
DECOMPOSE = "decompose"
#: Session entries a decomposition replaces (cleared before it starts).
DECOMPOSITION_ENTRIES = ("results", "results-partial")


def kind_of(record_or_request: dict) -> str:
    """The job kind a record or request names (a decomposition when it names none)."""
    request = record_or_request.get("request", record_or_request)
    kind = request.get("kind") if isinstance(request, dict) else None
    return kind if isinstance(kind, str) else DECOMPOSE


def new_record(request: dict, backend: str) -> dict:
    """A queued job for ``request``, with this server's limits."""
    return {"id": secrets.token_hex(8), "kind": kind_of(request), "state": "queued", "fraction": 0.0,
            "text": "queued: waiting for a free worker", "message": None, "status": None,
            "request": request, "backend": backend, "created": time.time(), "started": None,
            "limits": {"timeout_s": config.JOB_TIMEOUT_S, "max_jobs": config.MAX_JOBS, "grace_s": JOB_GRACE_S}}


# -- is a page still watching? ------------------------------------------------------------------

def seen(token: str, job_id: str) -> None:
    """A page has just polled job ``job_id`` (its own entry: the record stays the job's to write)."""
    store.put(token, SEEN, {}, {"job_id": job_id, "at": time.time()})


def last_seen(token: str, record: dict) -> float:
    """When a page last polled this job (its creation counts as the first poll)."""
    stored = store.get(token, SEEN)
    at = stored[1].get("at") if stored is not None and stored[1].get("job_id") == record.get("id") else None
    return max(float(record.get("created") or 0.0), float(at or 0.0))


def page_gone(record: dict, last_poll: float, now: float) -> bool:
    """Whether no page has polled this job for longer than its grace period."""
    grace = (record.get("limits") or {}).get("grace_s")
    return grace is not None and now - last_poll > float(grace)


# -- the queue ---------------------------------------------------------------------------------

def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def queue_text(ahead: int, running: int | None = None) -> str:
    """What a waiting job's status says: its place in the queue (and how many jobs run, where known)."""
    where = "yours is next" if ahead == 0 else f"{_plural(ahead, 'job')} ahead of yours"
    return f"queued: {where}" + ("" if running is None else f" ({_plural(running, 'job')} running)")


def place_in_queue(messages, task_id: str) -> int | None:
    """How many tasks wait ahead of ``task_id`` in a Celery queue list on Redis; None when it is not there.

    Kombu's Redis transport pushes messages on the left and workers take them
    from the right, so the oldest is last. A task a worker has already taken
    (about to start) is no longer in the list.
    """
    ids = []
    for raw in messages:
        try:
            ids.append(json.loads(raw)["headers"]["id"])
        except (ValueError, KeyError, TypeError):
            ids.append(None)
    return len(ids) - 1 - ids.index(task_id) if task_id in ids else None


def _celery_queue_text(record: dict) -> str | None:
    """A queued Celery job's place, read from the broker's queue (None when the broker cannot say)."""
    try:
        messages = _redis().lrange(config.make_celery_app().conf.task_default_queue, 0, -1)
    except Exception:  # the place is a courtesy: a broker hiccup leaves the record's own text
        return None
    ahead = place_in_queue(messages, record["task_id"])
    return queue_text(ahead or 0) if ahead is not None else "queued: yours is next (waiting for a free worker)"


# -- one job per session -----------------------------------------------------------------------

@contextmanager
def _session_lock(token: str):
    """Serialise Run and Cancel of one session across the server's processes (and machines, on Redis)."""
    session_id = sessions.verify(token)
    if config.REDIS_URL:
        with _redis().lock(f"gppnmf:job-lock:{session_id}", timeout=30, blocking_timeout=30):
            yield
        return
    folder = config.private_directory(config.cache_root() / "job-locks")
    fd = os.open(folder / f"{int(session_id[:8], 16) % _N_LOCKS}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def start(token: str, request: dict, clear: tuple[str, ...] | None = None) -> dict:
    """Queue ``request`` as this session's job and launch it; the new record.

    ``request["kind"]`` names the job's kind (default a decomposition,
    :data:`DECOMPOSE`). ``clear``: the session entries the job will write,
    deleted first (the page must never show a previous job's output as this
    one's); default :data:`DECOMPOSITION_ENTRIES` for a decomposition, none
    for other kinds (they never touch the results).
    Raises JobRefused while the session's previous job is queued or running.
    """
    with _session_lock(token):
        current = _settle(token)
        if current is not None and current["state"] in ACTIVE:
            raise JobRefused("this page's session already has a job queued or running: wait for it or press Cancel")
        if clear is None:
            clear = DECOMPOSITION_ENTRIES if kind_of(request) == DECOMPOSE else ()
        for entry in clear:
            store.delete(token, entry)
        if config.REDIS_URL:
            record = new_record(request, "celery")
            _launch_celery(token, record)
        else:
            record = new_record(request, "embedded")
            _launch_embedded(token, record)
    return record


# -- launching ---------------------------------------------------------------------------------

def _secret() -> str:
    """The key sessions are signed with, for a job process that must verify its token."""
    import flask

    if flask.has_app_context() and flask.current_app.secret_key:
        return str(flask.current_app.secret_key)
    return os.environ.get("SECRET_KEY", "")


def _launch_embedded(token: str, record: dict) -> None:
    """A fresh interpreter in its own process group; it starts once the record names it (stdin handshake)."""
    env = {**os.environ, "SECRET_KEY": _secret()}
    process = subprocess.Popen(WORKER_ARGV, cwd=REPO, env=env,
                               stdin=subprocess.PIPE, start_new_session=True, close_fds=True)
    threading.Thread(target=process.wait, name=f"reap-job-{process.pid}", daemon=True).start()
    try:
        record.update(pid=process.pid, pgid=process.pid, pid_created=psutil.Process(process.pid).create_time())
        write(token, record)
        process.stdin.write(json.dumps({"token": token, "job_id": record["id"]}).encode())
    except BaseException:
        _kill_group(process.pid)
        raise
    finally:
        process.stdin.close()


def _launch_celery(token: str, record: dict) -> None:
    """A Celery task whose id the record holds before the task is sent."""
    record["task_id"] = str(uuid.uuid4())
    write(token, record)
    try:
        config.make_celery_app().send_task(JOB_TASK, args=[token, record["id"]], task_id=record["task_id"])
    except BaseException:
        write(token, {**record, "state": "error", "status": "not started",
                      "message": "the job could not be queued (the job service is unreachable); try again later"})
        raise


def _redis():
    import redis

    global _redis_client
    if _redis_client is None:
        _redis_client = redis.Redis.from_url(config.REDIS_URL)
    return _redis_client


_redis_client = None


# -- is it still there? ------------------------------------------------------------------------

def _process(record: dict) -> psutil.Process | None:
    """The job's supervisor process if it is still the one the record names and not a zombie."""
    try:
        process = psutil.Process(record["pid"])
        if abs(process.create_time() - record["pid_created"]) > 0.01 or process.status() == psutil.STATUS_ZOMBIE:
            return None
    except (psutil.Error, KeyError, TypeError):
        return None
    return process


def _alive(record: dict) -> bool:
    """Whether the job's process (or Celery task) can still write its record."""
    started, limit = record.get("started"), record["limits"]["timeout_s"]
    if started is not None and time.time() > started + limit + LOST_AFTER_LIMIT_S:
        return False  # a running job always ends within its limit: this one's machine or worker is gone
    if record["backend"] == "embedded":
        return _process(record) is not None
    state = config.make_celery_app().AsyncResult(record["task_id"]).state
    return state not in ("SUCCESS", "FAILURE", "REVOKED")


def status(token: str) -> dict | None:
    """This session's job record; a job whose process is gone while it says queued/running becomes "lost".

    A job queued on Celery says its place in the broker's queue (in the copy returned, not in the record).
    """
    record = read(token)
    if record is None or record["state"] not in ACTIVE or _alive(record):
        if record is not None and record["state"] == "queued" and record["backend"] == "celery":
            place = _celery_queue_text(record)  # shown, never written: the record is the job's to write
            record = record if place is None else {**record, "text": place}
        return record
    with _session_lock(token):  # a Cancel under way kills the process first: let it write "cancelled"
        return _settle(token)


def _settle(token: str) -> dict | None:
    """The record, marked "lost" if it still says queued/running with its process gone (hold the session lock)."""
    record = read(token)
    if record is not None and record["state"] in ACTIVE and not _alive(record):
        record = {**record, "state": "lost", "status": "failed", "message": LOST_MESSAGE}
        write(token, record)
    return record


# -- cancelling --------------------------------------------------------------------------------

def _kill_group(pgid: int, how: signal.Signals = signal.SIGKILL) -> None:
    try:
        os.killpg(pgid, how)
    except (ProcessLookupError, PermissionError):
        pass


#: Seconds a cancelled embedded job may take to kill and reap its computation before it is SIGKILLed.
CANCEL_GRACE_S = 3.0


def _kill(record: dict) -> None:
    """Stop the job's processes before its record says "cancelled".

    Embedded: SIGTERM to its process group (the job process kills and reaps
    its computation and exits; its slot's lock goes with it), SIGKILL after
    :data:`CANCEL_GRACE_S`. Celery: the job process sees the record change
    within half a second and kills its computation; the revoke keeps a task
    that is still queued from ever starting.
    """
    if record["backend"] == "embedded":
        process = _process(record)
        if process is None:
            return
        _kill_group(record["pgid"], signal.SIGTERM)
        _, alive = psutil.wait_procs([process], timeout=CANCEL_GRACE_S)
        if alive:
            _kill_group(record["pgid"])
            psutil.wait_procs(alive, timeout=CANCEL_GRACE_S)
        return
    config.make_celery_app().control.revoke(record["task_id"])


def cancel(token: str) -> dict | None:
    """Cancel this session's queued or running job; its record (None when there is none)."""
    with _session_lock(token):
        record = read(token)
        if record is None or record["state"] not in ACTIVE:
            return record
        if record["backend"] == "embedded":
            _kill(record)
        latest = read(token)
        if latest is None or latest["id"] != record["id"] or latest["state"] not in ACTIVE:
            return latest  # it ended on its own just before
        record = {**latest, "state": "cancelled", "status": "cancelled",
                  "message": "Cancelled. Press Run to start again."}
        write(token, record)
        if record["backend"] == "celery":
            _kill(record)  # after the record says so: that is what the job process watches
    return record
