"""A deterministic corpus of bad upload files for ``gppnmf_core.io.read_dataset``.

Each ``case_*`` function takes a scratch directory and returns a
:class:`BadCase`: the file's name and bytes, a regular expression the
``DataFormatError`` message must match, and optionally reading options,
environment overrides (e.g. a lower size limit) and a marker file that must
never be created (pickle payloads). Nothing here is large on disk; the bomb
cases are built in memory by streaming zeros through zlib.

Write the corpus to a directory to look at it::

    python -m tests.bad_files [directory]      # from the repository root; default: tests/data/bad_files
"""

from __future__ import annotations

import gzip
import io
import json
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import scipy.io
import scipy.sparse

from gppnmf_core.io import ReadOptions
from tests.fuzz.seeds import zip_stored

MIB = 2**20


@dataclass(frozen=True)
class BadCase:
    """One bad file and what reading it must say."""

    filename: str
    data: bytes
    match: str
    options: ReadOptions | None = None
    env: dict[str, str] | None = None
    marker: Path | None = None


CASES: list[Callable[[Path], BadCase]] = []


def case(func: Callable[[Path], BadCase]) -> Callable[[Path], BadCase]:
    CASES.append(func)
    return func


# ---------------------------------------------------------------------------------------------- helpers


class _CreatesFile:
    """Pickles to a call of ``open(path, "w")``: unpickling it would create ``path``."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def npy_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def npz_bytes(compressed: bool = False, **arrays) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


def pickled_object_array(marker: Path) -> np.ndarray:
    array = np.empty((2, 2), dtype=object)
    array[0, 0] = _CreatesFile(marker)
    array[0, 1] = array[1, 0] = array[1, 1] = 1.0
    return array


def small_fids(shape=(2, 2, 1, 64)) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(shape[-1]) * 5e-4
    signal = np.exp((2j * np.pi * 50.0 - np.pi * 10.0) * t)
    return (signal * (1.0 + rng.random(shape[:-1]))[..., None]).astype(np.complex64)


def nifti_bytes(array: np.ndarray, meta: dict | bytes | None = None, dwell: float = 5e-4,
                intent: bytes = b"mrs_v0_3", version: int = 2) -> bytes:
    """A single-file NIfTI with any dtype, optional ecode-44 extension (dict → JSON, or raw bytes)."""
    image = (nib.Nifti2Image if version == 2 else nib.Nifti1Image)(array, np.eye(4))
    header = image.header
    header.set_xyzt_units("mm", "sec")
    if array.ndim >= 4:
        header.set_zooms((10.0, 10.0, 10.0, dwell) + (1.0,) * (array.ndim - 4))
    header["intent_name"] = intent
    if meta is not None:
        content = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
        header.extensions.append(nib.nifti1.Nifti1Extension(44, content))
    return image.to_bytes()


MRS_META = {"SpectrometerFrequency": [25.85], "ResonantNucleus": ["31P"]}


def zeros_gzip(prefix: bytes, n_zeros: int) -> bytes:
    """gzip of ``prefix`` followed by ``n_zeros`` zero bytes, streamed 1 MiB at a time."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [compressor.compress(prefix)]
    chunk = bytes(MIB)
    for start in range(0, n_zeros, MIB):
        parts.append(compressor.compress(chunk[: min(MIB, n_zeros - start)]))
    parts.append(compressor.flush())
    return b"".join(parts)


# ------------------------------------------------------------------------------------------------ .npy


@case
def empty_npy(tmp: Path) -> BadCase:
    return BadCase("empty.npy", b"", r"empty\.npy is empty \(0 bytes\)")


@case
def damaged_npy_header(tmp: Path) -> BadCase:
    return BadCase("broken.npy", b"\x93NUMPY this is not really an array", r"broken\.npy: the \.npy header is damaged")


