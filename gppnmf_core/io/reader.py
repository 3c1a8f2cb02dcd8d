"""``read_dataset``: one entry point for every supported file type."""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from ..dataset import Axis, Dataset, Grid
from .array_metadata import ArrayMeta
from .assemble import check_values, crop_rows, make_dataset
from .errors import DataFormatError
from .fid import fids_to_spectra
from .gunzip import gunzip_capped
from .higher_dims import reduce_higher_dims
from .limits import check_budget, format_shape, max_bytes, prod
from .matlab import list_mat, read_mat
from .nifti_mrs import peek_nifti_gz, read_nifti_mrs
from .npy import read_npy
from .npz import list_npz, read_npz
from .options import ReadOptions
from .orientation import arrange, grid_names
from .sniff import GZIP_MAGIC, extension_of, wrong_content
from .text import read_text
from .vendor import convert_vendor, is_vendor_upload

__all__ = ["read_dataset", "list_arrays", "SUPPORTED_FORMATS"]

#: The supported formats, as the messages list them.
SUPPORTED_FORMATS = (".nii or .nii.gz (NIfTI-MRS), .npy, .npz, .csv, .tsv or .txt (text tables), .mat (MATLAB v4 "
                     "to v7), and through spec2nii: .rda and .IMA/.dcm (Siemens), .SPAR + .SDAT in a .zip (Philips), "
                     ".7 (GE), jMRUI .txt/.mrui, LCModel .RAW, a Bruker experiment folder in a .zip")


def _reference(options: ReadOptions, from_file: float | None, file_source: str = "") -> tuple[float, str]:
    """The ppm of the spectrometer frequency and where it came from: options, then the file, else 0."""
    if options.reference_ppm is not None:
        return options.reference_ppm, "reference from the options"
    if from_file is not None:
        return from_file, f"reference from the file: {file_source}" if file_source else "reference from the file"
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
    """NIfTI-MRS: header, dimensions 5-7 (:mod:`.higher_dims`), then the FID pipeline (:mod:`.fid`)."""
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
    reduced = reduce_higher_dims(mrs.data, mrs.dim_tags, mrs.dim_headers, options, name, mrs.repetition_time,
                                 affine=mrs.affine)
    notes += reduced.notes
    cols = reduced.cols
    if options.grid_shape is not None and not (isinstance(cols, Grid) and cols.shape == tuple(options.grid_shape)):
        if prod(options.grid_shape) != cols.size:
            raise DataFormatError(
                f"{name}: grid_shape {options.grid_shape} (from the options) has {prod(options.grid_shape)} points, "
                f"but the file has {cols.size} observations; the product must equal that number"
            )
        dropped = isinstance(cols, Grid) and cols.affine is not None
        cols = Grid(tuple(options.grid_shape), names=grid_names(len(options.grid_shape)), unit="voxel")
        notes.append(f"The observations were rearranged on the grid {format_shape(cols.shape)} given in the options"
                     + ("; the file's orientation (affine) does not describe that grid and was dropped." if dropped
                        else "."))
    if options.orientation != "auto":
        notes.append("The orientation option does not apply to NIfTI-MRS, whose layout is fixed.")
    reference, reference_source = _reference(options, mrs.reference, mrs.reference_source)
    dwell = mrs.dwell
    result = fids_to_spectra(
        reduced.fids, name, dwell=dwell, sf=sf, reference=reference, ppm_range=options.ppm_range,
        line_broadening_hz=options.line_broadening_hz, phase=options.phase, scale=mrs.scale,
        n_average=reduced.n_average, crop=options.crop, align=options.align,
        conjugate=options.conjugate != "no", nucleus=options.nucleus or mrs.nucleus,
        acquisition_delay=mrs.acquisition_delay, remove_water=options.water == "remove",
    )
    del mrs, reduced
    notes += _pipeline_notes(result.steps, dwell, sf, reference, reference_source)
    return make_dataset(result.X, result.rows, cols, name, notes, noise_var=result.noise_var,
                        noise_note=result.noise_note)


