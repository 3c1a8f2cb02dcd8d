"""``write_nifti_mrs``: save complex FIDs on a voxel grid as a NIfTI-MRS file (NIfTI-2, via nibabel)."""

from __future__ import annotations

import gzip
import json
import numbers
import os

import nibabel as nib
import numpy as np

from ..dataset import check_affine
from .nifti_mrs import MRS_ECODE

__all__ = ["write_nifti_mrs", "NIFTI_MRS_INTENT"]

#: Intent name written: NIfTI-MRS version 0.3 ("mrs_vM_m"), whose required
#: metadata (SpectrometerFrequency, ResonantNucleus) and layout this writer follows.
NIFTI_MRS_INTENT = "mrs_v0_3"


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def write_nifti_mrs(
    fids: np.ndarray,
    dwell_time: float,
    spectrometer_mhz: float,
    nucleus: str = "31P",
    path_or_none: str | os.PathLike | None = None,
    *,
    reference_ppm: float | None = None,
    voxel_size_mm: tuple[float, float, float] = (10.0, 10.0, 10.0),
    dim_tags: tuple[str, ...] = (),
    header: dict | None = None,
    affine=None,
) -> bytes:
    """Write FIDs as a single-file NIfTI-MRS image (NIfTI-2 header, complex64 data).

    The file holds: intent name ``"mrs_v0_3"``; dims x, y, z, time; dwell
    time in ``pixdim[4]`` with time unit seconds; voxel sizes in mm in
    ``pixdim[1:4]`` with a qform (code "scanner") scaling voxel indices to mm;
    and the JSON header extension (ecode 44) with ``SpectrometerFrequency``
    ([MHz]), ``ResonantNucleus`` ([nucleus]) and, when given,
    ``SpecFreqChemShift`` (the standard's chemical shift of the spectrometer
    frequency, ppm; without it readers assume the nucleus's default, 4.65 ppm
    for 1H and 0 for 31P), ``dim_5`` … tags of higher dimensions and further
    standard keys (``header``).

    Parameters
    ----------
    fids : complex ndarray of shape (nx, ny, nz, n_t[, n5[, n6[, n7]]])
        Time-domain signals in the NIfTI-MRS phase convention: for a nucleus
        with positive gyromagnetic ratio a line at chemical shift delta
        (relative to the receiver) rotates as ``exp(-2j*pi*delta*SF*t)``;
        :func:`read_dataset` conjugates them before the FFT.
    dwell_time : float
        Time between points, seconds (1 / spectral width).
    spectrometer_mhz : float
        Spectrometer frequency of the nucleus, MHz (25.85 for 31P at 1.5 T).
    nucleus : str, default "31P"
        Resonant nucleus, e.g. "1H", "31P".
    path_or_none : str or path-like, optional
        Where to write the file as well; a name ending in ``.gz`` is
        gzip-compressed.
    reference_ppm : float, optional
        Chemical shift of the spectrometer frequency, stored as ``SpecFreqChemShift``.
    dim_tags : sequence of str, optional
        Tags of dimensions 5, 6, 7 present in ``fids`` (e.g. ``("DIM_COIL", "DIM_DYN")``);
        required for each dimension beyond the 4th.
    header : dict, optional
        Further NIfTI-MRS header keys (e.g. ``{"AcquisitionStartTime": 0.001,
        "RepetitionTime": 3.0, "dim_6_header": {...}}``), JSON-serialisable.
    voxel_size_mm : (float, float, float), default (10, 10, 10)
        Voxel size (without ``affine``: the qform and sform scale voxel indices
        to mm, axes along the scanner's x, y, z).
    affine : array of shape (4, 4), optional
        Voxel index to scanner mm (RAS+), written as sform and qform (code
        "scanner"); it replaces ``voxel_size_mm``, whose values then come from
        it. The qform holds rotations and flips only: an affine with shear is
        kept exactly in the sform alone.

    Returns
    -------
    bytes
        The file's content (gzip-compressed when ``path_or_none`` ends in ``.gz``).
    """
    fids = np.asarray(fids)
    if fids.dtype.kind != "c":
        raise ValueError(f"fids must be complex (time-domain signals), got dtype {fids.dtype}")
    if not 4 <= fids.ndim <= 7 or min(fids.shape) < 1:
        raise ValueError(f"fids must have shape (nx, ny, nz, n_t) plus up to 3 higher dimensions, got {fids.shape}")
    dim_tags = tuple(dim_tags)
    if len(dim_tags) != fids.ndim - 4 or not all(isinstance(t, str) and t for t in dim_tags):
        raise ValueError(f"dim_tags must name each of the {fids.ndim - 4} dimension(s) beyond the 4th, "
                         f"got {dim_tags!r}")
    dwell_time = _positive(dwell_time, "dwell_time")
    spectrometer_mhz = _positive(spectrometer_mhz, "spectrometer_mhz")
    if not isinstance(nucleus, str) or not nucleus.strip():
        raise ValueError(f"nucleus must be a non-empty string such as '31P', got {nucleus!r}")
    sizes = tuple(_positive(v, "voxel_size_mm") for v in voxel_size_mm)
    if len(sizes) != 3:
        raise ValueError(f"voxel_size_mm must hold 3 numbers, got {voxel_size_mm!r}")
    meta = {"SpectrometerFrequency": [spectrometer_mhz], "ResonantNucleus": [nucleus.strip()]}
    if reference_ppm is not None:
        if isinstance(reference_ppm, bool) or not isinstance(reference_ppm, numbers.Real):
            raise ValueError(f"reference_ppm must be a number, got {reference_ppm!r}")
        meta["SpecFreqChemShift"] = float(reference_ppm)
    for dim, tag in enumerate(dim_tags, start=5):
        meta[f"dim_{dim}"] = tag
    if header is not None:
        meta.update(json.loads(json.dumps(dict(header))))

    if affine is None:
        affine = np.diag([*sizes, 1.0])
    else:
        affine = check_affine(affine, "affine")
        sizes = tuple(float(v) for v in np.linalg.norm(affine[:3, :3], axis=0))
    image = nib.Nifti2Image(np.asarray(fids, dtype=np.complex64), affine)
    nifti_header = image.header
    nifti_header.set_data_dtype(np.complex64)
    nifti_header.set_qform(affine, code="scanner")
    nifti_header.set_sform(affine, code="scanner")
    nifti_header.set_xyzt_units("mm", "sec")
    nifti_header.set_zooms((*sizes, dwell_time) + (1.0,) * (fids.ndim - 4))
    nifti_header["intent_name"] = NIFTI_MRS_INTENT.encode("ascii")
    nifti_header.extensions.append(nib.nifti1.Nifti1Extension(MRS_ECODE, json.dumps(meta).encode("utf-8")))
    content = image.to_bytes()
    if path_or_none is not None:
        path = os.fspath(path_or_none)
        if path.lower().endswith(".gz"):
            content = gzip.compress(content, compresslevel=6)
        with open(path, "wb") as handle:
            handle.write(content)
    return content
