"""Where a session's data set comes from, by key.

* ``"builtin:<name>"`` — a built-in demo, generated deterministically and shared
  by everyone (no user data).
* ``"upload:<digest>"`` — a file a user uploaded, read by the core and stored
  server-side in the uploading session only. The key names no session: it is
  looked up in the caller's own session, so it means nothing anywhere else
  (and can be shown or exported without giving anything away).

:func:`load_dataset` is the one way in, and the ownership check lives there:
an upload is looked up under the caller's verified session id, in the store
and in this process's cache of decoded uploads alike (keyed by session id and
digest), so a session never gets another's upload. Each upload is decoded once
per process: the cache holds at most ``GPPNMF_UPLOAD_CACHE_ENTRIES`` data sets
(default 8) and ``GPPNMF_UPLOAD_CACHE_MB`` MiB of arrays (default 512), least
recently used first out. It never outlives the store: every call checks the
store's index of the session's entries (one directory listing or one Redis
HGETALL, no data read) and drops the cached data set of an entry that is gone
or expired; a cached upload in use is read from the store again at most every
:data:`RENEW_EVERY_S` seconds, which renews the entry's expiry as every read
did before (its bytes are read, not decoded). The data sets are read-only
(core records), so one object can serve every callback.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections import OrderedDict
from functools import lru_cache

import numpy as np

import gppnmf_core as gp
from components.services import config, sessions, store

BUILTIN_PREFIX = "builtin:"
UPLOAD_PREFIX = "upload:"
_DIGEST = re.compile(r"^[0-9a-f]{24}\Z")


def builtin_key(name: str) -> str:
    return BUILTIN_PREFIX + name


@lru_cache(maxsize=len(gp.datasets.NAMES))
def _builtin(name: str) -> gp.Dataset:
    return gp.datasets.load(name, random_state=0)


def _axis_to_json(where) -> dict:
    if isinstance(where, gp.Grid):
        affine = None if getattr(where, "affine", None) is None else np.asarray(where.affine).tolist()
        return {"grid": list(where.shape), "names": list(where.names), "unit": where.unit, "affine": affine}
    return {"label": where.label, "unit": where.unit, "reversed": where.reversed}


def _axis_from_json(spec: dict, values: np.ndarray):
    if "grid" in spec:
        affine = spec.get("affine")  # absent from entries stored before grids had one
        return gp.Grid(tuple(spec["grid"]), names=tuple(spec["names"]), unit=spec["unit"],
                       affine=None if affine is None else np.asarray(affine, dtype=np.float64))
    return gp.Axis(values, label=spec["label"], unit=spec["unit"], reversed=spec["reversed"])


def put_upload(session_id: str, dataset: gp.Dataset, digest: str) -> str:
    """Store an uploaded data set for this session; returns its key (StoreError when it cannot be kept)."""
    arrays = {"X": dataset.X}
    for part in ("rows", "cols"):
        where = getattr(dataset, part)
        arrays[part] = where.values if isinstance(where, gp.Axis) else np.empty(0)
    meta = {"rows": _axis_to_json(dataset.rows), "cols": _axis_to_json(dataset.cols), "title": dataset.title,
            "description": dataset.description, "noise_var": dataset.noise_var, "rank": dataset.rank}
    store.put(session_id, f"dataset-{digest}", arrays, meta)
    return f"{UPLOAD_PREFIX}{digest}"


def digest_of(data: bytes, options_key: str) -> str:
    """Content hash of a file together with the options it was read with."""
    return hashlib.sha256(data + options_key.encode()).hexdigest()[:24]


def _decode_upload(digest: str, token: str) -> gp.Dataset | None:
    """Read and decode an upload from the store (None when the session does not hold it)."""
    stored = store.get(token, f"dataset-{digest}")
    if stored is None:
        return None
    arrays, meta = stored
    return gp.Dataset(name="upload", title=meta["title"], X=arrays["X"],
                      rows=_axis_from_json(meta["rows"], arrays["rows"]),
                      cols=_axis_from_json(meta["cols"], arrays["cols"]), truth=None,
                      noise_var=meta["noise_var"], rank=meta["rank"], description=meta["description"])


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    try:
        return int(float(value)) if value else default
    except ValueError:
        raise ValueError(f"environment variable {name} must be a number, got {value!r}") from None


#: Decoded uploads this process keeps, and the bytes of their arrays at most.
UPLOAD_CACHE_ENTRIES = max(0, _env_int("GPPNMF_UPLOAD_CACHE_ENTRIES", 8))
UPLOAD_CACHE_BYTES = max(0, _env_int("GPPNMF_UPLOAD_CACHE_MB", 512) * 2**20)
#: A cached upload in use is read from the store again (renewing its expiry) at most this often.
RENEW_EVERY_S = min(60.0, config.DEFAULT_TIMEOUT / 4)
NOT_HERE = ("this uploaded data set is not in this page's session (it has expired or was removed, or belongs to "
            "another session); upload the file again")


def _nbytes(dataset: gp.Dataset) -> int:
    total = dataset.X.nbytes
    for where in (dataset.rows, dataset.cols):
        total += where.values.nbytes if isinstance(where, gp.Axis) else 0
    return total


class _UploadCache:
    """Decoded uploads of this process by (session id, digest): LRU, bounded in entries and bytes, thread-safe."""

    def __init__(self, max_entries: int, max_bytes: int):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._items: OrderedDict[tuple[str, str], list] = OrderedDict()  # key -> [dataset, nbytes, size, renewed]
        self._lock = threading.Lock()
        self._decoding: dict[tuple[str, str], threading.Lock] = {}
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key) -> bool:
        return key in self._items

    def get(self, key, size: int):
        """The cached item of ``key`` when it was cached from a store entry of ``size`` bytes (else dropped)."""
        with self._lock:
            item = self._items.get(key)
            if item is not None and item[2] != size:
                self._drop(key)
                item = None
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key, dataset: gp.Dataset, size: int) -> None:
        nbytes = _nbytes(dataset)
        if nbytes > self.max_bytes or self.max_entries < 1:
            return
        with self._lock:
            self._drop(key)
            self._items[key] = [dataset, nbytes, size, time.monotonic()]
            self.bytes += nbytes
            while len(self._items) > self.max_entries or self.bytes > self.max_bytes:
                self._drop(next(iter(self._items)))

    def discard(self, key) -> None:
        with self._lock:
            self._drop(key)

    def _drop(self, key) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self.bytes -= item[1]

    def decoding(self, key) -> threading.Lock:
        """The lock that lets one thread decode ``key`` while others wait for its result."""
        with self._lock:
            return self._decoding.setdefault(key, threading.Lock())

    def done_decoding(self, key) -> None:
        with self._lock:
            self._decoding.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0


_cache = _UploadCache(UPLOAD_CACHE_ENTRIES, UPLOAD_CACHE_BYTES)


def _store_entry(session_id: str, name: str) -> int | None:
    """The stored size of a live entry of this session (None: gone or expired), from the store's index only."""
    try:
        entry = store.backend().entries(session_id).get(name)
    except OSError as exc:
        raise store.StoreError(f"the server could not read stored data ({exc.__class__.__name__}: {exc})") from None
    if entry is None or time.time() - entry[1] > config.DEFAULT_TIMEOUT:
        return None
    return entry[0]


