"""Read a MATLAB MAT-file (v4 or v5/v7) with scipy.io, which never executes code from the file."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import numpy as np
import scipy.io

from .errors import DataFormatError
from .limits import check_budget, format_shape, prod
from .meta import DATA_NAMES, META_NAMES, ArrayMeta, meta_from_arrays
from .npy import check_numeric_dtype
from .sniff import HDF5_MAGIC, MAT73_TEXT, UNKNOWN_BINARY, describe_content, wrong_content

__all__ = ["read_mat", "MatContent"]

#: Bytes per element of each MATLAB numeric class (complex data take twice as many).
_CLASS_BYTES = {
    "double": 8, "single": 4, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4,
    "int64": 8, "uint64": 8, "logical": 1,
}


#: Most variables a MAT-file may hold: scipy lists every one in Python, and a crafted 64 MiB file can hold a
#: million (about 4 s per 250,000 variables). A data set needs a handful.
MAX_VARIABLES = 256
#: Bytes per element of MAT v4 precisions (the P digit of the type code).
_V4_BYTES = {0: 8, 1: 4, 2: 4, 3: 2, 4: 2, 5: 1}


@dataclass
class MatContent:
    """The data array of a MAT-file, its variable name, the metadata found and all variables."""

    array: np.ndarray
    name: str
    meta: ArrayMeta
    names: tuple[str, ...]


def _check_header(data, filename: str) -> None:
    head = bytes(data[:128])
    if head.startswith(MAT73_TEXT) or bytes(data[512:520]) == HDF5_MAGIC:
        raise DataFormatError(
            f"{filename} is a MATLAB v7.3 (HDF5) file, which is not supported; save it with "
            f"save(..., '-v7') in MATLAB, or export to .npz/.csv"
        )
    if head.startswith(b"MATLAB"):
        return
    if describe_content(data)[0] != UNKNOWN_BINARY:
        raise wrong_content(filename, "a MATLAB MAT-file", data)
    # No text header: possibly a MATLAB v4 file, which scipy recognises by its binary layout.


def _count_v5(data, stop: int) -> int:
    """Top-level elements of a v5 file, walked as scipy walks them (tag, byte count), counting up to ``stop``."""
    order = {b"IM": "<", b"MI": ">"}.get(bytes(data[126:128]))
    if order is None:
        return 0
    pos, count = 128, 0
    while pos + 8 <= len(data) and count <= stop:
        mdtype, nbytes = struct.unpack_from(order + "II", data, pos)
        if mdtype >> 16:  # a "small data element" tag: the byte count is in the upper half
            nbytes = mdtype >> 16
        if nbytes == 0:
            break
        count += 1
        pos += 8 + nbytes
    return count


def _count_v4(data, stop: int) -> int:
    """Variables of a v4 file (20-byte header, name, data), counted up to ``stop``."""
    (mopt,) = struct.unpack_from("<i", data, 0) if len(data) >= 4 else (-1,)
    order = "<" if 0 <= mopt < 5000 else ">"
    pos, count = 0, 0
    while pos + 20 <= len(data) and count <= stop:
        mopt, rows, cols, imagf, namlen = struct.unpack_from(order + "5i", data, pos)
        itemsize = _V4_BYTES.get((mopt // 10) % 10) if 0 <= mopt < 5000 else None
        if itemsize is None or min(rows, cols, namlen) < 0:
            break
        count += 1
        pos += 20 + namlen + rows * cols * itemsize * (2 if imagf else 1)
    return count


def _check_count(data, filename: str) -> None:
    text_header = bytes(data[:6]) == b"MATLAB"
    count = (_count_v5 if text_header else _count_v4)(data, MAX_VARIABLES)
    if count > MAX_VARIABLES:
        raise DataFormatError(f"{filename} holds more than {MAX_VARIABLES} variables; a data set needs a few "
                              f"(the data, its axis and grid): save only those")


def _classes(listing: list[tuple], filename: str) -> dict[str, str]:
    """Variable name -> MATLAB class; a name listed twice (only a crafted file has that) is refused."""
    classes: dict[str, str] = {}
    for name, _, cls in listing:
        if name in classes:
            raise DataFormatError(f"{filename} holds two variables named '{name}' ({classes[name]} and {cls}); "
                                  f"a MAT-file saved by MATLAB never does, so the file is damaged")
        classes[name] = cls
    return classes


def _choose(numeric: dict[str, tuple], others: dict[str, str], filename: str) -> str:
    for name in DATA_NAMES:
        if name in numeric:
            return name
    candidates = [n for n, shape in numeric.items() if n not in META_NAMES and prod(shape) > 1]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        listed = ", ".join(f"{n} ({c})" for n, c in others.items()) or "none"
        hint = " (convert sparse matrices with full())" if "sparse" in others.values() else ""
        raise DataFormatError(f"{filename} holds no numeric array to read (variables: {listed}); "
                              f"save the data as a numeric matrix{hint}, e.g. save('file.mat', 'X')")
    raise DataFormatError(
        f"{filename} holds several numeric arrays ({', '.join(candidates)}) and none is named "
        f"{', '.join(repr(n) for n in DATA_NAMES)}; name the data variable 'X'"
    )


def read_mat(data, filename: str) -> MatContent:
    """Read the data array and optional metadata of a MAT-file.

    The variables are listed first (``scipy.io.whosmat``, which reads no
    data); the declared size of the chosen one is checked against the limit
    before it is loaded. The data variable is 'X', 'data', 'spectra' or 'fid'
    (in that order), else the only numeric array with more than one element
    that is not metadata. Optional variables as in .npz: 'ppm', 'grid_shape',
    'spectrometer_mhz', 'dwell_time', 'reference_ppm'. Strings, cells,
    structs, objects and sparse matrices are never used as data.
    v7.3 files (HDF5) are refused with advice.

    Parameters
    ----------
    data : bytes
        The file's content.
    filename : str
        Name used in messages.

    Returns
    -------
    MatContent
    """
    if len(data) == 0:
        raise DataFormatError(f"{filename} is empty (0 bytes)")
    _check_header(data, filename)
    _check_count(data, filename)
    try:
        listing = scipy.io.whosmat(io.BytesIO(data))
    except Exception as exc:  # scipy raises many types for damaged files
        raise DataFormatError(f"{filename} is not a MAT-file that can be read, or it is damaged ({exc})") from None
    classes = _classes(listing, filename)
    numeric = {name: shape for name, shape, cls in listing if cls in _CLASS_BYTES}
    others = {name: cls for name, cls in classes.items() if cls not in _CLASS_BYTES}
    name = _choose(numeric, others, filename)
    cls = classes[name]
    # Complex data take twice the bytes of the class; count them so without knowing.
    check_budget(2 * prod(numeric[name]) * _CLASS_BYTES[cls], filename,
                 f"variable '{name}' ({format_shape(numeric[name])} {cls}) would take up to")
    wanted = [name] + [m for m in META_NAMES if m in numeric and m != name]
    try:
        loaded = scipy.io.loadmat(io.BytesIO(data), variable_names=wanted, squeeze_me=False)
    except Exception as exc:
        raise DataFormatError(f"{filename}: variable '{name}' could not be read; the file may be damaged ({exc})") \
            from None
    if name not in loaded:
        raise DataFormatError(f"{filename}: variable '{name}' is listed in the file but could not be read; "
                              f"the file is damaged")
    array = np.asarray(loaded[name])
    check_numeric_dtype(array.dtype, f"{filename}: variable '{name}'")
    found = {m: loaded[m] for m in wanted[1:] if m in loaded}
    meta = meta_from_arrays(found, filename, "variable")
    return MatContent(array=array, name=name, meta=meta, names=tuple(n for n, _, _ in listing))
