"""Read NIfTI-MRS (``.nii``, ``.nii.gz``) with nibabel: header, MRS JSON extension, FIDs without copying.

The header and its extensions are parsed by nibabel; the FIDs are then a
zero-copy view of the file's bytes (``numpy.frombuffer`` at ``vox_offset``),
after the declared data size has been checked against the bytes present and
the size limit. NIfTI stores arrays in Fortran order (x fastest), so the view
is transposed, never copied, to (time, x, y, z); the FID pipeline reads it
once. Dimensions 5-7 (coils, dynamics, indirect dimensions …) are kept as they
are, with their tags (``dim_5`` … keys, defaulting to ``DIM_COIL``,
``DIM_DYN``, ``DIM_INDIRECT_0`` as the standard says) and ``dim_N_header``
entries; :mod:`.higher_dims` combines, averages, keeps or selects them.

The voxel-to-scanner affine is nibabel's best one (the sform when its code is
set, else the qform when its code is set) and None when the file sets neither:
an orientation is never invented. The grid's axis names come from it
(:func:`orientation_names`, e.g. "left-right" for an axis running towards R).
"""

from __future__ import annotations

import io
import json
import math
import warnings
from dataclasses import dataclass, field

import nibabel as nib
import numpy as np

from ..dataset import check_affine
from .errors import DataFormatError
from .limits import check_budget, format_bytes, format_shape, prod
from .nuclei import file_reference
from .sniff import describe_content, nifti_version, wrong_content

__all__ = ["NiftiMRS", "read_nifti_mrs", "peek_nifti_gz", "MRS_ECODE", "file_affine", "orientation_names"]

#: NIfTI extension code of the NIfTI-MRS JSON header extension.
MRS_ECODE = 44
_DEFAULT_DIM_TAGS = {5: "DIM_COIL", 6: "DIM_DYN", 7: "DIM_INDIRECT_0"}
_TIME_UNITS = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6}
#: NIfTI time-unit codes (``xyzt_units`` minus its spatial part, as nibabel splits it).
_TIME_CODES = {0: "unknown", 8: "sec", 16: "msec", 24: "usec", 32: "hz", 40: "ppm", 48: "rads"}
#: Millimetres per NIfTI spatial unit (``xyzt_units % 8``): unknown is taken as mm, as nibabel and the standard do.
_MM_PER_UNIT = {0: 1.0, 1: 1000.0, 2: 1.0, 3: 1e-3}
_SPACE_UNIT_NAMES = {1: "metres", 3: "micrometres"}
#: Name of a voxel axis that runs towards the direction nibabel's ``aff2axcodes`` gives (its low end first).
_AXIS_NAMES = {"R": "left-right", "L": "right-left", "A": "posterior-anterior", "P": "anterior-posterior",
               "S": "inferior-superior", "I": "superior-inferior"}
#: Degrees a voxel axis may lie off the nearest scanner axis before the grid is called oblique.
_OBLIQUE_DEGREES = 1.0


@dataclass
class NiftiMRS:
    """What a NIfTI-MRS file holds.

    Attributes
    ----------
    data : complex ndarray of shape (n_t, nx, ny, nz, n5, n6, n7)
        The stored FIDs, usually a view of the file's bytes (do not keep it
        beyond the read); dimensions 5-7 absent from the file have length 1.
    grid : tuple of int
        (nx, ny, nz).
    dim_tags : tuple of str
        Tags of dimensions 5, 6 and 7 (``DIM_COIL``, ``DIM_DYN`` …).
    dim_headers : tuple of (dict or None)
        The ``dim_5_header`` … entries (None where absent or not an object).
    dwell : float
        Dwell time in seconds.
    sf : float or None
        Spectrometer frequency in MHz from the header.
    nucleus : str or None
        Resonant nucleus from the header, e.g. ``"31P"``.
    reference : float or None
        Chemical shift of the spectrometer frequency, ppm:
        ``SpecFreqChemShift + RxOffset`` with the NIfTI-MRS tools' defaults
        (see :func:`.nuclei.file_reference`); None when not known.
    reference_source : str
        Where ``reference`` came from.
    acquisition_delay : float or None
        ``AcquisitionStartTime`` in seconds (the first-order phase of the
        spectra is 2 pi f times this), None when absent.
    repetition_time : float or None
        ``RepetitionTime`` in seconds.
    scale : float
        ``scl_slope`` when set, else 1.
    notes : list of str
        Sentences for the description.
    affine : ndarray of shape (4, 4) or None
        Voxel index (x, y, z) to scanner mm, RAS+ (:func:`file_affine`); None
        when the header gives no orientation.
    """

    data: np.ndarray
    grid: tuple[int, int, int]
    dim_tags: tuple[str, str, str]
    dim_headers: tuple
    dwell: float
    sf: float | None
    nucleus: str | None
    reference: float | None
    reference_source: str = ""
    acquisition_delay: float | None = None
    repetition_time: float | None = None
    scale: float = 1.0
    notes: list[str] = field(default_factory=list)
    affine: np.ndarray | None = None