@case
def truncated_npy(tmp: Path) -> BadCase:
    full = npy_bytes(np.ones((64, 512)))
    return BadCase("truncated.npy", full[: len(full) // 3],
                   r"truncated\.npy is truncated: its header declares 64×512 float64 values \(256 KiB\) "
                   r"but only 85\.2 KiB of data follow")


@case
def huge_declared_npy(tmp: Path) -> BadCase:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (100000, 100000)})
    return BadCase("huge.npy", header.getvalue() + bytes(64),
                   r"huge\.npy: its header declares shape 100000×100000 of float64 \(74\.5 GiB\), more than the "
                   r"512 MiB this server reads")


@case
def pickled_npy(tmp: Path) -> BadCase:
    marker = tmp / "pickle_ran_npy.txt"
    return BadCase("objects.npy", npy_bytes(pickled_object_array(marker), allow_pickle=True),
                   r"objects\.npy contains Python objects \(pickled data\), which are never loaded for safety",
                   marker=marker)


@case
def structured_npy(tmp: Path) -> BadCase:
    array = np.zeros((4, 3), dtype=[("a", "f8"), ("b", "i4")])
    return BadCase("records.npy", npy_bytes(array), r"records\.npy holds a structured \(record\) array")


@case
def strings_npy(tmp: Path) -> BadCase:
    return BadCase("words.npy", npy_bytes(np.array([["a", "b"], ["c", "d"]])), r"words\.npy holds text \(dtype <U1\)")


@case
def one_dimensional_npy(tmp: Path) -> BadCase:
    return BadCase("vector.npy", npy_bytes(np.arange(1.0, 11.0)),
                   r"vector\.npy holds a one-dimensional array \(10 values\): need features × observations")


@case
def one_feature_npy(tmp: Path) -> BadCase:
    return BadCase("row.npy", npy_bytes(np.ones((1, 50))),
                   r"row\.npy: the data have only 1 feature .*choose 'observations first'")


@case
def nan_npy(tmp: Path) -> BadCase:
    array = np.ones((20, 10))
    array[3, 4] = array[5, 6] = array[7, 8] = np.nan
    return BadCase("holes.npy", npy_bytes(array), r"holes\.npy contains 3 NaN value\(s\) among 200 \(20×10\)")


@case
def all_zero_npy(tmp: Path) -> BadCase:
    return BadCase("zeros.npy", npy_bytes(np.zeros((16, 8))), r"zeros\.npy: all values are zero")


@case
def complex_as_spectra_npy(tmp: Path) -> BadCase:
    array = np.ones((16, 8)) + 1j
    return BadCase("complex.npy", npy_bytes(array),
                   r"complex\.npy contains complex values; choose 'FID' as the content if these are time-domain",
                   options=ReadOptions(kind="spectra"))


@case
def real_as_fid_npy(tmp: Path) -> BadCase:
    return BadCase("real.npy", npy_bytes(np.ones((16, 8))), r"real\.npy holds real values, but FIDs .* are complex",
                   options=ReadOptions(kind="fid"))


@case
def wrong_grid_npy(tmp: Path) -> BadCase:
    return BadCase("grid.npy", npy_bytes(np.ones((64, 100))),
                   r"grid\.npy: grid_shape \(3, 3\) \(from the options\) has 9 points, but the array is 64×100",
                   options=ReadOptions(grid_shape=(3, 3)))


@case
def wrong_grid_explicit_npy(tmp: Path) -> BadCase:
    return BadCase("grid2.npy", npy_bytes(np.ones((64, 100))),
                   r"grid2\.npy: grid_shape \(4, 4, 4\) \(from the options\) has 64 points, but the data have "
                   r"L = 100 observations",
                   options=ReadOptions(grid_shape=(4, 4, 4), orientation="features_first"))


@case
def ambiguous_3d_npy(tmp: Path) -> BadCase:
    return BadCase("cube.npy", npy_bytes(np.ones((8, 512, 8))),
                   r"cube\.npy: cannot tell which axis of the 8×512×8 array holds the features")


