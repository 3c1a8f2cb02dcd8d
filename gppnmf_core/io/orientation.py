"""Which axis of a plain array holds the features: turning any array into X of shape (K, L).

Rules for ``orientation="auto"``:

* more than 2 dimensions: if the last axis is the longest it holds the
  features and the leading axes are the grid (the NIfTI layout, e.g.
  (8, 8, 8, 512)); if the first axis is the longest it holds the features
  and the others are the grid (e.g. (512, 8, 8, 8)); otherwise the layout is
  ambiguous and reading stops with advice;
* 2 dimensions with a grid shape (option or file): the axis whose length is
  the number of grid points holds the observations;
* 2 dimensions with a feature axis in the file (e.g. an npz 'ppm'): the axis
  of that length holds the features;
* otherwise the array is taken as stored, K×L (features first), and the
  description says that this was a guess.

Grid points are flattened in C order (first grid axis slowest), so that
``H[m].reshape(grid)`` is a map.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..dataset import Axis, Grid
from .array_metadata import ArrayMeta
from .errors import DataFormatError
from .limits import format_shape, prod
from .options import ReadOptions

__all__ = ["Arranged", "arrange", "grid_names"]


@dataclass
class Arranged:
    """A plain array laid out as features × observations.

    Attributes
    ----------
    X : ndarray of shape (K, L)
        Real or complex, not yet converted.
    cols : Axis or Grid
        The observations.
    notes : list of str
        Sentences for the description (what was decided, what was guessed).
    """

    X: np.ndarray
    cols: Axis | Grid
    notes: list[str] = field(default_factory=list)


def grid_names(ndim: int) -> tuple[str, ...]:
    """Axis names of a grid: x, y, z for up to 3 axes, else "axis 1", "axis 2", ..."""
    if ndim <= 3:
        return ("x", "y", "z")[:ndim]
    return tuple(f"axis {i + 1}" for i in range(ndim))


def _grid_mismatch(filename: str, grid, L: int, source: str) -> DataFormatError:
    return DataFormatError(
        f"{filename}: grid_shape {tuple(grid)} ({source}) has {prod(grid)} points, but the data have "
        f"L = {L} observations; the product of grid_shape must equal L"
    )


def _many_dims(array: np.ndarray, options: ReadOptions, grid, grid_source: str, filename: str, notes: list[str]):
    shape = array.shape
    longest = max(shape)
    if options.orientation == "features_first":
        features_last = False
    elif options.orientation == "observations_first":
        features_last = True
    elif shape[-1] == longest:
        features_last = True
        notes.append(f"The last axis ({shape[-1]} points, the longest) was taken as the features and the leading "
                     f"axes {format_shape(shape[:-1])} as the grid, as in NIfTI; choose 'features first' if not.")
    elif shape[0] == longest:
        features_last = False
        notes.append(f"The first axis ({shape[0]} points, the longest) was taken as the features and the other "
                     f"axes {format_shape(shape[1:])} as the grid; choose 'observations first' if not.")
    else:
        raise DataFormatError(
            f"{filename}: cannot tell which axis of the {format_shape(shape)} array holds the features (neither the "
            f"first nor the last axis is the longest); choose 'features first' or 'observations first', or save "
            f"the array with the features as its first or last axis"
        )
    own_grid = shape[:-1] if features_last else shape[1:]
    K = shape[-1] if features_last else shape[0]
    L = prod(own_grid)
    if grid is None:
        grid = own_grid
    elif prod(grid) != L:
        raise _grid_mismatch(filename, grid, L, grid_source)
    X = array.reshape(L, K).T if features_last else array.reshape(K, L)
    return X, tuple(int(n) for n in grid)


def _two_dims(array: np.ndarray, meta: ArrayMeta, options: ReadOptions, grid, grid_source: str, filename: str,
              notes: list[str]):
    rows, cols = array.shape
    orientation = options.orientation
    if orientation == "auto":
        if grid is not None:
            n = prod(grid)
            if cols == n:
                orientation = "features_first"
                if rows == n:
                    notes.append("Both axes match the grid; the columns were taken as the observations.")
            elif rows == n:
                orientation = "observations_first"
            else:
                raise DataFormatError(
                    f"{filename}: grid_shape {tuple(grid)} ({grid_source}) has {n} points, but the array is "
                    f"{rows}×{cols}; one of its axes must have that many observations"
                )
        elif meta.axis_values is not None:
            K = meta.axis_values.size
            if rows == K:
                orientation = "features_first"
            elif cols == K:
                orientation = "observations_first"
            else:
                raise DataFormatError(f"{filename}: the feature axis has {K} values but the array is {rows}×{cols}")
        else:
            orientation = "features_first"
            notes.append(
                f"Orientation guessed: the array was taken as stored, {rows} features (rows) × {cols} observations "
                f"(columns). If each row is one spectrum or observation, choose 'observations first'."
            )
    X = array if orientation == "features_first" else array.T
    if orientation == "observations_first":
        notes.append(f"The array was transposed: {rows} observations (rows) × {cols} features (columns) as stored.")
    if grid is not None and prod(grid) != X.shape[1]:
        raise _grid_mismatch(filename, grid, X.shape[1], grid_source)
    return X, grid


def arrange(array: np.ndarray, meta: ArrayMeta, options: ReadOptions, filename: str) -> Arranged:
    """Lay out ``array`` as X of shape (K, L) and describe its observations.

    Parameters
    ----------
    array : ndarray of any shape
        The data as stored in the file.
    meta : ArrayMeta
        What the file says besides the numbers (grid, feature axis).
    options : ReadOptions
        The user's choices (orientation, grid_shape override the file).
    filename : str
        Name used in messages.

    Returns
    -------
    Arranged
    """
    notes: list[str] = []
    if array.ndim == 0:
        raise DataFormatError(f"{filename} holds a single number; need a features × observations array")
    if array.ndim == 1:
        raise DataFormatError(
            f"{filename} holds a one-dimensional array ({array.shape[0]} values): need features × observations, "
            f"e.g. a K×L array with one spectrum per column"
        )
    grid, grid_source = meta.grid_shape, "from the file"
    if options.grid_shape is not None:
        if grid is not None and tuple(grid) != options.grid_shape:
            notes.append(f"The grid {format_shape(options.grid_shape)} from the options replaced the file's "
                         f"{format_shape(grid)}.")
        grid, grid_source = options.grid_shape, "from the options"
    if array.ndim > 2:
        X, grid = _many_dims(array, options, grid, grid_source, filename, notes)
    else:
        X, grid = _two_dims(array, meta, options, grid, grid_source, filename, notes)
    K, L = X.shape
    if K < 2:
        raise DataFormatError(
            f"{filename}: the data have only {K} feature (a single row per observation); at least 2 features are "
            f"needed" + ("; if each row is one spectrum, choose 'observations first'" if L >= 2 else "")
        )
    if L < 2 and X.dtype.kind != "c":  # one FID is kept: like one NIfTI-MRS voxel, it may be averaged or shown
        raise DataFormatError(
            f"{filename}: the data have only {L} observation (a single spectrum); GPP-NMF needs at least 2 "
            f"observations (voxels, pixels, times ...)"
            + ("; if each row is one observation, choose 'observations first'" if K >= 2 else "")
        )
    if meta.axis_values is not None and meta.axis_values.size != K:
        raise DataFormatError(f"{filename}: the feature axis has {meta.axis_values.size} values but the data have "
                              f"K = {K} features")
    if grid is not None:
        cols = Grid(tuple(int(n) for n in grid), names=grid_names(len(grid)), unit="voxel")
    else:
        cols = Axis(np.arange(L), label="observation index")
    return Arranged(X=X, cols=cols, notes=notes)
