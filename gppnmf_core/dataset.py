"""The ``Dataset`` record: a data matrix, a description of each of its axes, and its truth.

One orientation everywhere: ``X`` has shape (K, L); the K rows are features
(spectral points, hours, pixels) and the L columns observations (voxels, days,
frames). ``rows`` describes the K features, ``cols`` the L observations; either
is an :class:`Axis` (1-D, with coordinate values) or a :class:`Grid` (points of
a regular grid flattened in C order, the first axis varying slowest).

The records are frozen and hold their arrays read-only (built-in data sets are
cached and shared between sessions): an array passed in that owns its memory
is marked read-only, any other (a view) is copied first. :class:`Dataset` and
:class:`Truth` compare by identity (``==`` is ``is``) and hash by identity;
:class:`Axis` and :class:`Grid` are small values and compare by value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._records import freeze_fields


@dataclass(frozen=True, eq=False)
class Axis:
    """A 1-D axis with coordinate values.

    Equal to another Axis with equal values (``np.array_equal``), label, unit
    and direction, and hashable (its values are read-only).

    Attributes
    ----------
    values : ndarray of shape (n,)
        Coordinate of each point (ppm, hours, frame index ...); read-only.
    label : str
        What the axis is, e.g. ``"chemical shift"``.
    unit : str
        Unit of ``values``, e.g. ``"ppm"``; empty for plain indices.
    reversed : bool
        Whether plots draw it high-to-low, as NMR spectra are.
    """

    values: np.ndarray
    label: str = "index"
    unit: str = ""
    reversed: bool = False

    def __post_init__(self):
        freeze_fields(self, "values")

    def _key(self) -> tuple:
        return (self.label, self.unit, self.reversed)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Axis):
            return NotImplemented
        return self._key() == other._key() and np.array_equal(self.values, other.values)

    def __hash__(self) -> int:
        values = np.asarray(self.values)
        return hash((self._key(), values.shape, values.tobytes()))

    @property
    def size(self) -> int:
        return int(np.size(self.values))

    @property
    def spacing(self) -> float:
        """Median distance between neighbouring points (1 for a single point)."""
        if self.size < 2:
            return 1.0
        return float(np.median(np.abs(np.diff(self.values))))


@dataclass(frozen=True, eq=False)
class Grid:
    """Points of a regular grid, flattened in C order (the first axis varies slowest).

    Equal to another Grid with equal shape, names, unit and affine (both None,
    or ``np.array_equal``), and hashable (the affine is read-only).

    Attributes
    ----------
    shape : tuple of int
        Points along each grid axis, e.g. ``(8, 8, 8)``.
    names : tuple of str
        One name per grid axis, e.g. ``("left-right", "anterior-posterior", "inferior-superior")``.
    unit : str
        Unit of one grid step, e.g. ``"voxel"`` or ``"pixel"``.
    affine : ndarray of shape (4, 4) or None
        Voxel index to scanner coordinates (mm, RAS+ as nibabel uses), when
        known (e.g. from a NIfTI header): ``affine @ (i, j, k, 1)`` for the
        first three grid axes (an index missing on a grid of fewer axes is 0;
        further axes, such as kept repeats, are not spatial). None when the
        position is unknown: an orientation is then never to be guessed.
        Float64, read-only, finite, invertible, last row ``0 0 0 1``.
    """

    shape: tuple[int, ...]
    names: tuple[str, ...] = ()
    unit: str = "voxel"
    affine: np.ndarray | None = None

    def __post_init__(self):
        if self.affine is not None:
            object.__setattr__(self, "affine", check_affine(self.affine, "Grid affine"))

    def _key(self) -> tuple:
        return (tuple(self.shape), tuple(self.names), self.unit)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Grid):
            return NotImplemented
        if self._key() != other._key() or (self.affine is None) != (other.affine is None):
            return False
        return self.affine is None or bool(np.array_equal(self.affine, other.affine))

    def __hash__(self) -> int:
        return hash((self._key(), None if self.affine is None else self.affine.tobytes()))

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def ndim(self) -> int:
        return len(self.shape)


def check_affine(affine, name: str = "affine") -> np.ndarray:
    """``affine`` as a read-only float64 (4, 4) array of its own; ValueError naming ``name`` when it is not a
    finite, invertible voxel-to-scanner affine (last row ``0 0 0 1``)."""
    try:
        array = np.array(affine, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 4 x 4 array of numbers ({exc})") from None
    if array.shape != (4, 4):
        raise ValueError(f"{name} must have shape (4, 4), got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite; it holds NaN or infinite values")
    if not np.array_equal(array[3], [0.0, 0.0, 0.0, 1.0]):
        raise ValueError(f"{name} must have the last row 0 0 0 1 (an affine map), got {array[3].tolist()}")
    singular = np.linalg.svd(array[:3, :3], compute_uv=False)
    if not (singular[0] > 0 and singular[-1] > singular[0] * 1e-12):
        raise ValueError(f"{name} must be invertible (its 3 x 3 part is singular: singular values "
                         f"{singular.tolist()})")
    array += 0.0  # -0.0 becomes 0.0: equal affines hash alike
    array.setflags(write=False)
    return array


AxisLike = Axis | Grid


@dataclass(frozen=True, eq=False)
class Truth:
    """The noise-free model a synthetic data set was drawn from.

    Compared and hashed by identity; the arrays are read-only.

    Attributes
    ----------
    D : ndarray of shape (K, M)
    H : ndarray of shape (M, L)
    X0 : ndarray of shape (K, L)
        The noise-free data ``D @ H``.
    names : tuple of str
        A name for each component, e.g. ``("brain", "muscle")``.
    """

    D: np.ndarray
    H: np.ndarray
    X0: np.ndarray
    names: tuple[str, ...] = ()

    def __post_init__(self):
        freeze_fields(self, "D", "H", "X0")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A data matrix with its axes, its truth when known, and suggested settings.

    Compared and hashed by identity (``==`` is ``is``); ``X`` is read-only
    (take ``dataset.X.copy()`` to change the data).

    Attributes
    ----------
    name : str
        Short identifier, e.g. ``"paper_toy"``.
    title : str
        Human-readable title.
    X : ndarray of shape (K, L)
        The data (may contain negative values from noise); read-only.
    rows : Axis or Grid
        Description of the K features.
    cols : Axis or Grid
        Description of the L observations.
    truth : Truth or None
        The generating factors, when known.
    noise_var : float
        Suggested (or true) noise variance sigma^2.
    rank : int
        Suggested number of components.
    description : str
        What the data set shows and what to try with it.
    presets : dict of str to Preset
        Named prior settings, e.g. ``"correct"`` and ``"incorrect"`` for the toy example.
    """

    name: str
    title: str
    X: np.ndarray
    rows: AxisLike
    cols: AxisLike
    truth: Truth | None
    noise_var: float
    rank: int
    description: str = ""
    presets: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        freeze_fields(self, "X")

    @property
    def shape(self) -> tuple[int, int]:
        return self.X.shape