def _header_classes(version: int):
    return (nib.Nifti1Header, 348, 352) if version == 1 else (nib.Nifti2Header, 540, 544)


def _basic_header(data, filename: str):
    """Header without extensions, its version and ``vox_offset``; checks that this is a single-file NIfTI."""
    found = nifti_version(data)
    if found is None:
        head = bytes(data[:4])
        sizes = {348: 348, 540: 540}
        for order in ("<", ">"):
            size = int.from_bytes(head, "little" if order == "<" else "big") if len(head) == 4 else 0
            if size in sizes and len(data) < sizes[size]:
                raise DataFormatError(f"{filename} is too short ({len(data)} bytes) to hold the NIfTI header it "
                                      f"starts ({size} bytes); the file is truncated")
        raise wrong_content(filename, "a NIfTI file", data)
    version, order = found
    klass, size, minimum_offset = _header_classes(version)
    magic = bytes(data[344:347]) if version == 1 else bytes(data[4:7])
    if magic in (b"ni1", b"ni2"):
        raise DataFormatError(f"{filename} is the header of a NIfTI .hdr/.img pair; upload a single-file .nii")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            basic = klass(bytes(data[:size]), endianness=order, check=False)
            vox_offset = float(basic["vox_offset"])
    except Exception as exc:  # nibabel raises several types for damaged headers
        raise DataFormatError(f"{filename}: the NIfTI header is damaged ({exc})") from None
    if not math.isfinite(vox_offset) or vox_offset != int(vox_offset) or vox_offset < minimum_offset:
        raise DataFormatError(f"{filename}: the NIfTI header gives an invalid data offset (vox_offset = {vox_offset})")
    return klass, version, order, basic, int(vox_offset)


def _declared(basic, filename: str) -> tuple[tuple[int, ...], np.dtype]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            shape = tuple(int(n) for n in basic.get_data_shape())
            dtype = basic.get_data_dtype()
    except Exception as exc:
        raise DataFormatError(f"{filename}: the NIfTI header has invalid dimensions or data type ({exc})") from None
    if not shape or any(n < 1 for n in shape):
        raise DataFormatError(f"{filename}: the NIfTI header declares an empty array of shape {shape}")
    return shape, dtype


def peek_nifti_gz(buffer: bytearray, filename: str) -> None:
    """Check the start of a decompressing .nii.gz: it must be NIfTI and declare no more than the limit."""
    if nifti_version(buffer) is None:
        what, _ = describe_content(buffer)
        raise DataFormatError(f"{filename} is gzip-compressed but does not contain a NIfTI file "
                              f"(the decompressed content looks like {what})")
    _, _, _, basic, vox_offset = _basic_header(buffer, filename)
    shape, dtype = _declared(basic, filename)
    check_budget(vox_offset + prod(shape) * dtype.itemsize, filename,
                 f"its header declares {format_shape(shape)} {dtype.name} values")


