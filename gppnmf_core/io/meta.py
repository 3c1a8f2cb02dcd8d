"""Metadata that travels with a plain array: a feature axis, a grid, acquisition parameters."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import DataFormatError

__all__ = ["ArrayMeta", "DATA_NAMES", "META_NAMES", "meta_from_arrays"]

#: Names of the data array in .npz and .mat files, in order of preference.
DATA_NAMES = ("X", "data", "spectra", "fid")

#: Optional companions of the data array in .npz and .mat files.
META_NAMES = ("ppm", "grid_shape", "spectrometer_mhz", "dwell_time", "reference_ppm")


@dataclass
class ArrayMeta:
    """What a file says about its data array besides the numbers.

    Attributes
    ----------
    axis_values : ndarray of shape (K,) or None
        Coordinates of the features (e.g. ppm of each spectral point).
    axis_label, axis_unit : str
        What the coordinates are; ``("chemical shift", "ppm")`` for a ppm axis.
    grid_shape : tuple of int or None
        Spatial grid of the observations.
    spectrometer_mhz, dwell_time, reference_ppm : float or None
        Acquisition parameters for FIDs.
    notes : list of str
        Sentences for the data set's description.
    """

    axis_values: np.ndarray | None = None
    axis_label: str = "chemical shift"
    axis_unit: str = "ppm"
    grid_shape: tuple[int, ...] | None = None
    spectrometer_mhz: float | None = None
    dwell_time: float | None = None
    reference_ppm: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def is_ppm(self) -> bool:
        return self.axis_values is not None and self.axis_unit == "ppm"


def _real_vector(value, where: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise DataFormatError(f"{where} must hold real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64).reshape(-1)
    if not np.all(np.isfinite(arr)):
        raise DataFormatError(f"{where} contains NaN or Inf")
    return arr


def _positive_scalar(value, where: str) -> float:
    arr = _real_vector(value, where)
    if arr.size != 1 or not arr[0] > 0:
        raise DataFormatError(f"{where} must be one positive number, got {arr.tolist()[:5]}")
    return float(arr[0])


def meta_from_arrays(arrays: dict, filename: str, kind: str = "member") -> ArrayMeta:
    """Check and collect the optional metadata arrays of an .npz or .mat file.

    Parameters
    ----------
    arrays : dict of str to array-like
        Any of :data:`META_NAMES`.
    filename : str
        Name used in messages.
    kind : str
        ``"member"`` (npz) or ``"variable"`` (mat), used in messages.
    """
    meta = ArrayMeta()
    if "ppm" in arrays:
        ppm = _real_vector(arrays["ppm"], f"{filename}: {kind} 'ppm'")
        meta.axis_values = ppm
    if "grid_shape" in arrays:
        where = f"{filename}: {kind} 'grid_shape'"
        shape = _real_vector(arrays["grid_shape"], where)
        if shape.size == 0 or shape.size > 8 or np.any(shape < 1) or np.any(shape != np.round(shape)):
            raise DataFormatError(f"{where} must list 1 to 8 positive whole numbers, got {shape.tolist()[:9]}")
        meta.grid_shape = tuple(int(n) for n in shape)
    if "spectrometer_mhz" in arrays:
        meta.spectrometer_mhz = _positive_scalar(arrays["spectrometer_mhz"], f"{filename}: {kind} 'spectrometer_mhz'")
    if "dwell_time" in arrays:
        meta.dwell_time = _positive_scalar(arrays["dwell_time"], f"{filename}: {kind} 'dwell_time' (seconds)")
    if "reference_ppm" in arrays:
        ref = _real_vector(arrays["reference_ppm"], f"{filename}: {kind} 'reference_ppm'")
        if ref.size != 1:
            raise DataFormatError(f"{filename}: {kind} 'reference_ppm' must be one number")
        meta.reference_ppm = float(ref[0])
    return meta