def _hz_axis(values: np.ndarray, meta: ArrayMeta, options: ReadOptions, notes: list[str]):
    """A feature axis in Hz: converted to ppm when the spectrometer frequency is known, else kept in Hz.

    ppm = Hz / MHz + reference (``reference_ppm``, default 0). ``conjugate="no"``
    says the data are in the opposite (mirrored) sense, as it does for FIDs:
    then ppm = reference - Hz / MHz.
    """
    sf = options.spectrometer_mhz if options.spectrometer_mhz is not None else meta.spectrometer_mhz
    if sf is None:
        notes.append("The feature axis is in Hz (shown reversed, high frequency on the left); give the spectrometer "
                     "frequency and the reference for a ppm axis.")
        return values, "frequency", "Hz"
    reference, source = _reference(options, meta.reference_ppm)
    if options.reference_ppm is None and meta.reference_ppm is None:
        source = "no reference given, so 0 Hz is 0 ppm; set reference_ppm to change it"
    sign = -1.0 if options.conjugate == "no" else 1.0
    ppm = sign * np.asarray(values, dtype=np.float64) / sf + reference
    formula = f"{reference:g} − Hz / {sf:.6g} MHz" if sign < 0 else f"Hz / {sf:.6g} MHz + {reference:g}"
    notes.append(f"Frequency axis converted to ppm = {formula} ({source})"
                 + ("; conjugate 'no': the axis is in the mirrored sense." if sign < 0 else "."))
    return ppm, "chemical shift", "ppm"


def _read_array(array: np.ndarray, meta: ArrayMeta, options: ReadOptions, name: str, notes: list[str],
                columns_fid: bool = False) -> Dataset:
    """The common path of .npy, .npz, .mat and text: layout, spectra or FIDs, crop, Dataset.

    ``columns_fid``: the array is one FID made from the two columns of a text table (already said in the notes).
    """
    check_values(array, name)
    if columns_fid:
        options = dataclasses.replace(options, orientation="features_first")
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
        if options.kind == "auto" and not columns_fid:
            notes.append("The values are complex, so they were read as FIDs (time domain) in the NIfTI-MRS phase "
                         "convention; choose 'spectra' to refuse complex data instead.")
        if meta.axis_values is not None:
            notes.append("The file's feature axis was not used: the axis of FIDs comes from the dwell time.")
        dwell = options.dwell_time_s if options.dwell_time_s is not None else meta.dwell_time
        sf = options.spectrometer_mhz if options.spectrometer_mhz is not None else meta.spectrometer_mhz
        reference, reference_source = _reference(options, meta.reference_ppm)
        result = fids_to_spectra(
            arranged.X, name, dwell=dwell, sf=sf, reference=reference, ppm_range=options.ppm_range,
            line_broadening_hz=options.line_broadening_hz, phase=options.phase, crop=options.crop,
            align=options.align, conjugate=options.conjugate != "no", nucleus=options.nucleus,
            remove_water=options.water == "remove",
        )
        notes += _pipeline_notes(result.steps, dwell, sf, reference, reference_source)
        return make_dataset(result.X, result.rows, arranged.cols, name, notes)
    K = arranged.X.shape[0]
    if meta.axis_values is not None:
        values, label, unit = meta.axis_values, meta.axis_label, meta.axis_unit
        if options.axis_unit != "auto" and unit != options.axis_unit:
            label, unit = ("chemical shift", "ppm") if options.axis_unit == "ppm" else ("frequency", "Hz")
            notes.append(f"The feature axis was read in {unit}, as the options say.")
        if unit == "Hz":
            values, label, unit = _hz_axis(values, meta, options, notes)
        rows = Axis(values, label=label, unit=unit, reversed=unit in ("ppm", "Hz"))
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
    text tables ``.csv``, ``.tsv``, ``.txt`` (two columns without an axis: the
    real and imaginary parts of one FID) and MATLAB ``.mat`` (v4 to v7; the
    data and axis variables chosen by ``options.variable`` and
    ``options.axis_variable``). Vendor formats are converted to NIfTI-MRS by
    spec2nii and then read as NIfTI-MRS (:mod:`gppnmf_core.io.vendor`):
    Siemens ``.rda`` and ``.ima``/``.dcm``, Philips ``.SPAR`` + ``.SDAT`` in a
    ``.zip``, GE ``.7``, jMRUI ``.txt`` (recognised by its header) and
    ``.mrui``, LCModel ``.RAW``/``.H2O``, a Bruker experiment in a ``.zip``.

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
    if is_vendor_upload(data, ext):
        return _read_vendor(data, name, ext, options)
    if ext in (".npz", ".mat"):
        read = read_npz if ext == ".npz" else read_mat
        content = read(data, name, variable=options.variable, axis_variable=options.axis_variable,
                       axis_unit=options.axis_unit)
        kind = "NumPy .npz archive; data array" if ext == ".npz" else "MATLAB file; variable"
        return _read_array(content.array, content.meta, options, name, [_container_note(kind, content)])
    table = read_text(data, name, rows_are_features=options.orientation != "observations_first")
    meta = ArrayMeta(axis_values=table.axis_values, axis_label=table.axis_label, axis_unit=table.axis_unit)
    values, notes = table.values, list(table.notes)
    columns_fid = (values.shape[1] == 2 and table.axis_values is None and options.kind in ("auto", "fid")
                   and options.orientation != "observations_first")
    if columns_fid:
        values = (values[:, 0] + 1j * values[:, 1])[:, None]
        notes.append("Two columns read as the real and imaginary parts of one FID"
                     + ("; choose 'spectra' to read them as two spectra." if options.kind == "auto" else "."))
    return _read_array(values, meta, options, name, notes, columns_fid=columns_fid)