def _extension_json(header, filename: str) -> dict | None:
    for ext in header.extensions:
        if int(ext.get_code()) != MRS_ECODE:
            continue
        raw = ext.content if hasattr(ext, "content") else ext.get_content()
        try:
            meta = json.loads(bytes(raw).rstrip(b"\x00").decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise DataFormatError(f"{filename}: the NIfTI-MRS header extension is not valid JSON ({exc})") from None
        except RecursionError:  # json nests one C-stack level per bracket: "[[[[..." raises this
            raise DataFormatError(f"{filename}: the NIfTI-MRS header extension nests JSON lists or objects too "
                                  f"deeply to be a NIfTI-MRS header") from None
        if not isinstance(meta, dict):
            raise DataFormatError(f"{filename}: the NIfTI-MRS header extension is not a JSON object")
        return meta
    return None


def _first(value):
    """First element of a JSON list, or the value itself."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _number(value) -> float | None:
    """A finite JSON number (or the first of a list) as a float, else None (an int beyond float range too)."""
    value = _first(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        value = float(value)
    except OverflowError:  # JSON integers have no size limit
        return None
    return value if math.isfinite(value) else None


def _not_mrs(filename: str, why: str, shape, dtype) -> DataFormatError:
    return DataFormatError(
        f"{filename} is a NIfTI image but not NIfTI-MRS ({why}): it holds a {len(shape)}-D {dtype.name} array of "
        f"shape {format_shape(shape)}. Convert scanner MRS data with spec2nii, or upload spectra as .npy, .npz or .csv"
    )


def _time_unit(header, filename: str) -> str:
    """The time unit of ``xyzt_units``; an unknown code is a damaged header (nibabel would raise KeyError)."""
    code = int(header["xyzt_units"])
    time_code = code - code % 8
    if time_code not in _TIME_CODES:
        raise DataFormatError(f"{filename}: the NIfTI header's units field (xyzt_units = {code}) holds the time unit "
                              f"code {time_code}, which NIfTI does not define; the header is damaged")
    return _TIME_CODES[time_code]


def _dwell_time(header, filename: str, notes: list[str]) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dwell = float(header["pixdim"][4])
    units = _time_unit(header, filename)
    if units in ("hz", "ppm", "rads"):
        raise DataFormatError(f"{filename}: its 4th dimension is in {units}, but NIfTI-MRS stores time-domain "
                              f"FIDs with the dwell time in pixdim[4]")
    if not math.isfinite(dwell) or dwell <= 0:
        raise DataFormatError(f"{filename}: the dwell time (pixdim[4]) is {dwell:g}; NIfTI-MRS needs it > 0 "
                              f"(give dwell_time_s to override)")
    if units not in _TIME_UNITS:
        notes.append(f"The time unit of pixdim[4] is not set; the dwell time {dwell:g} was taken as seconds.")
        return dwell
    return dwell * _TIME_UNITS[units]


def _dim_tags(shape, meta: dict, filename: str) -> tuple[tuple[str, str, str], tuple]:
    """Tags and dim_N_header objects of dimensions 5-7."""
    tags, headers = [], []
    for dim in (5, 6, 7):
        tag = meta.get(f"dim_{dim}", _DEFAULT_DIM_TAGS[dim])
        n = shape[dim - 1] if len(shape) >= dim else 1
        if not isinstance(tag, str) or not tag.strip() or len(tag) > 64:
            if n > 1:
                raise DataFormatError(f"{filename}: the NIfTI-MRS tag of dimension {dim} (dim_{dim}) is "
                                      f"{str(tag)[:40]!r}, not a name such as DIM_COIL or DIM_DYN")
            tag = _DEFAULT_DIM_TAGS[dim]
        tags.append(tag.strip().upper())
        header = meta.get(f"dim_{dim}_header")
        headers.append(header if isinstance(header, dict) else None)
    return tuple(tags), tuple(headers)


def file_affine(header, notes: list[str]) -> np.ndarray | None:
    """The voxel-to-scanner affine of a NIfTI header, as nibabel's ``get_best_affine`` picks it, or None.

    The sform when ``sform_code`` > 0, else the qform when ``qform_code`` > 0;
    None when both codes are 0 (nibabel would then fall back to a made-up
    affine from the voxel sizes; this reader never invents an orientation). A
    coded transform that is not a finite invertible affine (a damaged header)
    is passed over with a note. Coordinates in metres or micrometres
    (``xyzt_units``) are converted to mm. A sentence on the orientation (or
    its absence) is added to ``notes``.
    """
    found, refused = None, False
    for kind in ("sform", "qform"):
        code = "unreadable"
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                code = int(header[f"{kind}_code"])
                if code <= 0:
                    continue
                matrix = getattr(header, f"get_{kind}")()
            found = check_affine(matrix, f"the header's {kind}")
        except Exception as exc:  # nibabel raises several types for damaged quaternions
            notes.append(f"The header's {kind} (code {code}) is not a usable affine ({exc}); it was not used.")
            refused = True
            continue
        break
    if found is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            space = int(header["xyzt_units"]) % 8
        if _MM_PER_UNIT.get(space, 1.0) != 1.0:
            try:
                with np.errstate(all="ignore"):
                    found = check_affine(found * np.array([[_MM_PER_UNIT[space]]] * 3 + [[1.0]]),
                                         f"the header's {kind} in mm")
                notes.append(f"The header's coordinates are in {_SPACE_UNIT_NAMES[space]}; the affine was "
                             f"converted to mm.")
            except ValueError as exc:
                notes.append(f"The header's {kind} could not be converted to mm ({exc}); it was not used.")
                found, refused = None, True
    if found is None:
        notes.append("The header gives no usable orientation: the grid axes are named x, y, z." if refused else
                     "The header gives no orientation (sform and qform codes are 0): the grid axes are named x, y, z.")
        return None
    notes.append(_orientation_note(found, kind))
    return found


def orientation_names(affine: np.ndarray | None) -> tuple[str, str, str] | None:
    """Names of the three voxel axes from the direction each runs in (nibabel's ``aff2axcodes``, RAS+):
    ``"left-right"`` for an axis towards R, ``"anterior-posterior"`` for one towards P …; None without an
    affine or when the directions cannot be told apart."""
    if affine is None:
        return None
    codes = nib.aff2axcodes(affine)
    if any(code not in _AXIS_NAMES for code in codes) or len(set(codes)) != 3:
        return None
    return tuple(_AXIS_NAMES[code] for code in codes)


def _orientation_note(affine: np.ndarray, kind: str) -> str:
    names = orientation_names(affine)
    if names is None:
        return f"The voxel axes of the {kind} cannot be matched to scanner directions: named x, y, z."
    columns = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
    off = float(np.degrees(np.arccos(np.clip(np.max(np.abs(columns), axis=0), -1.0, 1.0))).max())
    text = f"Voxel axes from the {kind}: {', '.join(names)}"
    if off > _OBLIQUE_DEGREES:
        text += f" (oblique: up to {off:.0f}° off the scanner axes; the names give the nearest directions)"
    return text + "."


def read_nifti_mrs(data, filename: str, spectrometer_mhz: float | None = None,
                   dwell_time_s: float | None = None) -> NiftiMRS:
    """Parse a single-file NIfTI-MRS image (already decompressed) and view its FIDs.

    Parameters
    ----------
    data : bytes or bytearray
        The uncompressed file; the returned FIDs view it.
    filename : str
        Name used in messages.
    spectrometer_mhz, dwell_time_s : float or None
        Values that override (or stand in for) the header's.

    Returns
    -------
    NiftiMRS
    """
    if len(data) == 0:
        raise DataFormatError(f"{filename} is empty (0 bytes)")
    klass, version, order, basic, vox_offset = _basic_header(data, filename)
    if vox_offset > len(data):
        raise DataFormatError(f"{filename} is truncated: its data should start at byte {vox_offset} but the file has "
                              f"{len(data)} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            header = klass.from_fileobj(io.BytesIO(bytes(data[:vox_offset])), endianness=order, check=False)
    except Exception as exc:
        raise DataFormatError(f"{filename}: the NIfTI header or its extensions are damaged ({exc})") from None
    shape, dtype = _declared(header, filename)
    meta = _extension_json(header, filename)
    intent = bytes(header["intent_name"].item()).split(b"\x00")[0].decode("latin-1", "replace")
    notes = [f"NIfTI-MRS file (NIfTI-{version}{', intent ' + intent if intent else ''}) with "
             f"{format_shape(shape)} {dtype.name} values."]
    if dtype.kind != "c":
        if meta is not None or intent.startswith("mrs_v"):
            raise DataFormatError(f"{filename} is labelled NIfTI-MRS but stores real {dtype.name} values; NIfTI-MRS "
                                  f"stores complex FIDs (complex64 or complex128)")
        raise _not_mrs(filename, "no complex FIDs, no MRS header extension", shape, dtype)
    if len(shape) < 4:
        raise _not_mrs(filename, "fewer than 4 dimensions: NIfTI-MRS has x, y, z and time", shape, dtype)
    if meta is None and spectrometer_mhz is None:
        raise _not_mrs(filename, f"no MRS header extension (ecode {MRS_ECODE}) with the spectrometer frequency; if it "
                                 f"holds FIDs, give the spectrometer frequency", shape, dtype)
    meta = meta or {}
    if not intent.startswith("mrs_v"):
        notes.append(f"Its intent name is {intent!r}, not mrs_vM_m; it was read as NIfTI-MRS all the same.")
    tags, headers = _dim_tags(shape, meta, filename)

    nbytes = prod(shape) * dtype.itemsize
    check_budget(nbytes, filename, f"its header declares {format_shape(shape)} {dtype.name} values")
    present = len(data) - vox_offset
    if nbytes > present:
        raise DataFormatError(
            f"{filename} is truncated or damaged: its header declares {format_shape(shape)} {dtype.name} values "
            f"({format_bytes(nbytes)}) but it holds only {format_bytes(present)} of data"
        )
    if len(shape) > 7:
        raise DataFormatError(f"{filename}: the NIfTI header declares {len(shape)} dimensions; NIfTI-MRS has at "
                              f"most 7 (x, y, z, time and three higher dimensions)")
    full = tuple(shape) + (1,) * (7 - len(shape))
    raw = np.frombuffer(data, dtype=dtype, count=prod(shape), offset=vox_offset).reshape(full[::-1])
    fids = raw.transpose(3, 6, 5, 4, 2, 1, 0)  # (d7, d6, d5, t, z, y, x) in memory -> (t, x, y, z, d5, d6, d7)

    sf = _number(meta.get("SpectrometerFrequency"))
    if meta and sf is None and spectrometer_mhz is None:
        raise DataFormatError(f"{filename}: the NIfTI-MRS header has no valid SpectrometerFrequency (MHz); "
                              f"give the spectrometer frequency")
    if sf is not None and sf <= 0:
        raise DataFormatError(f"{filename}: SpectrometerFrequency is {sf:g} MHz; it must be positive")
    nucleus = _first(meta.get("ResonantNucleus"))
    nucleus = str(nucleus) if isinstance(nucleus, (str, int)) and str(nucleus).strip() else None
    reference, reference_source = file_reference(nucleus, _number(meta.get("SpecFreqChemShift")),
                                                 _number(meta.get("RxOffset")))
    delay = _number(meta.get("AcquisitionStartTime"))
    repetition = _number(meta.get("RepetitionTime"))
    dwell = dwell_time_s if dwell_time_s is not None else _dwell_time(header, filename, notes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slope = float(header["scl_slope"])
    scale = slope if math.isfinite(slope) and slope not in (0.0, 1.0) else 1.0
    if scale != 1.0:
        notes.append(f"Values scaled by scl_slope = {scale:g}.")
    affine = file_affine(header, notes)
    return NiftiMRS(data=fids, grid=tuple(full[:3]), dim_tags=tags, dim_headers=headers, dwell=dwell, sf=sf,
                    nucleus=nucleus, reference=reference, reference_source=reference_source,
                    acquisition_delay=delay if delay is not None and abs(delay) < 1.0 else None,
                    repetition_time=repetition if repetition is not None and repetition > 0 else None,
                    scale=scale, notes=notes, affine=affine)

