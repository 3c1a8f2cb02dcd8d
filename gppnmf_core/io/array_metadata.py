"""Metadata that travels with a plain array: a feature axis, a grid, acquisition parameters."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import DataFormatError

__all__ = ["ArrayMeta", "DATA_NAMES", "META_NAMES", "HZ_NAMES", "meta_from_arrays", "choose_data", "list_candidates",
           "axis_unit_of"]

#: Names of the data array in .npz and .mat files, in order of preference.
DATA_NAMES = ("X", "data", "spectra", "fid")

#: Optional companions of the data array in .npz and .mat files.
META_NAMES = ("ppm", "grid_shape", "spectrometer_mhz", "dwell_time", "reference_ppm")

#: Names of an axis variable taken to be in Hz when ``axis_unit`` is "auto" (compared in lower case).
HZ_NAMES = ("f", "freq", "freqs", "frequency", "frequencies", "hz", "f_hz", "freq_hz", "faxis", "f_axis")


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
    axis_name : str or None
        The variable or member the axis came from, when it was not 'ppm'.
    spectrometer_mhz, dwell_time, reference_ppm : float or None
        Acquisition parameters for FIDs (and, for a Hz axis, its conversion to ppm).
    notes : list of str
        Sentences for the data set's description.
    """

    axis_values: np.ndarray | None = None
    axis_label: str = "chemical shift"
    axis_unit: str = "ppm"
    axis_name: str | None = None
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


def axis_unit_of(name: str, axis_unit: str = "auto") -> tuple[str, str, str | None]:
    """The label and unit of an axis variable, and a note when the unit was guessed from its name.

    Parameters
    ----------
    name : str
        The axis variable's name (``"ppm"``, ``"f"``, ``"s.freq"`` ...).
    axis_unit : {"auto", "ppm", "Hz"}
        The unit the options give; "auto" decides from the name.

    Returns
    -------
    label, unit, note : str, str, str or None
    """
    if axis_unit == "ppm":
        return "chemical shift", "ppm", None
    if axis_unit == "Hz":
        return "frequency", "Hz", None
    short = name.rsplit(".", 1)[-1].lower()
    if short == "ppm" or short.startswith("ppm") or short.endswith("ppm"):
        return "chemical shift", "ppm", None
    if short in HZ_NAMES:
        return "frequency", "Hz", (f"The axis '{name}' was taken to be in Hz from its name; set the axis unit "
                                   f"if it is not.")
    return name, "", (f"The unit of the axis '{name}' is unknown, so it is shown as stored; set the axis unit "
                      f"(ppm or Hz) to use it as a spectral axis.")


def meta_from_arrays(arrays: dict, filename: str, kind: str = "member", axis_name: str | None = None,
                     axis_unit: str = "auto") -> ArrayMeta:
    """Check and collect the optional metadata arrays of an .npz or .mat file.

    Parameters
    ----------
    arrays : dict of str to array-like
        Any of :data:`META_NAMES`, and the axis variable ``axis_name``.
    filename : str
        Name used in messages.
    kind : str
        ``"member"`` (npz) or ``"variable"`` (mat), used in messages.
    axis_name : str, optional
        The array holding the feature axis (default 'ppm').
    axis_unit : {"auto", "ppm", "Hz"}
        Its unit; "auto" decides from its name (:func:`axis_unit_of`).
    """
    meta = ArrayMeta()
    axis_name = axis_name or "ppm"
    if axis_name in arrays:
        meta.axis_values = _real_vector(arrays[axis_name], f"{filename}: {kind} '{axis_name}'")
        meta.axis_label, meta.axis_unit, note = axis_unit_of(axis_name, axis_unit)
        if axis_name != "ppm":
            meta.axis_name = axis_name
            meta.notes.append(f"Feature axis from {kind} '{axis_name}' ({meta.axis_values.size} values).")
        if note:
            meta.notes.append(note)
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


def _shape_text(shape) -> str:
    return " × ".join(str(int(n)) for n in shape) if len(shape) else "scalar"


def list_candidates(arrays: list[tuple[str, tuple, str]]) -> str:
    """``"spectra_dynamic (2048 × 64, double), f (1 × 2048, double)"``: the arrays of a file, for messages."""
    return ", ".join(f"{name} ({_shape_text(shape)}, {kind})" for name, shape, kind in arrays)


def choose_data(arrays: list[tuple[str, tuple, str]], filename: str, kind: str, variable: str | None = None,
                axis_name: str | None = None) -> str | None:
    """The name of the data array of an .npz or .mat file.

    Parameters
    ----------
    arrays : list of (name, shape, type)
        The numeric arrays the file holds (MAT struct fields as ``struct.field``).
    filename : str
        Name used in messages.
    kind : str
        ``"member"`` (npz) or ``"variable"`` (mat).
    variable : str, optional
        The name chosen in the options; it must be one of ``arrays``.
    axis_name : str, optional
        The axis array chosen in the options; never taken as the data.

    Returns
    -------
    str or None
        ``variable`` if given; else the first of :data:`DATA_NAMES` present; else
        the only array with more than one element that is not metadata or the axis;
        None when no array could be the data (the caller says why).

    Raises
    ------
    DataFormatError
        When ``variable`` is not in the file, or when several arrays could be
        the data: the message lists them all (name, shape, type).
    """
    names = [name for name, _, _ in arrays]
    listed = list_candidates(arrays) or "none"
    if variable is not None:
        if variable not in names:
            raise DataFormatError(f"{filename} holds no numeric {kind} named '{variable}' (the one chosen as the "
                                  f"data); its numeric {kind}s: {listed}")
        return variable
    for name in DATA_NAMES:
        if name in names and name != axis_name:
            return name
    ignored = set(META_NAMES) | {axis_name}
    candidates = [name for name, shape, _ in arrays
                  if name not in ignored and name.rsplit(".", 1)[-1] not in ignored and _size(shape) > 1]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        return None
    preferred = ", ".join(repr(n) for n in DATA_NAMES)
    raise DataFormatError(
        f"{filename} holds several arrays ({', '.join(candidates)}) and none is named {preferred}. Its numeric "
        f"{kind}s: {listed}. Choose the data {kind} (and the axis {kind}, if any) in the reading options, or "
        f"name the data 'X'"
    )


def _size(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n
