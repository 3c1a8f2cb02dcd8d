"""Where a session's data set comes from, by key.

* ``"builtin:<name>"`` — a built-in demo, generated deterministically and shared
  by everyone (no user data).
* ``"upload:<session id>:<digest>"`` — a file a user uploaded, read by the core
  and stored server-side in that session only. The key is a capability: only
  the session that uploaded the file knows its (random, 128-bit) session id,
  and callbacks that know the caller's session check that it matches.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

import gppnmf_core as gp

from . import store

BUILTIN_PREFIX = "builtin:"
UPLOAD_PREFIX = "upload:"


def builtin_key(name: str) -> str:
    return BUILTIN_PREFIX + name


@lru_cache(maxsize=len(gp.datasets.NAMES))
def _builtin(name: str) -> gp.Dataset:
    return gp.datasets.load(name, random_state=0)


def _axis_to_json(where) -> dict:
    if isinstance(where, gp.Grid):
        return {"grid": list(where.shape), "names": list(where.names), "unit": where.unit}
    return {"label": where.label, "unit": where.unit, "reversed": where.reversed}


def _axis_from_json(spec: dict, values: np.ndarray):
    if "grid" in spec:
        return gp.Grid(tuple(spec["grid"]), names=tuple(spec["names"]), unit=spec["unit"])
    return gp.Axis(values, label=spec["label"], unit=spec["unit"], reversed=spec["reversed"])


def put_upload(session_id: str, dataset: gp.Dataset, digest: str) -> str:
    """Store an uploaded data set for this session; returns its key."""
    arrays = {"X": dataset.X}
    for part in ("rows", "cols"):
        where = getattr(dataset, part)
        arrays[part] = where.values if isinstance(where, gp.Axis) else np.empty(0)
    meta = {"rows": _axis_to_json(dataset.rows), "cols": _axis_to_json(dataset.cols), "title": dataset.title,
            "description": dataset.description, "noise_var": dataset.noise_var, "rank": dataset.rank}
    store.put(session_id, f"dataset:{digest}", arrays, meta)
    return f"{UPLOAD_PREFIX}{session_id}:{digest}"


def digest_of(data: bytes, options_key: str) -> str:
    """Content hash of a file together with the options it was read with."""
    return hashlib.sha256(data + options_key.encode()).hexdigest()[:24]


def _load_upload(key: str) -> gp.Dataset:
    _, session_id, digest = key.split(":", 2)
    stored = store.get(session_id, f"dataset:{digest}")
    if stored is None:
        raise ValueError("the uploaded data set has expired; upload the file again")
    arrays, meta = stored
    return gp.Dataset(name="upload", title=meta["title"], X=arrays["X"],
                      rows=_axis_from_json(meta["rows"], arrays["rows"]),
                      cols=_axis_from_json(meta["cols"], arrays["cols"]), truth=None,
                      noise_var=meta["noise_var"], rank=meta["rank"], description=meta["description"])


def owner(key: str) -> str | None:
    """The session an upload key belongs to (None for built-ins)."""
    return key.split(":", 2)[1] if isinstance(key, str) and key.startswith(UPLOAD_PREFIX) else None


def load_dataset(key: str, session_id: str | None = None) -> gp.Dataset:
    """The data set behind ``key``; ValueError for an unknown key or another session's upload."""
    if isinstance(key, str) and key.startswith(BUILTIN_PREFIX):
        name = key[len(BUILTIN_PREFIX):]
        if name in gp.datasets.NAMES:
            return _builtin(name)
    if isinstance(key, str) and key.startswith(UPLOAD_PREFIX) and key.count(":") == 2:
        if session_id is not None and owner(key) != session_id:
            raise ValueError("this data set belongs to another session")
        return _load_upload(key)  # from the session store each time: no user data kept in this process
    raise ValueError(f"unknown data set {key!r}")
