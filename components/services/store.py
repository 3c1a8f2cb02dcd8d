"""Per-session server-side storage: arrays and JSON metadata under (session, name), with quotas and expiry.

Big arrays never travel through callback arguments or ``dcc.Store``: a job
writes its results here and the page only holds its session token. An entry is
one zip of ``.npy`` members (read back with ``allow_pickle=False``) plus its
metadata as JSON: nothing stored is ever unpickled.

Fairness: each session may keep :data:`~components.services.SESSION_QUOTA_BYTES`;
when a new entry does not fit, that session's own least recently used entries
make room. All sessions together may keep ``STORE_QUOTA_BYTES``; beyond it a
new entry is refused with a message, and nobody else's data is evicted.
Entries expire ``DEFAULT_TIMEOUT`` seconds after their last use.

Backends: files in the server's private directory (embedded default) or Redis
(``REDIS_URL``). A failed write is raised as :class:`StoreError`, never ignored.
"""

from __future__ import annotations

import io
import json
import re
import time
import zipfile

import numpy as np

from components.services import config, sessions
from components.services.store_backends import FileBackend, RedisBackend

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,80}\Z")
_META = "__meta__.json"
_backend = None


class StoreError(RuntimeError):
    """Storing or reading failed (full, over quota, disk error); the message is meant for the page."""


def backend():
    """The storage backend of this process, chosen from the environment on first use."""
    global _backend
    if _backend is None:
        _backend = RedisBackend(config.REDIS_URL) if config.REDIS_URL else \
            FileBackend(config.private_directory(config.cache_root() / "sessions"))
    return _backend


def new_session_id() -> str:
    """A new signed session token (see :mod:`components.services.sessions`)."""
    return sessions.issue()


def _where(token: str, name: str) -> tuple[str, str]:
    if not _NAME.match(name):
        raise ValueError(f"invalid entry name {name!r}")
    return sessions.verify(token), name


def encode(arrays: dict[str, np.ndarray], meta: dict) -> bytes:
    """One entry as bytes: a zip (fast deflate) of ``<name>.npy`` members and ``__meta__.json``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for key, value in arrays.items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
        archive.writestr(_META, json.dumps(meta))
    return buffer.getvalue()


def decode(blob: bytes) -> tuple[dict[str, np.ndarray], dict]:
    """What :func:`encode` wrote."""
    arrays = {}
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        meta = json.loads(archive.read(_META))
        for member in archive.namelist():
            if member.endswith(".npy"):
                with archive.open(member) as f:
                    arrays[member[:-4]] = np.lib.format.read_array(f, allow_pickle=False)
    return arrays, meta


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def _make_room(session_id: str, name: str, size: int) -> None:
    """Evict this session's own oldest entries until ``size`` more bytes fit its quota; refuse what never fits."""
    quota = config.SESSION_QUOTA_BYTES
    if size > quota:
        raise StoreError(f"this needs {_mib(size)} of storage, more than the {_mib(quota)} one session may keep "
                         "on this server (GPPNMF_SESSION_QUOTA_MB); crop or downsample the data")
    entries = {n: e for n, e in backend().entries(session_id).items() if n != name}
    used = sum(size for size, _ in entries.values())
    for old in sorted(entries, key=lambda n: entries[n][1]):
        if used + size <= quota:
            break
        backend().delete(session_id, old)
        used -= entries[old][0]
    total_limit = config.STORE_QUOTA_BYTES
    if backend().total_bytes() + size > total_limit:
        backend().sweep(config.DEFAULT_TIMEOUT, force=True)
        if backend().total_bytes() + size > total_limit:
            raise StoreError(f"the server's storage for uploads and results is full ({_mib(total_limit)}); "
                             "try again later")


def put(token: str, name: str, arrays: dict[str, np.ndarray], meta: dict) -> int:
    """Store ``arrays`` and JSON-able ``meta`` for this session under ``name``; returns the bytes stored.

    Raises StoreError (over quota, storage full, a disk error) and SessionError (a token this server did
    not issue).
    """
    session_id, name = _where(token, name)
    blob = encode(arrays, meta)
    try:
        backend().sweep(config.DEFAULT_TIMEOUT)
        _make_room(session_id, name, len(blob))
        backend().write(session_id, name, blob, config.DEFAULT_TIMEOUT)
    except OSError as exc:  # disk full, read-only, Redis gone: the caller must say so on the page
        raise StoreError(f"the server could not store this ({exc.__class__.__name__}: {exc}); try again later") \
            from None
    return len(blob)


def get(token: str, name: str) -> tuple[dict[str, np.ndarray], dict] | None:
    """What :func:`put` stored, or None when nothing (or an expired entry) is there."""
    session_id, name = _where(token, name)
    try:
        blob = backend().read(session_id, name, config.DEFAULT_TIMEOUT)
    except OSError as exc:
        raise StoreError(f"the server could not read stored data ({exc.__class__.__name__}: {exc})") from None
    return None if blob is None else decode(blob)


def delete(token: str, name: str) -> None:
    session_id, name = _where(token, name)
    try:
        backend().delete(session_id, name)
    except OSError as exc:
        raise StoreError(f"the server could not delete stored data ({exc})") from None


def usage(token: str) -> int:
    """Bytes this session keeps now."""
    session_id = sessions.verify(token)
    return sum(size for size, _ in backend().entries(session_id).values())


def take_rate_token(token: str, what: str, per_minute: int) -> None:
    """Count one ``what`` (e.g. an upload) for this session; StoreError when over ``per_minute`` in 60 s."""
    name = f"rate-{what}"
    stored = get(token, name)
    now = time.time()
    recent = [t for t in (stored[1]["times"] if stored else []) if now - t < 60.0]
    if len(recent) >= per_minute:
        wait = 60.0 - (now - min(recent))
        raise StoreError(f"too many {what}s from this page ({per_minute} a minute on this server); "
                         f"try again in {wait:.0f} s")
    put(token, name, {}, {"times": [*recent, now]})
