"""Server-side services chosen from the environment: cache, background jobs, limits.

Embedded defaults need no external service: flask-caching on ``FileSystemCache``
and Dash background callbacks on ``DiskcacheManager``, both in explicit
directories under ``GPPNMF_CACHE_DIR`` (default ``<system temp>/gppnmf-studio``)
so every process of one server shares them.

With ``REDIS_URL`` set, jobs run on Celery workers (Redis broker and result
backend, ``celery -A app:celery_app worker``) and the cache and session store
live on Redis, so any number of gunicorn workers and machines share them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flask_caching import Cache


def _env_number(name: str, default: float) -> float:
    value = os.environ.get(name)
    try:
        return float(value) if value not in (None, "") else default
    except ValueError:
        raise ValueError(f"environment variable {name} must be a number, got {value!r}") from None


#: Seconds an entry (a session's uploads and results, a memoized prior draw) lives.
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

#: The app's cache; bound to the Flask server by :func:`init_cache`.
cache = Cache()


def cache_root() -> Path:
    root = Path(os.environ.get("GPPNMF_CACHE_DIR", Path(tempfile.gettempdir()) / "gppnmf-studio"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def init_cache(server) -> Cache:
    """Bind :data:`cache` to ``server``: Redis when configured, else files in an explicit directory."""
    if REDIS_URL:
        config = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": REDIS_URL, "CACHE_KEY_PREFIX": "gppnmf:"}
    else:
        config = {"CACHE_TYPE": "FileSystemCache", "CACHE_DIR": str(cache_root() / "flask-cache"),
                  "CACHE_THRESHOLD": 2000}
    cache.init_app(server, config={**config, "CACHE_DEFAULT_TIMEOUT": DEFAULT_TIMEOUT})
    return cache


def make_celery_app():
    """The Celery app for ``REDIS_URL`` (None without it)."""
    if not REDIS_URL:
        return None
    from celery import Celery

    celery_app = Celery("gppnmf_studio", broker=REDIS_URL, backend=REDIS_URL)
    celery_app.conf.update(
        task_time_limit=int(JOB_TIMEOUT_S) + 60,  # a hard stop behind the job's own timeout
        worker_prefetch_multiplier=1,  # a busy worker does not hoard queued jobs
        result_expires=DEFAULT_TIMEOUT,
        broker_connection_retry_on_startup=True,
    )
    return celery_app


def background_manager(celery_app=None):
    """Celery workers when a Celery app is given, else worker processes coordinated through a diskcache."""
    if celery_app is not None:
        from dash import CeleryManager

        return CeleryManager(celery_app, expire=DEFAULT_TIMEOUT)
    import diskcache
    from dash import DiskcacheManager

    return DiskcacheManager(diskcache.Cache(str(cache_root() / "jobs")), expire=DEFAULT_TIMEOUT)
