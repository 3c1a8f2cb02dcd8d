"""Per-session server-side storage: arrays and metadata under (session id, name), with expiry.

Big arrays never travel through callback arguments or ``dcc.Store``: a job
writes its results here and the page only holds the session id. Arrays are
stored as ``.npz`` bytes and metadata as JSON, and read back with
``allow_pickle=False``.
"""

from __future__ import annotations

import io
import json
import re
import uuid

import numpy as np

from .services import DEFAULT_TIMEOUT, cache

_SESSION_ID = re.compile(r"^[0-9a-f]{32}$")


def new_session_id() -> str:
    return uuid.uuid4().hex


def _key(session_id: str, name: str) -> str:
    if not isinstance(session_id, str) or not _SESSION_ID.match(session_id):
        raise ValueError("invalid session id; reload the page")
    return f"session:{session_id}:{name}"


def put(session_id: str, name: str, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Store ``arrays`` and JSON-able ``meta`` for this session under ``name``."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    cache.set(_key(session_id, name), {"npz": buffer.getvalue(), "meta": json.dumps(meta)}, timeout=DEFAULT_TIMEOUT)


def get(session_id: str, name: str) -> tuple[dict[str, np.ndarray], dict] | None:
    """What :func:`put` stored, or None when nothing (or an expired entry) is there."""
    entry = cache.get(_key(session_id, name))
    if entry is None:
        return None
    with np.load(io.BytesIO(entry["npz"]), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return arrays, json.loads(entry["meta"])


def delete(session_id: str, name: str) -> None:
    cache.delete(_key(session_id, name))
