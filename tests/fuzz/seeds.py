"""Valid (and a few deliberately odd) seed files of every upload format, built deterministically.

Each ``*_seeds`` function returns a list of ``bytes``; :data:`SEEDS` maps a
reader (one per extension) to its seeds. The fuzzer mutates these.
"""

from __future__ import annotations

import gzip
import io
import json
import struct
import zlib

import nibabel as nib
import numpy as np
import scipy.io
import scipy.sparse

from gppnmf_core.io import write_nifti_mrs

__all__ = ["SEEDS", "READERS", "EXTENSIONS", "npy_bytes", "zip_stored", "nifti_with_extension", "MRS_META"]

#: Fuzzed readers, named by the extension they read; the file name given to read_dataset ends in it.
EXTENSIONS = {
    "nii": ".nii", "niigz": ".nii.gz", "npy": ".npy", "npz": ".npz",
    "csv": ".csv", "tsv": ".tsv", "txt": ".txt", "mat": ".mat",
}
READERS = tuple(EXTENSIONS)
MRS_META = {"SpectrometerFrequency": [25.85], "ResonantNucleus": ["31P"], "ChemicalShiftReference": 0.0,
            "dim_5": "DIM_DYN"}
_META = {"SpectrometerFrequency": [25.85], "ResonantNucleus": ["31P"]}


def _rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def _fids(shape=(2, 2, 1, 32)) -> np.ndarray:
    t = np.arange(shape[-1]) * 5e-4
    signal = np.exp((2j * np.pi * 50.0 - np.pi * 10.0) * t)
    return (signal * (1.0 + _rng().random(shape[:-1]))[..., None]).astype(np.complex64)


def npy_bytes(array: np.ndarray, version: tuple[int, int] | None = None) -> bytes:
    """``np.save`` into bytes, optionally with a given format version."""
    buffer = io.BytesIO()
    if version is None:
        np.save(buffer, array, allow_pickle=False)
    else:
        np.lib.format.write_array(buffer, np.asanyarray(array), version=version, allow_pickle=False)
    return buffer.getvalue()


def zip_stored(members: list[tuple[bytes, bytes]]) -> bytes:
    """A ZIP archive of stored (uncompressed) members with raw byte names, built by hand.

    ``zipfile`` refuses some names (e.g. the empty name) that a crafted upload can hold.
    """
    out, central = bytearray(), bytearray()
    for name, data in members:
        crc, offset = zlib.crc32(data), len(out)
        out += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, len(data), len(data), len(name), 0)
        out += name + data
        central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, crc, len(data), len(data),
                               len(name), 0, 0, 0, 0, 0, offset) + name
    start = len(out)
    out += central
    out += struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), start, 0)
    return bytes(out)


def _npz(compressed: bool = False, **arrays) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


def _nifti(array: np.ndarray, meta: dict | None, version: int = 2, dwell: float = 5e-4,
           endian: str = "<", dims: dict | None = None) -> bytes:
    image = (nib.Nifti2Image if version == 2 else nib.Nifti1Image)(array, np.eye(4))
    if endian == ">":
        image = image.__class__(array, np.eye(4), header=image.header.as_byteswapped(">"))
    header = image.header
    header.set_xyzt_units("mm", "msec")
    if array.ndim >= 4:
        header.set_zooms((10.0, 10.0, 10.0, dwell * 1e3) + (1.0,) * (array.ndim - 4))
    header["intent_name"] = b"mrs_v0_3"
    if meta is not None:
        header.extensions.append(nib.nifti1.Nifti1Extension(44, json.dumps({**meta, **(dims or {})}).encode()))
    return image.to_bytes()


def nifti_with_extension(content: bytes, version: int = 2) -> bytes:
    """A small NIfTI-MRS file whose ecode-44 extension holds ``content`` (any bytes) with consistent sizes."""
    image = (nib.Nifti2Image if version == 2 else nib.Nifti1Image)(_fids(), np.eye(4))
    header = image.header
    header.set_xyzt_units("mm", "sec")
    header.set_zooms((10.0, 10.0, 10.0, 5e-4))
    header["intent_name"] = b"mrs_v0_3"
    header.extensions.append(nib.nifti1.Nifti1Extension(44, content))
    return image.to_bytes()


