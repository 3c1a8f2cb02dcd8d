"""Server-side services chosen from the environment: the cache and the background-job manager.

Embedded defaults need no external service: flask-caching on ``FileSystemCache``
and Dash background callbacks on ``DiskcacheManager``, both in explicit
directories under ``GPPNMF_CACHE_DIR`` (default: ``<system temp>/gppnmf-studio``)
so every process of one server shares them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import diskcache
from dash import DiskcacheManager
from flask_caching import Cache

#: The app's cache; bound to the Flask server by :func:`init_cache`.
cache = Cache()

#: Seconds an entry (a session's results, a memoized prior draw) lives.
DEFAULT_TIMEOUT = int(os.environ.get("GPPNMF_CACHE_TIMEOUT", "3600"))


def cache_root() -> Path:
    root = Path(os.environ.get("GPPNMF_CACHE_DIR", Path(tempfile.gettempdir()) / "gppnmf-studio"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def init_cache(server) -> Cache:
    """Bind :data:`cache` to ``server`` (FileSystemCache in an explicit directory)."""
    cache.init_app(server, config={
        "CACHE_TYPE": "FileSystemCache",
        "CACHE_DIR": str(cache_root() / "flask-cache"),
        "CACHE_DEFAULT_TIMEOUT": DEFAULT_TIMEOUT,
        "CACHE_THRESHOLD": 2000,
    })
    return cache


def background_manager() -> DiskcacheManager:
    """Background callbacks in worker processes, coordinated through an explicit diskcache."""
    return DiskcacheManager(diskcache.Cache(str(cache_root() / "jobs")), expire=DEFAULT_TIMEOUT)
