"""``ReadOptions``: how an uploaded file is to be read, validated on construction."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

__all__ = ["ReadOptions", "ORIENTATIONS", "KINDS", "PHASES"]

ORIENTATIONS = ("auto", "features_first", "observations_first")
KINDS = ("auto", "spectra", "fid")
PHASES = ("auto", "none")


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
        Keep only this chemical-shift window (either order). None keeps the
        full range (for NIfTI-MRS too: no default crop is applied).
    line_broadening_hz : float
        Exponential apodization ``exp(-pi * LB * t)`` of FIDs, in Hz (>= 0).
    phase : {"auto", "none"}
        Zero-order phase correction of FIDs: ``"auto"`` turns each voxel's
        spectrum so that the integral of its real part over the kept window is
        largest; ``"none"`` keeps the phase as acquired.
    reference_ppm : float or None
        Chemical shift of the receiver (centre) frequency. None: from the
        header (key ``ChemicalShiftReference``) if present, else 0.0, i.e. the
        centre of the spectrum is 0 ppm (PCr for the usual 31P set-up).
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

    def __post_init__(self) -> None:
        for name, allowed in (("orientation", ORIENTATIONS), ("kind", KINDS), ("phase", PHASES)):
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"ReadOptions.{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
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
