"""A read data set as plain arrays and JSON, and back: how it crosses a process boundary or goes to storage.

No pickle anywhere: arrays are ``.npy`` members read with ``allow_pickle=False``
and everything else is JSON, checked field by field on the way back, so bytes
from a reader process that may have been subverted by a crafted file cannot
become anything but a plain :class:`~gppnmf_core.dataset.Dataset`.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np

from ..dataset import Axis, Dataset, Grid
from .errors import DataFormatError

__all__ = ["dataset_to_record", "dataset_from_record", "dataset_to_bytes", "dataset_from_bytes"]

_META = "meta.json"


def _axis_to_json(where) -> dict:
    if isinstance(where, Grid):
        return {"grid": [int(n) for n in where.shape], "names": list(where.names), "unit": where.unit,
                "affine": None if where.affine is None else where.affine.tolist()}
    return {"label": where.label, "unit": where.unit, "reversed": bool(where.reversed)}


def _affine_from_json(value) -> np.ndarray | None:
    """A grid's affine from JSON: null, or 4 lists of 4 plain numbers (Grid checks the rest)."""
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 4
            and all(isinstance(row, list) and len(row) == 4 for row in value)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for row in value for v in row)):
        raise ValueError("grid affine is not a 4 x 4 list of numbers")
    return np.array(value, dtype=np.float64)


def _axis_from_json(spec, values: np.ndarray, size: int):
    if not isinstance(spec, dict):
        raise ValueError("axis description is not an object")
    if "grid" in spec:
        shape = tuple(int(n) for n in spec["grid"])
        names = tuple(str(n) for n in spec["names"])
        if int(np.prod(shape)) != size or len(names) not in (0, len(shape)):
            raise ValueError(f"grid {shape} does not match {size} points")
        return Grid(shape, names=names, unit=str(spec["unit"]), affine=_affine_from_json(spec.get("affine")))
    if values.shape != (size,) or values.dtype.kind not in "fiu":
        raise ValueError(f"axis values of shape {values.shape} do not match {size} points")
    return Axis(values.astype(np.float64), label=str(spec["label"]), unit=str(spec["unit"]),
                reversed=bool(spec["reversed"]))


def dataset_to_record(dataset: Dataset) -> tuple[dict[str, np.ndarray], dict]:
    """``(arrays, meta)`` of a data set without truth or presets (an uploaded one)."""
    arrays = {"X": np.asarray(dataset.X, dtype=np.float64)}
    for part in ("rows", "cols"):
        where = getattr(dataset, part)
        arrays[part] = np.asarray(where.values, dtype=np.float64) if isinstance(where, Axis) else np.empty(0)
    meta = {"rows": _axis_to_json(dataset.rows), "cols": _axis_to_json(dataset.cols), "title": dataset.title,
            "name": dataset.name, "description": dataset.description, "noise_var": float(dataset.noise_var),
            "rank": int(dataset.rank)}
    return arrays, meta


def dataset_from_record(arrays: dict[str, np.ndarray], meta: dict) -> Dataset:
    """The data set :func:`dataset_to_record` described; ValueError when anything does not fit."""
    try:
        X = arrays["X"]
        if X.ndim != 2 or X.dtype != np.float64:
            raise ValueError(f"X must be a 2-D float64 array, got {X.dtype} of shape {X.shape}")
        K, L = X.shape
        noise_var, rank = float(meta["noise_var"]), int(meta["rank"])
        if not (np.isfinite(noise_var) and noise_var > 0 and rank >= 1):
            raise ValueError(f"noise_var {noise_var} or rank {rank} out of range")
        return Dataset(name=str(meta.get("name", "upload")), title=str(meta["title"]), X=X,
                       rows=_axis_from_json(meta["rows"], arrays["rows"], K),
                       cols=_axis_from_json(meta["cols"], arrays["cols"], L), truth=None,
                       noise_var=noise_var, rank=rank, description=str(meta["description"]))
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"incomplete data set record ({type(exc).__name__}: {exc})") from None


def dataset_to_bytes(dataset: Dataset) -> bytes:
    """One data set as a zip of ``.npy`` members and ``meta.json``."""
    arrays, meta = dataset_to_record(dataset)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for key, value in arrays.items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, value, allow_pickle=False)
        archive.writestr(_META, json.dumps(meta))
    return buffer.getvalue()


def dataset_from_bytes(blob: bytes, max_bytes: int) -> Dataset:
    """Parse what :func:`dataset_to_bytes` wrote, trusting nothing; DataFormatError when it is not that.

    Parameters
    ----------
    blob : bytes
    max_bytes : int
        Largest total size of the decoded members.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            members = {info.filename: info for info in archive.infolist()}
            if set(members) != {_META, "X.npy", "rows.npy", "cols.npy"}:
                raise ValueError(f"unexpected members {sorted(members)[:6]}")
            if sum(info.file_size for info in members.values()) > max_bytes:
                raise ValueError("larger than the limit")
            meta = json.loads(archive.read(_META))
            arrays = {}
            for key in ("X", "rows", "cols"):
                with archive.open(f"{key}.npy") as f:
                    arrays[key] = np.lib.format.read_array(f, allow_pickle=False)
        return dataset_from_record(arrays, meta)
    except (ValueError, OSError, zipfile.BadZipFile, json.JSONDecodeError, EOFError) as exc:
        raise DataFormatError(f"the reader's output could not be used ({exc})") from None
