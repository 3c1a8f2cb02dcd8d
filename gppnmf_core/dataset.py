"""The ``Dataset`` record: a data matrix, a description of each of its axes, and its truth.

One orientation everywhere: ``X`` has shape (K, L); the K rows are features
(spectral points, hours, pixels) and the L columns observations (voxels, days,
frames). ``rows`` describes the K features, ``cols`` the L observations; either
is an :class:`Axis` (1-D, with coordinate values) or a :class:`Grid` (points of
a regular grid flattened in C order, the first axis varying slowest).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Axis:
    """A 1-D axis with coordinate values.

    Attributes
    ----------
    values : ndarray of shape (n,)
        Coordinate of each point (ppm, hours, frame index ...).
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

    @property
    def size(self) -> int:
        return int(np.size(self.values))

    @property
    def spacing(self) -> float:
        """Median distance between neighbouring points (1 for a single point)."""
        if self.size < 2:
            return 1.0
        return float(np.median(np.abs(np.diff(self.values))))


@dataclass(frozen=True)
class Grid:
    """Points of a regular grid, flattened in C order (the first axis varies slowest).

    Attributes
    ----------
    shape : tuple of int
        Points along each grid axis, e.g. ``(8, 8, 8)``.
    names : tuple of str
        One name per grid axis, e.g. ``("left-right", "anterior-posterior", "inferior-superior")``.
    unit : str
        Unit of one grid step, e.g. ``"voxel"`` or ``"pixel"``.
    """

    shape: tuple[int, ...]
    names: tuple[str, ...] = ()
    unit: str = "voxel"

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def ndim(self) -> int:
        return len(self.shape)


AxisLike = Axis | Grid


@dataclass(frozen=True)
class Truth:
    """The noise-free model a synthetic data set was drawn from.

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


@dataclass(frozen=True)
class Dataset:
    """A data matrix with its axes, its truth when known, and suggested settings.

    Attributes
    ----------
    name : str
        Short identifier, e.g. ``"paper_toy"``.
    title : str
        Human-readable title.
    X : ndarray of shape (K, L)
        The data (may contain negative values from noise).
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

    @property
    def shape(self) -> tuple[int, int]:
        return self.X.shape
