"""``read_dataset``: one entry point for every supported file type."""

from __future__ import annotations

import os

import numpy as np

from ..dataset import Axis, Dataset, Grid
from .build import check_values, crop_rows, make_dataset
from .errors import DataFormatError
from .fid import fids_to_spectra
from .gunzip import gunzip_capped
from .layout import arrange, grid_names
from .limits import check_budget, format_shape, max_bytes, prod
from .matlab import read_mat
from .meta import ArrayMeta
from .nifti_mrs import peek_nifti_gz, read_nifti_mrs
from .npy import read_npy
from .npz import read_npz
from .options import ReadOptions
from .sniff import GZIP_MAGIC, extension_of, wrong_content
from .text import read_text

__all__ = ["read_dataset", "SUPPORTED_FORMATS"]

#: The supported formats, as the messages list them.
SUPPORTED_FORMATS = ".nii or .nii.gz (NIfTI-MRS), .npy, .npz, .csv, .tsv or .txt (text tables), .mat (MATLAB v4 to v7)"


def _reference(options: ReadOptions, from_file: float | None) -> tuple[float, str]:
    if options.reference_ppm is not None:
        return options.reference_ppm, "reference from the options"
    if from_file is not None:
        return from_file, "reference from the file"
    return 0.0, "no reference in the file, so the centre of the spectrum is 0 ppm; set reference_ppm to change it"


def _pipeline_notes(steps: list[str], dwell, sf, reference: float, reference_source: str) -> list[str]:
    notes = ["FID → spectrum: " + ", ".join(steps) + "."]
    if dwell is None:
        notes.append("No dwell time, so the axis is a frequency index; give the dwell time and the spectrometer "
                     "frequency for a ppm axis.")
        return notes
    notes.append(f"Dwell time {dwell * 1e3:.4g} ms (spectral width {1.0 / dwell:.5g} Hz).")
    if sf is None:
        notes.append("No spectrometer frequency, so the axis is in Hz; give it for a ppm axis.")
    else:
        notes.append(f"ppm = frequency / {sf:.6g} MHz + {reference:g} ({reference_source}).")
    return notes


def _container_note(kind: str, content) -> str:
    """What was taken from a file holding several arrays, and what else it held."""
    others = [n for n in content.names if n != content.name]
    return (f"{kind} '{content.name}' of shape {format_shape(content.array.shape)} ({content.array.dtype.name})"
            + (f"; also {', '.join(others)}." if others else "."))


def _read_nifti(data, name: str, compressed: bool, options: ReadOptions) -> Dataset:
    notes = []
    if compressed:
        if bytes(data[:2]) != GZIP_MAGIC:
            raise wrong_content(name, "a gzip-compressed NIfTI file", data)
        data = gunzip_capped(data, name, max_bytes(), peek=lambda buf: peek_nifti_gz(buf, name),
                             peek_bytes=4096)
        notes.append("Gzip-compressed.")
    if options.kind == "spectra":
        raise DataFormatError(f"{name}: NIfTI-MRS holds complex FIDs (time domain), not spectra; choose 'auto' or "
                              f"'FID' as the content")
    mrs = read_nifti_mrs(data, name, spectrometer_mhz=options.spectrometer_mhz, dwell_time_s=options.dwell_time_s)
    notes += mrs.notes
    sf = options.spectrometer_mhz if options.spectrometer_mhz is not None else mrs.sf
    if options.spectrometer_mhz is not None and mrs.sf is not None and options.spectrometer_mhz != mrs.sf:
        notes.append(f"The spectrometer frequency {options.spectrometer_mhz:g} MHz from the options replaced the "
                     f"header's {mrs.sf:g} MHz.")
    if mrs.nucleus:
        notes.append(f"Nucleus {mrs.nucleus} at {sf:.6g} MHz.")
        if mrs.nucleus.upper() == "1H" and options.reference_ppm is None and mrs.reference is None:
            notes.append("For 1H the receiver is usually on water: consider reference_ppm = 4.65.")
    grid = mrs.grid
    if options.grid_shape is not None:
        if prod(options.grid_shape) != prod(grid):
            raise DataFormatError(
                f"{name}: grid_shape {options.grid_shape} (from the options) has {prod(options.grid_shape)} points, "
                f"but the file has {format_shape(grid)} = {prod(grid)} voxels; the product must equal that number"
            )
        grid = options.grid_shape
        notes.append(f"The voxels were rearranged on the grid {format_shape(grid)} given in the options.")
    if options.orientation != "auto":
        notes.append("The orientation option does not apply to NIfTI-MRS, whose layout is fixed.")
    reference, reference_source = _reference(options, mrs.reference)
    dwell = mrs.dwell
    result = fids_to_spectra(
        mrs.fids, name, dwell=dwell, sf=sf, reference=reference, ppm_range=options.ppm_range,
        line_broadening_hz=options.line_broadening_hz, phase=options.phase, scale=mrs.scale,
    )
    del mrs
    notes += _pipeline_notes(result.steps, dwell, sf, reference, reference_source)
    cols = Grid(tuple(grid), names=grid_names(len(grid)), unit="voxel")
    return make_dataset(result.X, result.rows, cols, name, notes)