@case
def zip_named_npy(tmp: Path) -> BadCase:
    return BadCase("data.npy", npz_bytes(X=np.ones((4, 4))),
                   r"data\.npy is not a NumPy \.npy file \(it looks like a ZIP archive; rename it \.npz\?\)")


@case
def csv_named_npy(tmp: Path) -> BadCase:
    return BadCase("table.npy", b"1,2,3\n4,5,6\n",
                   r"table\.npy is not a NumPy \.npy file \(it looks like text; rename it \.csv\?\)")


# ------------------------------------------------------------------------------------------------ .npz


@case
def truncated_npz(tmp: Path) -> BadCase:
    full = npz_bytes(X=np.ones((64, 64)), ppm=np.arange(64.0))
    return BadCase("cut.npz", full[: len(full) // 2], r"cut\.npz is not a complete ZIP archive .*truncated")


@case
def corrupted_crc_npz(tmp: Path) -> BadCase:
    data = bytearray(npz_bytes(X=np.arange(1.0, 4097.0).reshape(64, 64)))
    data[len(data) // 2] ^= 0xFF  # inside the stored member's data: the CRC-32 no longer matches
    return BadCase("flipped.npz", bytes(data), r"flipped\.npz is damaged: member 'X\.npy' cannot be decompressed")


@case
def pickled_in_npz(tmp: Path) -> BadCase:
    marker = tmp / "pickle_ran_npz.txt"
    buffer = io.BytesIO()
    np.savez(buffer, X=pickled_object_array(marker))  # np.savez pickles object arrays
    return BadCase("objects.npz", buffer.getvalue(),
                   r"objects\.npz: member 'X' contains Python objects \(pickled data\), which are never loaded",
                   marker=marker)


@case
def zip_bomb_npz(tmp: Path) -> BadCase:
    n = 64 * MIB
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (n // 8 // 64, 64)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("X.npy", "w", force_zip64=True) as member:
            member.write(header.getvalue())
            chunk = bytes(MIB)
            for _ in range(n // MIB):
                member.write(chunk)
    return BadCase("bomb.npz", buffer.getvalue(), r"bomb\.npz looks like a zip bomb: member 'X\.npy' would expand")


@case
def ambiguous_npz(tmp: Path) -> BadCase:
    return BadCase("two.npz", npz_bytes(a=np.ones((4, 4)), b=np.ones((4, 4))),
                   r"two\.npz holds several arrays \(a, b\) and none is named 'X'")


@case
def npz_without_arrays(tmp: Path) -> BadCase:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("readme.txt", "no arrays here")
    return BadCase("notes.npz", buffer.getvalue(), r"notes\.npz is a ZIP archive without NumPy arrays")


@case
def xlsx_unknown_extension(tmp: Path) -> BadCase:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
    return BadCase("table.xlsx", buffer.getvalue(), r"table\.xlsx: '\.xlsx' files are not supported; upload one of")


@case
def no_extension(tmp: Path) -> BadCase:
    return BadCase("spectra", b"1,2\n3,4\n", r"spectra: files without an extension are not supported")


# ------------------------------------------------------------------------------------------------- text


@case
def empty_csv(tmp: Path) -> BadCase:
    return BadCase("blank.csv", b"\n   \n\n", r"blank\.csv is empty: it has no rows of numbers")


@case
def header_only_csv(tmp: Path) -> BadCase:
    return BadCase("header.csv", b"ppm,voxel 1,voxel 2\n", r"header\.csv has a header row but no rows of numbers")


@case
def ragged_csv(tmp: Path) -> BadCase:
    return BadCase("ragged.csv", b"1,2,3,4\n5,6,7,8\n9,10,11\n12,13,14,15\n",
                   r"ragged\.csv: row 3 has 3 values but row 1 has 4")


@case
def non_numeric_cell_csv(tmp: Path) -> BadCase:
    return BadCase("cell.csv", b"ppm,a,b\n1,2,3\n2,3,4\n3,abc,5\n4,5,6\n",
                   r"cell\.csv: row 4, column 2: 'abc' is not a number")


@case
def missing_value_csv(tmp: Path) -> BadCase:
    return BadCase("gap.tsv", b"1\t2\t3\n4\t\t6\n7\t8\t9\n", r"gap\.tsv: row 2, column 2 is empty \(a missing value\)")


@case
def inf_csv(tmp: Path) -> BadCase:
    return BadCase("inf.csv", b"1,2,3\n4,5,6\n7,inf,9\n10,11,12\n",
                   r"inf\.csv contains 1 NaN or Inf value\(s\), the first at row 3, column 2")


@case
def complex_in_csv(tmp: Path) -> BadCase:
    return BadCase("fid.csv", b"1+2j,3-1j\n2+0.5j,1+1j\n",
                   r"fid\.csv: row 1, column 1: '1\+2j' is a complex number, but text files must hold real spectra")


@case
def decimal_comma_csv(tmp: Path) -> BadCase:
    return BadCase("europe.csv", b"1,5;2,5\n3,5;4,5\n", r"europe\.csv: row 1, column 1: '1,5' is not a number "
                                                        r"\(decimal commas are not supported")


@case
def one_observation_csv(tmp: Path) -> BadCase:
    return BadCase("single.csv", b"1\n2\n3\n4\n", r"single\.csv: the data have only 1 observation")


@case
def text_garbage_csv(tmp: Path) -> BadCase:
    return BadCase("letter.txt", b"Dear colleague,\nplease find the spectra attached.\n",
                   r"letter\.txt: row 2, column 1: 'please find the spectra attached\.' is not a number")


@case
def binary_garbage_csv(tmp: Path) -> BadCase:
    data = np.random.default_rng(7).integers(0, 256, 2048, dtype=np.uint8).tobytes()
    return BadCase("noise.csv", data, r"noise\.csv is not a text table \(it looks like binary data")


@case
def ppm_range_without_axis_csv(tmp: Path) -> BadCase:
    return BadCase("plain.csv", b"1,2,3\n4,5,6\n7,8,1\n", r"plain\.csv: ppm_range needs a ppm axis",
                   options=ReadOptions(ppm_range=(-20.0, 10.0)))


# -------------------------------------------------------------------------------------------------- .mat


@case
def matlab_v73(tmp: Path) -> BadCase:
    head = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    data = head.ljust(512, b" ") + b"\x89HDF\r\n\x1a\n" + bytes(256)
    return BadCase("big.mat", data, r"big\.mat is a MATLAB v7\.3 \(HDF5\) file, which is not supported; save it "
                                    r"with save\(\.\.\., '-v7'\)")


@case
def matlab_only_strings(tmp: Path) -> BadCase:
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"label": "brain spectra", "info": {"site": "Oxford"}})
    return BadCase("labels.mat", buffer.getvalue(), r"labels\.mat holds no numeric array to read \(variables: "
                                                    r"label \(char\), info \(struct\)\)")


@case
def matlab_garbage(tmp: Path) -> BadCase:
    data = b"MATLAB 5.0 MAT-file".ljust(116, b" ") + bytes(8) + b"\x00\x01IM" + bytes(7) + b"\xff" * 64
    return BadCase("garbage.mat", data, r"garbage\.mat is not a MAT-file that can be read, or it is damaged")


@case
def text_named_mat(tmp: Path) -> BadCase:
    return BadCase("numbers.mat", b"1,2,3\n4,5,6\n", r"numbers\.mat is not a MATLAB MAT-file \(it looks like text; "
                                                     r"rename it \.csv\?\)")


# ------------------------------------------------------------------------------------------------ NIfTI


@case
def png_named_nii(tmp: Path) -> BadCase:
    data = b"\x89PNG\r\n\x1a\n" + bytes(512)
    return BadCase("scan.nii", data, r"scan\.nii is not a NIfTI file \(it looks like a PNG image\)")


@case
def short_nii(tmp: Path) -> BadCase:
    full = nifti_bytes(small_fids(), MRS_META)
    return BadCase("short.nii", full[:100], r"short\.nii is too short \(100 bytes\) to hold the NIfTI header")


@case
def nifti_image_not_mrs(tmp: Path) -> BadCase:
    data = nifti_bytes(np.ones((8, 8, 8), dtype=np.float32), intent=b"")
    return BadCase("t1.nii", data, r"t1\.nii is a NIfTI image but not NIfTI-MRS \(no complex FIDs, no MRS header "
                                   r"extension\): it holds a 3-D float32 array of shape 8×8×8")


@case
def nifti_mrs_real_dtype(tmp: Path) -> BadCase:
    data = nifti_bytes(np.ones((2, 2, 1, 64), dtype=np.float32), MRS_META)
    return BadCase("real.nii", data, r"real\.nii is labelled NIfTI-MRS but stores real float32 values")


@case
def nifti_complex_3d(tmp: Path) -> BadCase:
    data = nifti_bytes(small_fids()[:, :, 0, :], MRS_META)
    return BadCase("flat.nii", data, r"flat\.nii is a NIfTI image but not NIfTI-MRS \(fewer than 4 dimensions")


@case
def nifti_without_mrs_extension(tmp: Path) -> BadCase:
    data = nifti_bytes(small_fids(), None)
    return BadCase("bare.nii", data, r"bare\.nii is a NIfTI image but not NIfTI-MRS \(no MRS header extension "
                                     r"\(ecode 44\)")


@case
def nifti_bad_json(tmp: Path) -> BadCase:
    data = nifti_bytes(small_fids(), b'{"SpectrometerFrequency": [25.85], oops')
    return BadCase("json.nii", data, r"json\.nii: the NIfTI-MRS header extension is not valid JSON")


@case
def nifti_zero_dwell(tmp: Path) -> BadCase:
    data = nifti_bytes(small_fids(), MRS_META, dwell=0.0)
    return BadCase("dwell.nii", data, r"dwell\.nii: the dwell time \(pixdim\[4\]\) is 0")


@case
def nifti_other_index_beyond_dimension(tmp: Path) -> BadCase:
    fids = np.repeat(small_fids()[..., None], 2, axis=-1)[..., None, None, :]  # dims 5, 6 singleton; 7 DIM_EDIT
    data = nifti_bytes(fids, {**MRS_META, "dim_7": "DIM_EDIT"})
    return BadCase("edit.nii", data, r"edit\.nii: other_index 3 is beyond dimension 7 \(DIM_EDIT, 2 entries",
                   options=ReadOptions(other_dims="index", other_index=3))


@case
def nifti_pair_header(tmp: Path) -> BadCase:
    data = bytearray(nifti_bytes(small_fids(), MRS_META, version=1))
    data[344:347] = b"ni1"
    return BadCase("pair.nii", bytes(data), r"pair\.nii is the header of a NIfTI \.hdr/\.img pair")


@case
def nifti_declares_more_than_present(tmp: Path) -> BadCase:
    image = nib.Nifti2Image(small_fids(), np.eye(4))
    header = image.header
    header.set_data_shape((16, 16, 16, 1024))
    header.set_xyzt_units("mm", "sec")
    header.set_zooms((10.0, 10.0, 10.0, 5e-4))
    header["intent_name"] = b"mrs_v0_3"
    header.extensions.append(nib.nifti1.Nifti1Extension(44, json.dumps(MRS_META).encode()))
    buffer = io.BytesIO()
    header.write_to(buffer)
    buffer.write(bytes(1024))
    return BadCase("claims.nii", buffer.getvalue(),
                   r"claims\.nii is truncated or damaged: its header declares 16×16×16×1024 complex64 values "
                   r"\(32 MiB\) but it holds only 1 KiB of data")


@case
def nifti_nan_fids(tmp: Path) -> BadCase:
    fids = small_fids()
    fids[0, 1, 0, 5] = np.nan
    return BadCase("nan.nii", nifti_bytes(fids, MRS_META), r"nan\.nii contains 1 NaN or Inf value\(s\) in its FIDs")


@case
def matlab_sparse_only(tmp: Path) -> BadCase:
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"X": scipy.sparse.eye(5, format="csc")})
    return BadCase("sparse.mat", buffer.getvalue(), r"sparse\.mat holds no numeric array to read \(variables: "
                                                    r"X \(sparse\)\); .*convert sparse matrices with full\(\)")


@case
def nifti_ppm_range_outside(tmp: Path) -> BadCase:
    data = nifti_bytes(small_fids(), MRS_META)
    return BadCase("window.nii", data, r"window\.nii: ppm_range \(100, 200\) keeps 0 point\(s\) of the spectrum",
                   options=ReadOptions(ppm_range=(100.0, 200.0)))


@case
def nifti_spectra_kind(tmp: Path) -> BadCase:
    data = nifti_bytes(small_fids(), MRS_META)
    return BadCase("kind.nii", data, r"kind\.nii: NIfTI-MRS holds complex FIDs \(time domain\), not spectra",
                   options=ReadOptions(kind="spectra"))


@case
def not_gzip_nii_gz(tmp: Path) -> BadCase:
    data = nifti_bytes(small_fids(), MRS_META)
    return BadCase("plain.nii.gz", data, r"plain\.nii\.gz is not a gzip-compressed NIfTI file \(it looks like an "
                                         r"uncompressed NIfTI file; rename it \.nii\?\)")


@case
def truncated_nii_gz(tmp: Path) -> BadCase:
    full = gzip.compress(nifti_bytes(small_fids((4, 4, 2, 256)), MRS_META))
    return BadCase("cut.nii.gz", full[: len(full) // 2], r"cut\.nii\.gz is truncated: its gzip stream ends")


@case
def gzip_without_nifti(tmp: Path) -> BadCase:
    return BadCase("notes.nii.gz", gzip.compress(b"these are my notes, not an image\n" * 100),
                   r"notes\.nii\.gz is gzip-compressed but does not contain a NIfTI file \(the decompressed content "
                   r"looks like text\)")


@case
def gzip_bomb_nii_gz(tmp: Path) -> BadCase:
    prefix = nifti_bytes(small_fids(), MRS_META)
    return BadCase("bomb.nii.gz", zeros_gzip(prefix, 64 * MIB),
                   r"bomb\.nii\.gz decompresses to more than 8 MiB, .*it looks like a gzip bomb",
                   env={"GPPNMF_MAX_DATA_BYTES": str(8 * MIB)})


@case
def gzip_header_declares_too_much(tmp: Path) -> BadCase:
    image = nib.Nifti2Image(small_fids(), np.eye(4))
    image.header.set_data_shape((64, 64, 64, 2048))
    buffer = io.BytesIO()
    image.header.write_to(buffer)
    return BadCase("huge.nii.gz", zeros_gzip(buffer.getvalue(), 4 * MIB),
                   r"huge\.nii\.gz: its header declares 64×64×64×2048 complex64 values \(4 GiB\), more than the "
                   r"512 MiB")


# ------------------------------------------------------------------- found by the security review / fuzzing


@case
def nifti_unknown_time_unit(tmp: Path) -> BadCase:
    image = nib.Nifti2Image(small_fids(), np.eye(4))
    image.header.set_zooms((10.0, 10.0, 10.0, 5e-4))
    image.header["xyzt_units"] = 80 + 2  # mm, and a time code that NIfTI does not define (nibabel: KeyError)
    image.header["intent_name"] = b"mrs_v0_3"
    image.header.extensions.append(nib.nifti1.Nifti1Extension(44, json.dumps(MRS_META).encode()))
    return BadCase("units.nii", image.to_bytes(), r"units\.nii: the NIfTI header's units field \(xyzt_units = 82\) "
                                                  r"holds the time unit code 80, which NIfTI does not define")


@case
def npz_empty_member_name(tmp: Path) -> BadCase:
    data = zip_stored([(b"", npy_bytes(np.ones((4, 4))))])  # zipfile's ZipInfo.is_dir() raises IndexError on it
    return BadCase("nameless.npz", data, r"nameless\.npz is a ZIP archive without NumPy arrays \(members: ''\)")


@case
def matlab_same_name_twice(tmp: Path) -> BadCase:
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"X": np.ones((3, 3)), "Y": scipy.sparse.eye(3, format="csc")})
    data = buffer.getvalue().replace(b"Y\x00\x00\x00", b"X\x00\x00\x00")  # whosmat: X double and X sparse
    return BadCase("twice.mat", data, r"twice\.mat holds two variables named 'X' \(double and sparse\)")


@case
def nifti_deeply_nested_json(tmp: Path) -> BadCase:
    data = nifti_bytes(small_fids(), b"[" * 100_000)  # json.loads: RecursionError
    return BadCase("nested.nii", data, r"nested\.nii: the NIfTI-MRS header extension nests JSON lists or objects "
                                       r"too deeply")


@case
def nifti_frequency_beyond_float(tmp: Path) -> BadCase:
    data = nifti_bytes(small_fids(), b'{"SpectrometerFrequency": 1' + b"0" * 400 + b"}")  # float(): OverflowError
    return BadCase("sf.nii", data, r"sf\.nii: the NIfTI-MRS header has no valid SpectrometerFrequency")


@case
def nifti_axis_beyond_float(tmp: Path) -> BadCase:
    data = nifti_bytes(small_fids(), {"SpectrometerFrequency": [1e-320], "ResonantNucleus": ["31P"]})
    return BadCase("axis.nii", data, r"axis\.nii: the dwell time .* give a spectral axis beyond the range of numbers")


@case
def values_too_large_npy(tmp: Path) -> BadCase:
    array = np.ones((8, 4))
    array[2, 1], array[5, 3] = 1.7e308, -1.7e308  # finite, but differences overflow
    return BadCase("huge_values.npy", npy_bytes(array), r"huge_values\.npy: the values are too large to work with")


@case
def too_many_cells_csv(tmp: Path) -> BadCase:
    return BadCase("long.csv", b"1,2\n" * 2_500_000, r"long\.csv has up to 5,000,001 cells or lines, more than "
                                                     r"the 4,000,000 a text table may have")


@case
def too_many_members_npz(tmp: Path) -> BadCase:
    data = zip_stored([(b"m%05d" % i, b"") for i in range(5000)])  # zipfile would parse them all first
    return BadCase("members.npz", data, r"members\.npz has 5000 members; .*at most 64 are accepted")


@case
def matlab_too_many_variables(tmp: Path) -> BadCase:
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"a": 1.0})
    data = buffer.getvalue()
    data = data[:128] + data[128:] * 1000  # scipy's whosmat would list every one
    return BadCase("vars.mat", data, r"vars\.mat holds more than 256 variables")


def build_all(tmp: Path) -> list[tuple[str, BadCase]]:
    """Every case, built once: ``(case name, BadCase)``."""
    return [(func.__name__, func(tmp)) for func in CASES]


def main(directory: str | None = None) -> None:
    """Write the corpus (and an index of the expected messages) to ``directory``."""
    target = Path(directory or Path(__file__).parent / "data" / "bad_files")
    target.mkdir(parents=True, exist_ok=True)
    index = []
    for name, bad in build_all(target):
        path = target / f"{name}__{bad.filename}"
        path.write_bytes(bad.data)
        index.append({"case": name, "file": path.name, "match": bad.match, "env": bad.env,
                      "options": None if bad.options is None else bad.options.__dict__})
    (target / "index.json").write_text(json.dumps(index, indent=1, default=str))
    print(f"wrote {len(index)} bad files to {target}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