def _read_vendor(data: bytes, name: str, ext: str, options: ReadOptions) -> Dataset:
    """A vendor file: converted to NIfTI-MRS by spec2nii, then read by the NIfTI-MRS path."""
    converted = convert_vendor(data, name, ext, options)
    dataset = _read_nifti(converted.nifti, name, False, options)
    lead = f"Uploaded file {name}."
    description = dataset.description
    if description.startswith(lead):
        description = " ".join([lead, *converted.notes, description[len(lead):].strip()])
    else:
        description = " ".join([*converted.notes, description])
    return dataclasses.replace(dataset, description=description)


def list_arrays(data: bytes, filename: str) -> list[tuple[str, tuple[int, ...], str]]:
    """The numeric arrays of a .mat or .npz file, to offer as the data and axis variables.

    Nothing but the arrays' headers is read from an .npz; MAT 1×1 structs are
    looked into one level deep (fields named ``struct.field``). A server calls
    it on untrusted files in a limited process, as it reads them.

    Parameters
    ----------
    data : bytes
        The file's content.
    filename : str
        Its name; the extension (.mat or .npz) gives the format.

    Returns
    -------
    list of (name, shape, type)
        ``type`` is the NumPy dtype name for .npz, the MATLAB class for .mat
        (``"double"``, ``"single"``, ``"int16"`` ...).

    Raises
    ------
    DataFormatError
        When the file is not a readable .mat or .npz file.
    """
    name = _clean_name(filename)
    ext = extension_of(name)
    if ext not in (".mat", ".npz"):
        raise DataFormatError(f"{name}: only .mat and .npz files hold named arrays to choose from")
    if len(data) == 0:
        raise DataFormatError(f"{name} is empty (0 bytes)")
    check_budget(len(data), name, "the file is too large")
    data = bytes(data)
    return list_npz(data, name) if ext == ".npz" else list_mat(data, name)
