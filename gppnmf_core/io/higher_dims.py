"""NIfTI-MRS dimensions 5-7: coils combined, repeats averaged or kept, other dimensions averaged, kept or indexed.

The result is an array of FIDs, time first, then L observations (voxels times
the kept dimensions, in C order with the voxels slowest), then A acquisitions
per observation still to be averaged (after frequency and phase alignment, in
:mod:`.fid`), and the axis or grid of the L observations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..dataset import Axis, Grid
from .coils import COIL_METHOD, combine_coils
from .errors import DataFormatError
from .nifti_mrs import orientation_names
from .options import ReadOptions
from .orientation import grid_names

__all__ = ["Reduced", "reduce_higher_dims"]


@dataclass
class Reduced:
    """FIDs with dimensions 5-7 dealt with.

    Attributes
    ----------
    fids : complex ndarray of shape (n_t, ..., A...)
        Time first, then the axes of the L observations, then those of the
        acquisitions to be averaged (product ``n_average``); a view of the
        file's bytes when no coils were combined.
    n_average : int
        Acquisitions per observation still to be averaged (the trailing axes).
    cols : Axis or Grid
        The L observations.
    notes : list of str
        What was done, for the description.
    """

    fids: np.ndarray
    cols: Axis | Grid
    n_average: int = 1
    notes: list[str] = field(default_factory=list)


def _values(entry, n: int) -> np.ndarray | None:
    """Numbers of a dim_N_header entry (a list of n numbers, or {start, increment}), else None."""
    if isinstance(entry, dict) and "Value" in entry:
        entry = entry["Value"]
    if isinstance(entry, dict) and "start" in entry and "increment" in entry:
        start, step = entry["start"], entry["increment"]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (start, step)):
            return start + step * np.arange(n, dtype=np.float64)
        return None
    if isinstance(entry, list) and len(entry) == n:
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in entry):
            return np.asarray(entry, dtype=np.float64)
    return None


def _kept_axis(tag: str, n: int, header: dict | None, repetition_time: float | None) -> tuple[Axis, str]:
    """Coordinates of a kept dimension: a time-like dim_N_header entry, else TR for repeats, else the index."""
    for key, entry in (header or {}).items():
        values = _values(entry, n)
        if values is not None and "time" in str(key).lower() and np.all(np.diff(values) > 0):
            return Axis(values, label="time", unit="s"), f"time from dim_N_header '{key}' (s)"
    if tag == "DIM_DYN" and repetition_time is not None:
        return (Axis(repetition_time * np.arange(n, dtype=np.float64), label="time", unit="s"),
                f"time of each repeat from RepetitionTime {repetition_time:g} s")
    label = "repeat" if tag == "DIM_DYN" else tag.lower().removeprefix("dim_")
    return Axis(np.arange(n, dtype=np.float64), label=label), f"{label} index"


def reduce_higher_dims(data: np.ndarray, tags, headers, options: ReadOptions, filename: str,
                       repetition_time: float | None = None, affine: np.ndarray | None = None) -> Reduced:
    """Deal with dimensions 5-7 of NIfTI-MRS FIDs as ``options`` ask.

    ``DIM_COIL`` is combined (:func:`.coils.combine_coils`); ``DIM_DYN`` is
    averaged or kept (``options.dynamics``); every other tagged dimension is
    averaged, kept or indexed (``options.other_dims``, ``options.other_index``).

    Parameters
    ----------
    data : complex ndarray of shape (n_t, nx, ny, nz, n5, n6, n7)
        Stored FIDs (may be a view of the file's bytes).
    tags : sequence of 3 str
        Tags of dimensions 5-7.
    headers : sequence of 3 (dict or None)
        Their ``dim_N_header`` objects.
    options : ReadOptions
    filename : str
        Name used in messages.
    repetition_time : float or None
        Seconds between repeats, for the time axis of kept ``DIM_DYN``.
    affine : ndarray of shape (4, 4) or None
        The file's voxel-to-scanner affine: the voxel grid carries it (also
        when kept dimensions follow the voxel axes) and its axes are named
        from it; None: named x, y, z.

    Returns
    -------
    Reduced
    """
    notes: list[str] = []
    n_t, grid = data.shape[0], tuple(data.shape[1:4])
    coil, average, keep = [], [], []
    index: dict[int, int] = {}
    for i, tag in enumerate(tags):
        axis, n, dim = 4 + i, data.shape[4 + i], 5 + i
        if n == 1:
            continue
        if tag == "DIM_COIL":
            coil.append(axis)
            notes.append(f"Dimension {dim} (DIM_COIL, {n} coils) combined, {COIL_METHOD}.")
        elif tag == "DIM_DYN":
            (keep if options.dynamics == "keep" else average).append(axis)
            notes.append(f"Dimension {dim} (DIM_DYN, {n} repeats) "
                         + ("kept as observations." if options.dynamics == "keep" else "averaged."))
        elif options.other_dims == "index":
            if options.other_index >= n:
                raise DataFormatError(f"{filename}: other_index {options.other_index} is beyond dimension {dim} "
                                      f"({tag}, {n} entries, indices 0 to {n - 1}); choose a smaller index")
            index[axis] = options.other_index
            notes.append(f"Dimension {dim} ({tag}, {n} entries): entry {options.other_index} selected.")
        else:
            (keep if options.other_dims == "keep" else average).append(axis)
            notes.append(f"Dimension {dim} ({tag}, {n} entries) "
                         + ("kept as observations." if options.other_dims == "keep" else "averaged."))
    if len(coil) > 1:
        raise DataFormatError(f"{filename}: {len(coil)} dimensions are tagged DIM_COIL; NIfTI-MRS allows one")
    selector = tuple(index.get(a, slice(None)) for a in range(7))
    view = data[selector]
    remaining = [a for a in range(7) if a not in index]
    position = {a: remaining.index(a) for a in remaining}
    voxel_axes = [position[a] for a in (1, 2, 3)]
    order = [0, *voxel_axes, *(position[a] for a in keep), *(position[a] for a in average),
             *(position[a] for a in coil)]
    order += [p for p in range(view.ndim) if p not in order]  # the singleton higher dims
    view = view.transpose(order)
    n_vox = int(np.prod(grid))
    kept_shape = tuple(data.shape[a] for a in keep)
    n_keep = int(np.prod(kept_shape, dtype=np.int64))
    n_avg = int(np.prod([data.shape[a] for a in average], dtype=np.int64))
    n_coil = data.shape[coil[0]] if coil else 1
    if coil:
        shaped = view.reshape(n_t, n_vox, n_keep * n_avg, n_coil)
        fids = combine_coils(shaped).reshape(n_t, n_vox * n_keep, n_avg)
    else:  # a view still: (t, x, y, z, kept..., averaged...), singletons dropped without a copy
        fids = view.reshape(view.shape[:4 + len(keep) + len(average)])

    spatial = orientation_names(affine) or grid_names(len(grid))
    if not keep:
        cols: Axis | Grid = Grid(grid, names=spatial, unit="voxel", affine=affine)
    elif n_vox == 1 and len(keep) == 1:
        tag = tags[keep[0] - 4]
        cols, how = _kept_axis(tag, kept_shape[0], headers[keep[0] - 4], repetition_time)
        notes.append(f"The observations are the {kept_shape[0]} entries of {tag}: {how}.")
    else:
        names = tuple(tags[a - 4].lower().removeprefix("dim_") for a in keep)
        if n_vox > 1:
            cols = Grid(grid + kept_shape, names=spatial + names, unit="voxel", affine=affine)
        else:
            cols = Grid(kept_shape, names=names, unit="index")
        notes.append(f"The observations form a {'×'.join(map(str, cols.shape))} grid ({', '.join(cols.names)}).")
    return Reduced(fids=fids, cols=cols, n_average=n_avg, notes=notes)