def _load_upload(digest: str, token: str) -> gp.Dataset:
    """The upload ``digest`` of the session behind ``token``: from this process's cache while its store entry lives."""
    session_id = sessions.verify(token)  # SessionError (a ValueError) for a token this server did not issue
    key, name = (session_id, digest), f"dataset-{digest}"
    size = _store_entry(session_id, name)
    if size is None:
        _cache.discard(key)
        raise ValueError(NOT_HERE)
    item = _cache.get(key, size)
    if item is None:
        with _cache.decoding(key):  # one thread decodes; the others wait for it and take its result
            item = _cache.get(key, size)
            if item is None:
                try:
                    dataset = _decode_upload(digest, token)
                    if dataset is None:
                        raise ValueError(NOT_HERE)
                    _cache.put(key, dataset, size)
                finally:
                    _cache.done_decoding(key)
                return dataset
    if time.monotonic() - item[3] > RENEW_EVERY_S:  # renew the store entry's expiry (a read, no decoding)
        try:
            renewed = store.backend().read(session_id, name, config.DEFAULT_TIMEOUT)
        except OSError as exc:
            raise store.StoreError(f"the server could not read stored data ({exc.__class__.__name__}: {exc})") \
                from None
        if renewed is None:
            _cache.discard(key)
            raise ValueError(NOT_HERE)
        item[3] = time.monotonic()
    return item[0]


def is_upload(key) -> bool:
    return isinstance(key, str) and key.startswith(UPLOAD_PREFIX)


def load_dataset(key: str, session_id: str | None = None) -> gp.Dataset:
    """The data set behind ``key``, uploads from ``session_id``'s own store (a signed session token).

    Every caller goes through here: uploads are checked against the caller's session, and decoded
    once per process (see the module's notes). The data set is read-only and may be shared.

    ValueError for an unknown key, an upload without a session, or one this session does not hold
    (expired, removed, or another session's); SessionError (a ValueError) for a forged token.
    """
    if isinstance(key, str) and key.startswith(BUILTIN_PREFIX):
        name = key[len(BUILTIN_PREFIX):]
        if name in gp.datasets.NAMES:
            return _builtin(name)
    if is_upload(key) and _DIGEST.match(key[len(UPLOAD_PREFIX):]):
        if session_id is None:
            raise ValueError("an uploaded data set can only be read in its own session")
        return _load_upload(key[len(UPLOAD_PREFIX):], session_id)  # from the store: no user data kept here
    raise ValueError(f"unknown data set {str(key)[:80]!r}")