def _read_array(array: np.ndarray, meta: ArrayMeta, options: ReadOptions, name: str, notes: list[str]) -> Dataset:
    """The common path of .npy, .npz, .mat and text: layout, spectra or FIDs, crop, Dataset."""
    check_values(array, name)
    arranged = arrange(array, meta, options, name)
    notes = notes + meta.notes + arranged.notes
    is_complex = arranged.X.dtype.kind == "c"
    if is_complex and options.kind == "spectra":
        raise DataFormatError(f"{name} contains complex values; choose 'FID' as the content if these are "
                              f"time-domain signals, or save the real part of the spectra")
    if not is_complex and options.kind == "fid":
        raise DataFormatError(f"{name} holds real values, but FIDs (time-domain signals) are complex; choose "
                              f"'spectra' or 'auto' as the content")
    if is_complex:
        if options.kind == "auto":
            notes.append("The values are complex, so they were read as FIDs (time domain) in the NIfTI-MRS phase "
                         "convention; choose 'spectra' to refuse complex data instead.")
        if meta.axis_values is not None:
            notes.append("The file's feature axis was not used: the axis of FIDs comes from the dwell time.")
        dwell = options.dwell_time_s if options.dwell_time_s is not None else meta.dwell_time
        sf = options.spectrometer_mhz if options.spectrometer_mhz is not None else meta.spectrometer_mhz
        reference, reference_source = _reference(options, meta.reference_ppm)
        result = fids_to_spectra(
            arranged.X, name, dwell=dwell, sf=sf, reference=reference, ppm_range=options.ppm_range,
            line_broadening_hz=options.line_broadening_hz, phase=options.phase,
        )
        notes += _pipeline_notes(result.steps, dwell, sf, reference, reference_source)
        return make_dataset(result.X, result.rows, arranged.cols, name, notes)
    K = arranged.X.shape[0]
    if meta.axis_values is not None:
        rows = Axis(meta.axis_values, label=meta.axis_label, unit=meta.axis_unit,
                    reversed=meta.axis_unit in ("ppm", "Hz"))
    else:
        rows = Axis(np.arange(K), label="feature index")
    X, rows = crop_rows(arranged.X, rows, options.ppm_range, name)
    if options.ppm_range is not None:
        notes.append(f"Cropped to {options.ppm_range[0]:g} to {options.ppm_range[1]:g} ppm.")
    if options.line_broadening_hz > 0:
        notes.append("Line broadening applies to FIDs only; it was not applied to these spectra.")
    return make_dataset(X, rows, arranged.cols, name, notes)


def _clean_name(filename) -> str:
    name = os.path.basename(str(filename or "").replace("\\", "/")).strip()
    return name or "upload"


def read_dataset(data: bytes, filename: str, options: ReadOptions | None = None) -> Dataset:
    """Read an uploaded file into a :class:`~gppnmf_core.dataset.Dataset`.

    Formats, chosen by the file's extension (case-insensitive) and checked
    against its content: NIfTI-MRS (``.nii``, ``.nii.gz``; complex FIDs that
    go through the FID → spectrum pipeline), NumPy ``.npy`` and ``.npz``,
    text tables ``.csv``, ``.tsv``, ``.txt`` and MATLAB ``.mat`` (v4 to v7).

    Parameters
    ----------
    data : bytes
        The file's content.
    filename : str
        The file's name (only its last path component is used); gives the
        format and the title.
    options : ReadOptions, optional
        How to read it; defaults to ``ReadOptions()``.

    Returns
    -------
    Dataset
        ``X`` float64 of shape (K, L): features × observations. ``rows`` is
        the ppm axis (descending values, ``reversed=True``) for spectra with a
        known chemical shift, else the file's feature axis or the feature
        index; ``cols`` is a :class:`~gppnmf_core.dataset.Grid` when the file
        or the options give the spatial grid (C order), else the observation
        index. ``truth`` is None, ``noise_var`` a robust estimate, ``rank`` 2,
        ``name`` "upload", ``title`` the file name, and ``description`` says
        what was read, what was done and what was guessed.

    Raises
    ------
    DataFormatError
        For every problem with the file, with a message naming the file, what
        is wrong and, where useful, what to do.
    ValueError
        For invalid options (raised when ``ReadOptions`` is built).
    """
    if options is None:
        options = ReadOptions()
    if not isinstance(options, ReadOptions):
        raise ValueError(f"options must be a ReadOptions, got {type(options).__name__}")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be the file's bytes, got {type(data).__name__}")
    if isinstance(data, memoryview):
        data = data.tobytes()
    name = _clean_name(filename)
    ext = extension_of(name)
    if ext is None:
        suffix = os.path.splitext(name)[1]
        what = f"'{suffix}' files" if suffix else "files without an extension"
        raise DataFormatError(f"{name}: {what} are not supported; upload one of {SUPPORTED_FORMATS}")
    if len(data) == 0:
        raise DataFormatError(f"{name} is empty (0 bytes)")
    check_budget(len(data), name, "the file is too large")
    if ext in (".nii", ".nii.gz"):
        return _read_nifti(data, name, ext == ".nii.gz", options)
    if ext == ".npy":
        array = read_npy(data, name)
        return _read_array(array, ArrayMeta(), options, name,
                           [f"NumPy .npy array of shape {format_shape(array.shape)} ({array.dtype.name})."])
    if ext in (".npz", ".mat"):
        content = read_npz(data, name) if ext == ".npz" else read_mat(data, name)
        kind = "NumPy .npz archive; data array" if ext == ".npz" else "MATLAB file; variable"
        return _read_array(content.array, content.meta, options, name, [_container_note(kind, content)])
    table = read_text(data, name, rows_are_features=options.orientation != "observations_first")
    meta = ArrayMeta(axis_values=table.axis_values, axis_label=table.axis_label, axis_unit=table.axis_unit)
    return _read_array(table.values, meta, options, name, list(table.notes))
