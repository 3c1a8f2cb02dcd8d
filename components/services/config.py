"""Server-side services chosen from the environment: the storage directory, the job service, limits.

Embedded defaults need no external service: the session store, job slots and
locks live in explicit directories under ``GPPNMF_CACHE_DIR`` (default
``<system temp>/gppnmf-studio-<uid>``), so every process of one server shares
them, and each job runs in a fresh process the web server starts
(:mod:`components.jobs.runner`). That directory is the server's alone: it is
created with mode 0700 and refused when another user owns it or others may
write to it (what is stored there is trusted when read back).

With ``REDIS_URL`` set, jobs run on Celery workers (Redis broker and result
backend, ``celery -A app:celery_app worker``) and the session store lives on
Redis, so any number of gunicorn workers and machines share them. Give Redis a
password (``redis://:<password>@host:6379/0``).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def _env_number(name: str, default: float) -> float:
    value = os.environ.get(name)
    try:
        return float(value) if value not in (None, "") else default
    except ValueError:
        raise ValueError(f"environment variable {name} must be a number, got {value!r}") from None


#: Seconds an entry (a session's uploads, results, job state) lives after its last use.
DEFAULT_TIMEOUT = int(_env_number("GPPNMF_CACHE_TIMEOUT", 3600))
#: Redis for scale-out; None runs everything embedded.
REDIS_URL = os.environ.get("REDIS_URL") or None
#: A job running longer than this many seconds is stopped and reported.
JOB_TIMEOUT_S = _env_number("GPPNMF_JOB_TIMEOUT_S", 600)
#: Jobs running at once on the embedded default (more wait for a slot).
MAX_JOBS = max(1, int(_env_number("GPPNMF_MAX_JOBS", 2)))
#: Largest data matrix (K × L entries) and rank one job may fit.
MAX_JOB_ENTRIES = int(_env_number("GPPNMF_MAX_JOB_ENTRIES", 64e6))
MAX_RANK = int(_env_number("GPPNMF_MAX_RANK", 20))
#: Bytes one session may keep (uploads, data sets, results); its own oldest entries make room first.
SESSION_QUOTA_BYTES = int(_env_number("GPPNMF_SESSION_QUOTA_MB", 256) * 2**20)
#: Bytes all sessions together may keep; beyond it new entries are refused (nobody else's are evicted).
STORE_QUOTA_BYTES = int(_env_number("GPPNMF_STORE_QUOTA_MB", 8192) * 2**20)
#: Seconds (wall clock and CPU) the reader of one uploaded file may take.
READ_TIMEOUT_S = _env_number("GPPNMF_READ_TIMEOUT_S", 60)
#: Uploads one session may send per minute.
UPLOADS_PER_MINUTE = int(_env_number("GPPNMF_UPLOADS_PER_MINUTE", 12))


class UnsafeDirectoryError(RuntimeError):
    """The storage directory could be written by someone other than the server's user."""


def private_directory(path: Path) -> Path:
    """Create ``path`` with mode 0700, or check that an existing one is a directory of ours that only we may use.

    Raises UnsafeDirectoryError otherwise: files there are read back as trusted
    data, so a directory another local user can write to is a way in.
    """
    path = Path(path)
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeDirectoryError(f"{path} is not a directory (a link or a file); remove it or set "
                                   "GPPNMF_CACHE_DIR to another place")
    if info.st_uid != os.geteuid():
        raise UnsafeDirectoryError(f"{path} belongs to user id {info.st_uid}, not to this server's user "
                                   f"({os.geteuid()}); remove it or set GPPNMF_CACHE_DIR to another place")
    if info.st_mode & 0o077:
        raise UnsafeDirectoryError(f"{path} can be used by other users (mode {stat.S_IMODE(info.st_mode):o}); "
                                   "run `chmod 700` on it or set GPPNMF_CACHE_DIR to another place")
    return path


def cache_root() -> Path:
    """The server's private storage directory (``GPPNMF_CACHE_DIR``), checked each time it is asked for."""
    default = Path(tempfile.gettempdir()) / f"gppnmf-studio-{os.geteuid()}"
    return private_directory(Path(os.environ.get("GPPNMF_CACHE_DIR") or default))


_celery_app = None


def make_celery_app():
    """This process's Celery app for ``REDIS_URL``, with the job task, the candidate task of Suggest settings
    (:data:`components.jobs.candidate_task.CANDIDATE_TASK`) and ``gppnmf batch``'s task registered.

    None without REDIS_URL. The batch task (:data:`gppnmf_core.batch.BATCH_TASK`) is the library's own
    (:func:`gppnmf_core.batch.register_tasks`): ``gppnmf batch`` sends files to these same workers.
    """
    global _celery_app
    if not REDIS_URL:
        return None
    if _celery_app is None:
        from celery import Celery

        from components.jobs.candidate_task import CANDIDATE_TASK, run_candidate
        from components.jobs.runner import JOB_TASK
        from components.jobs.worker import run_job
        from gppnmf_core.batch import register_tasks as register_batch_tasks

        celery_app = Celery("gppnmf_studio", broker=REDIS_URL, backend=REDIS_URL)
        celery_app.conf.update(
            task_time_limit=int(JOB_TIMEOUT_S) + 60,  # a hard stop behind the job's own, enforced time limit
            task_track_started=True,  # the web server tells a running task from a lost one
            worker_prefetch_multiplier=1,  # a busy worker does not hoard queued jobs
            result_expires=DEFAULT_TIMEOUT,
            broker_connection_retry_on_startup=True,
            # JSON only, never pickle: a message or a result in Redis is data, not code to run.
            task_serializer="json", result_serializer="json", accept_content=["json"],
        )
        celery_app.task(name=JOB_TASK)(run_job)
        celery_app.task(name=CANDIDATE_TASK)(run_candidate)  # one candidate of Suggest settings (JSON in and out)
        register_batch_tasks(celery_app)
        _celery_app = celery_app
    return _celery_app
