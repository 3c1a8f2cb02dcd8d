"""``ReadOptions``: how an uploaded file is to be read, validated on construction."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

__all__ = ["ReadOptions", "ORIENTATIONS", "KINDS", "PHASES", "DYNAMICS", "OTHER_DIMS", "AXIS_UNITS", "CHOICES",
           "NUCLEI"]

ORIENTATIONS = ("auto", "features_first", "observations_first")
KINDS = ("auto", "spectra", "fid")
PHASES = ("auto", "zero_order", "none")
DYNAMICS = ("average", "keep")
OTHER_DIMS = ("average", "keep", "index")
AXIS_UNITS = ("auto", "ppm", "Hz")
AUTO_OR_NONE = ("auto", "none")
CONJUGATE = ("auto", "yes", "no")
#: Nuclei whose conventions (default reference, metabolite range, peak labels) the readers know.
NUCLEI = ("1H", "13C", "31P", "19F", "2H", "23Na")
#: Every option that takes one of a few words, with the words it takes.
CHOICES = {"orientation": ORIENTATIONS, "kind": KINDS, "phase": PHASES, "dynamics": DYNAMICS,
           "other_dims": OTHER_DIMS, "axis_unit": AXIS_UNITS, "align": AUTO_OR_NONE, "crop": AUTO_OR_NONE,
           "conjugate": CONJUGATE, "water": ("keep", "remove")}


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))


@dataclass(frozen=True)
class ReadOptions:
    """How :func:`~gppnmf_core.io.read_dataset` reads a file. Every field has a default.

    Attributes
    ----------
    orientation : {"auto", "features_first", "observations_first"}
        For plain arrays: ``"features_first"`` means the stored array is K×L
        (first axis = features, e.g. spectral points), ``"observations_first"``
        that it is L×K (one row per voxel; transposed on reading). ``"auto"``
        decides from ``grid_shape``, a feature axis in the file or the layout of
        arrays with more than 2 dimensions, and otherwise keeps the array as
        stored (K×L) and says in the description that this was a guess.
        NIfTI-MRS files are unambiguous; the option is ignored there.
    grid_shape : tuple of int or None
        Spatial grid of the observations, e.g. ``(8, 8, 8)``; its product must
        equal the number of observations L. Observations are flattened in C
        order (first grid axis slowest).
    kind : {"auto", "spectra", "fid"}
        For plain arrays: whether the feature axis holds real spectra or
        complex free induction decays that go through the FID → spectrum
        pipeline. ``"auto"`` takes complex data as FIDs and real data as spectra.
    ppm_range : (float, float) or None
        Keep only this chemical-shift window (either order). None: see ``crop``.
    crop : {"auto", "none"}
        Without ``ppm_range``: ``"auto"`` crops spectra made from FIDs to the
        nucleus's metabolite range (1H about 0.2–4.3 ppm, 31P −20…+10 ppm, 13C
        150–190 ppm); ``"none"`` keeps the full spectral width.
    line_broadening_hz : float
        Exponential apodization ``exp(-pi * LB * t)`` of FIDs, in Hz (>= 0).
    phase : {"auto", "zero_order", "none"}
        Phase correction of spectra made from FIDs: ``"auto"``, a common zero-
        and first-order phase for the data set plus a per-spectrum zero-order
        refinement that never inverts a spectrum; ``"zero_order"``, the common
        zero-order phase only; ``"none"``, the phase as acquired.
    align : {"auto", "none"}
        Per-spectrum frequency alignment (B0 drift) to the data set's strongest
        peak before the decomposition; ``"none"`` leaves line positions as acquired.
    conjugate : {"auto", "yes", "no"}
        Whether stored FIDs are conjugated before the FFT. ``"auto"`` follows
        the NIfTI-MRS convention (conjugate) for NIfTI-MRS and converted vendor
        files; ``"no"`` is for FIDs stored in the opposite (mirrored) sense.
    dynamics : {"average", "keep"}
        NIfTI-MRS ``DIM_DYN`` (repeats, time points): averaged into one
        spectrum, or kept as observations (a time series).
    other_dims : {"average", "keep", "index"}
        Other NIfTI-MRS higher dimensions (``DIM_EDIT``, ``DIM_INDIRECT_n``,
        ``DIM_USER_n``, ``DIM_MEAS`` …): averaged, kept as observations, or one
        index (``other_index``) selected.
    other_index : int
        The index taken along other higher dimensions when ``other_dims="index"``.
    variable : str or None
        For .mat and .npz files holding several arrays: the name of the data
        array. None: the usual names ('X', 'data', 'spectra', 'fid') or the only
        numeric array; otherwise the file is refused with a list of its arrays.
    axis_variable : str or None
        For .mat and .npz files: the name of the array holding the feature axis
        (e.g. 'ppm' or 'f'). None: 'ppm' if present.
    axis_unit : {"auto", "ppm", "Hz"}
        Unit of the feature axis read from a file; a Hz axis is converted to ppm
        with ``spectrometer_mhz`` and ``reference_ppm`` when both are known.
    nucleus : str or None
        The observed nucleus ("1H", "13C", "31P", …) where the file does not say
        (plain arrays, LCModel .RAW); None: from the file, else unknown.
    water : {"keep", "remove"}
        ``"remove"`` subtracts a residual water line (4.2–5.2 ppm) from the FIDs
        by HLSVD before the FFT (:mod:`gppnmf_core.io.water`).
    reference_ppm : float or None
        Chemical shift of the receiver (centre) frequency. None: from the file
        (NIfTI-MRS ``SpecFreqChemShift`` + ``RxOffset``), else the nucleus's
        default of the NIfTI-MRS tools (1H 4.65 ppm), else 0.0.
    spectrometer_mhz : float or None
        Spectrometer frequency of the observed nucleus in MHz (25.85 for 31P at
        1.5 T). Overrides the header's; needed for a ppm axis of plain FID arrays.
    dwell_time_s : float or None
        Time between FID points in seconds (1 / spectral width). Overrides the
        file's; needed for a frequency axis of plain FID arrays.
    """

    orientation: str = "auto"
    grid_shape: tuple[int, ...] | None = None
    kind: str = "auto"
    ppm_range: tuple[float, float] | None = None
    line_broadening_hz: float = 0.0
    phase: str = "auto"
    reference_ppm: float | None = None
    spectrometer_mhz: float | None = None
    dwell_time_s: float | None = None
    crop: str = "auto"
    align: str = "auto"
    conjugate: str = "auto"
    dynamics: str = "average"
    other_dims: str = "average"
    other_index: int = 0
    variable: str | None = None
    axis_variable: str | None = None
    axis_unit: str = "auto"
    nucleus: str | None = None
    water: str = "keep"

    def __post_init__(self) -> None:
        for name, allowed in CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"ReadOptions.{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
        if not isinstance(self.other_index, numbers.Integral) or isinstance(self.other_index, bool) \
                or self.other_index < 0:
            raise ValueError(f"ReadOptions.other_index must be a whole number >= 0, got {self.other_index!r}")
        for name in ("variable", "axis_variable"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, str) and len(value) <= 127
                                          and 1 <= len(value.split(".")) <= 2
                                          and all(part.isidentifier() for part in value.split("."))):
                raise ValueError(f"ReadOptions.{name} must be a variable name (letters, digits, _), or "
                                 f"struct.field one level deep, or None; got {value!r}")
        if self.nucleus is not None and self.nucleus not in NUCLEI:
            raise ValueError(f"ReadOptions.nucleus must be one of {', '.join(NUCLEI)} or None, got {self.nucleus!r}")
        object.__setattr__(self, "grid_shape", _grid_shape(self.grid_shape))
        object.__setattr__(self, "ppm_range", _ppm_range(self.ppm_range))
        lb = self.line_broadening_hz
        if not _is_real(lb) or lb < 0:
            raise ValueError(f"ReadOptions.line_broadening_hz must be a finite number >= 0 Hz, got {lb!r}")
        object.__setattr__(self, "line_broadening_hz", float(lb))
        if self.reference_ppm is not None:
            if not _is_real(self.reference_ppm):
                raise ValueError(f"ReadOptions.reference_ppm must be a finite number (ppm) or None, "
                                 f"got {self.reference_ppm!r}")
            object.__setattr__(self, "reference_ppm", float(self.reference_ppm))
        for name, unit in (("spectrometer_mhz", "MHz"), ("dwell_time_s", "s")):
            value = getattr(self, name)
            if value is None:
                continue
            if not _is_real(value) or value <= 0:
                raise ValueError(f"ReadOptions.{name} must be a positive number ({unit}) or None, got {value!r}")
            object.__setattr__(self, name, float(value))


def _grid_shape(value) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        items = tuple(value)
    except TypeError:
        raise ValueError(f"ReadOptions.grid_shape must be a tuple of positive integers, got {value!r}") from None
    ok = items and all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1 for n in items)
    if not ok:
        raise ValueError(f"ReadOptions.grid_shape must be a non-empty tuple of positive integers, got {value!r}")
    return tuple(int(n) for n in items)


def _ppm_range(value) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise ValueError(f"ReadOptions.ppm_range must be a pair (low, high) of numbers or None, "
                         f"got {value!r}") from None
    if not (_is_real(lo) and _is_real(hi)) or lo == hi:
        raise ValueError(f"ReadOptions.ppm_range must be two different finite numbers, got {value!r}")
    return (float(min(lo, hi)), float(max(lo, hi)))