def nii_seeds() -> list[bytes]:
    fids = _fids()
    return [
        write_nifti_mrs(fids, 5e-4, 25.85, reference_ppm=0.0),
        _nifti(fids, _META, version=1),
        _nifti(fids, _META, version=1, endian=">"),
        _nifti(np.repeat(fids[..., None], 3, axis=-1), _META, version=2, dims={"dim_5": "DIM_DYN"}),
        _nifti(fids.astype(np.complex128), None, version=2),
        _nifti(np.ones((4, 4, 2), dtype=np.float32), None, version=1),
    ]


def niigz_seeds() -> list[bytes]:
    return [gzip.compress(seed, compresslevel=6, mtime=0) for seed in nii_seeds()[:4]]


def npy_seeds() -> list[bytes]:
    rng = _rng()
    spectra = rng.normal(size=(16, 6))
    return [
        npy_bytes(spectra),
        npy_bytes(spectra.astype(">f4")),
        npy_bytes(np.asfortranarray(spectra)),
        npy_bytes(_fids((2, 2, 1, 16))),
        npy_bytes(rng.integers(-5, 5, size=(8, 4, 4)).astype(np.int16)),
        npy_bytes(rng.random((6, 6)) > 0.5),
        npy_bytes(spectra, version=(2, 0)),
        npy_bytes(spectra.astype(np.float32), version=(3, 0)),
    ]


def npz_seeds() -> list[bytes]:
    rng = _rng()
    X = rng.normal(size=(16, 6))
    return [
        _npz(X=X),
        _npz(compressed=True, X=X, ppm=np.linspace(10, -10, 16), grid_shape=np.array([2, 3])),
        _npz(data=_fids((2, 3, 1, 16)), spectrometer_mhz=np.array(25.85), dwell_time=np.array(5e-4),
             reference_ppm=np.array(0.0)),
        _npz(compressed=True, spectra=X.astype(np.float32), extra=np.arange(4.0)),
        zip_stored([(b"X.npy", npy_bytes(X)), (b"ppm.npy", npy_bytes(np.arange(16.0)))]),
    ]


def _table(delimiter: str, header: bool, axis: bool) -> bytes:
    rng = np.random.default_rng(7)
    values = np.round(rng.normal(size=(10, 3)), 4)
    lines = []
    if header:
        lines.append(delimiter.join((["ppm"] if axis else []) + ["a", "b", "c"]))
    for k, row in enumerate(values):
        cells = ([f"{10 - k * 0.5:g}"] if axis else []) + [f"{v:g}" for v in row]
        lines.append(delimiter.join(cells))
    return ("\n".join(lines) + "\n").encode()


def csv_seeds() -> list[bytes]:
    return [
        _table(",", header=True, axis=True),
        _table(",", header=False, axis=False),
        b"\xef\xbb\xbf# exported\nshift (ppm);v1;v2;\n3.5;1;2;\n2.5;3;4;\n1.5;5;6;\n",
        b'"ppm","x","y"\r\n1,2e3,-4\r\n2,5.5,6\r\n3,1e-300,8\r\n',
    ]


def tsv_seeds() -> list[bytes]:
    return [_table("\t", header=True, axis=True), _table("\t", header=False, axis=False)]


def txt_seeds() -> list[bytes]:
    return [_table(" ", header=False, axis=False), _table("  ", header=True, axis=True),
            b"1 2 3\n4 5 6\n7 8 9.5\n"]


def _mat(arrays: dict, **kwargs) -> bytes:
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, arrays, **kwargs)
    return buffer.getvalue()


def mat_seeds() -> list[bytes]:
    rng = _rng()
    X = rng.normal(size=(12, 5))
    return [
        _mat({"X": X}),
        _mat({"X": X, "ppm": np.linspace(5, -5, 12)}, do_compression=True),
        _mat({"data": (X + 1j * X).astype(np.complex64), "dwell_time": 5e-4, "spectrometer_mhz": 25.85}),
        _mat({"spectra": X.astype(np.int16), "label": "brain", "s": {"a": 1.0}, "c": np.array([1, "x"],
                                                                                                  dtype=object)}),
        _mat({"A": scipy.sparse.eye(4, format="csc"), "B": X > 0}),
        _mat({"X": X}, format="4"),
    ]


#: reader -> list of seed files
SEEDS = {
    "nii": nii_seeds, "niigz": niigz_seeds, "npy": npy_seeds, "npz": npz_seeds,
    "csv": csv_seeds, "tsv": tsv_seeds, "txt": txt_seeds, "mat": mat_seeds,
}
