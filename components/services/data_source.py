"""Where a session's data set comes from, by key.

* ``"builtin:<name>"`` — a built-in demo, generated deterministically and shared
  by everyone (no user data).
* ``"upload:<digest>"`` — a file a user uploaded, read by the core and stored
  server-side in the uploading session only. The key names no session: it is
  looked up in the caller's own session, so it means nothing anywhere else
  (and can be shown or exported without giving anything away).
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import numpy as np

import gppnmf_core as gp
from components.services import store

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
        return {"grid": list(where.shape), "names": list(where.names), "unit": where.unit}
    return {"label": where.label, "unit": where.unit, "reversed": where.reversed}


def _axis_from_json(spec: dict, values: np.ndarray):
    if "grid" in spec:
        return gp.Grid(tuple(spec["grid"]), names=tuple(spec["names"]), unit=spec["unit"])
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


def _load_upload(digest: str, session_id: str) -> gp.Dataset:
    stored = store.get(session_id, f"dataset-{digest}")
    if stored is None:
        raise ValueError("the uploaded data set has expired; upload the file again")
    arrays, meta = stored
    return gp.Dataset(name="upload", title=meta["title"], X=arrays["X"],
                      rows=_axis_from_json(meta["rows"], arrays["rows"]),
                      cols=_axis_from_json(meta["cols"], arrays["cols"]), truth=None,
                      noise_var=meta["noise_var"], rank=meta["rank"], description=meta["description"])


def is_upload(key) -> bool:
    return isinstance(key, str) and key.startswith(UPLOAD_PREFIX)


def load_dataset(key: str, session_id: str | None = None) -> gp.Dataset:
    """The data set behind ``key``, uploads from ``session_id``'s own store.

    ValueError for an unknown key, an upload without a session, or one this session does not hold.
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
