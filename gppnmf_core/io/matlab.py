"""Read a MATLAB MAT-file (v4 or v5/v7) with scipy.io, which never executes code from the file."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import scipy.io

from .array_metadata import META_NAMES, ArrayMeta, choose_data, list_candidates, meta_from_arrays
from .errors import DataFormatError
from .limits import check_budget, format_shape, max_bytes, prod
from .npy import check_numeric_dtype
from .sniff import HDF5_MAGIC, MAT73_TEXT, UNKNOWN_BINARY, describe_content, wrong_content

__all__ = ["read_mat", "list_mat", "MatContent"]

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


#: NumPy dtype -> MATLAB class, to name struct fields as MATLAB does.
_NUMPY_CLASSES = {"float64": "double", "float32": "single", "bool": "logical", "complex128": "double",
                  "complex64": "single"}


def _inflate_count(data, start: int, stop: int, cap: int, filename: str) -> int:
    """Bytes a zlib stream ``data[start:stop]`` inflates to, counted up to just over ``cap``, 64 KiB at a time."""
    inflater = zlib.decompressobj()
    count = 0
    try:
        for pos in range(start, stop, 1 << 16):
            pending = bytes(data[pos:min(pos + (1 << 16), stop)])
            while pending and count <= cap:
                count += len(inflater.decompress(pending, 1 << 20))
                pending = inflater.unconsumed_tail
            if count > cap or inflater.eof:
                break
    except zlib.error as exc:
        raise DataFormatError(f"{filename} is damaged: a compressed variable cannot be inflated ({exc})") from None
    return count


def _inflated_size(data, filename: str, limit: int) -> int:
    """Bytes of a v5 file once its compressed elements are inflated, counted in a stream up to ``limit`` + 1.

    Struct variables have no declared size (``whosmat`` gives only their
    dimensions), so before one is loaded the whole file is inflated in a
    stream, never holding more than 1 MiB of it.
    """
    order = {b"IM": "<", b"MI": ">"}.get(bytes(data[126:128]))
    if order is None:
        return len(data)
    pos, total = 128, 128
    while pos + 8 <= len(data) and total <= limit:
        mdtype, nbytes = struct.unpack_from(order + "II", data, pos)
        if mdtype >> 16:  # a "small data element": 4 bytes of data in the tag itself
            pos += 8
            total += 8
            continue
        if nbytes == 0:
            break
        body = pos + 8
        if mdtype == 15:  # miCOMPRESSED: a zlib stream
            total += _inflate_count(data, body, min(body + nbytes, len(data)), limit - total, filename)
        else:
            total += 8 + nbytes
        pos = body + nbytes
    return total


def _struct_fields(data, filename: str, structs: list[str]) -> dict[str, np.ndarray]:
    """The numeric fields of 1×1 struct variables, one level deep, named ``struct.field``."""
    if not structs:
        return {}
    limit = max_bytes()
    if _inflated_size(data, filename, limit) > limit:
        check_budget(limit + 1, filename, f"its struct variables ({', '.join(structs)}) would take more than")
    try:
        loaded = scipy.io.loadmat(io.BytesIO(data), variable_names=structs, squeeze_me=False)
    except Exception as exc:
        raise DataFormatError(f"{filename}: struct variable(s) {', '.join(structs)} could not be read; the file may "
                              f"be damaged ({exc})") from None
    fields = {}
    for name in structs:
        value = loaded.get(name)
        if not isinstance(value, np.ndarray) or value.dtype.names is None or value.size != 1:
            continue
        record = value.reshape(-1)[0]
        for field_name in value.dtype.names:
            item = record[field_name]
            if isinstance(item, np.ndarray) and item.dtype.kind in "biufc" and item.dtype.names is None \
                    and item.size > 0:
                fields[f"{name}.{field_name}"] = item
    return fields


def _listing(data, filename: str) -> tuple[list[tuple], dict[str, str], dict[str, np.ndarray]]:
    """Checks, then (numeric variables and struct fields as (name, shape, class), other classes, struct fields)."""
    if len(data) == 0:
        raise DataFormatError(f"{filename} is empty (0 bytes)")
    _check_header(data, filename)
    _check_count(data, filename)
    try:
        listing = scipy.io.whosmat(io.BytesIO(data))
    except Exception as exc:  # scipy raises many types for damaged files
        raise DataFormatError(f"{filename} is not a MAT-file that can be read, or it is damaged ({exc})") from None
    classes = _classes(listing, filename)
    numeric = [(name, tuple(shape), cls) for name, shape, cls in listing if cls in _CLASS_BYTES]
    others = {name: cls for name, cls in classes.items() if cls not in _CLASS_BYTES}
    fields = _struct_fields(data, filename, [n for n, c in others.items() if c == "struct"])
    numeric += [(name, tuple(value.shape), _NUMPY_CLASSES.get(value.dtype.name, value.dtype.name))
                for name, value in fields.items()]
    return numeric, others, fields


def list_mat(data, filename: str) -> list[tuple[str, tuple, str]]:
    """The numeric variables of a MAT-file, and the numeric fields of its 1×1 structs (``struct.field``).

    Parameters
    ----------
    data : bytes
        The file's content.
    filename : str
        Name used in messages.

    Returns
    -------
    list of (name, shape, MATLAB class)
    """
    return _listing(data, filename)[0]


def _no_data(others: dict[str, str], filename: str) -> DataFormatError:
    listed = ", ".join(f"{n} ({c})" for n, c in others.items()) or "none"
    hint = " (convert sparse matrices with full())" if "sparse" in others.values() else ""
    return DataFormatError(f"{filename} holds no numeric array to read (variables: {listed}); "
                           f"save the data as a numeric matrix{hint}, e.g. save('file.mat', 'X')")


def _load(data, filename: str, names: list[str], fields: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    top = [n for n in names if n not in fields]
    loaded = {}
    if top:
        try:
            loaded = scipy.io.loadmat(io.BytesIO(data), variable_names=top, squeeze_me=False)
        except Exception as exc:
            raise DataFormatError(f"{filename}: variable '{top[0]}' could not be read; the file may be damaged "
                                  f"({exc})") from None
    return {n: (fields[n] if n in fields else loaded[n]) for n in names if n in fields or n in loaded}


def read_mat(data, filename: str, variable: str | None = None, axis_variable: str | None = None,
             axis_unit: str = "auto") -> MatContent:
    """Read the data array and optional metadata of a MAT-file.

    The variables are listed first (``scipy.io.whosmat``, which reads no
    data); the declared size of the chosen one is checked against the limit
    before it is loaded. 1×1 structs are looked into one level deep: their
    numeric fields count as variables named ``struct.field`` (a file holding
    structs is first inflated in a stream to check its size). The data
    variable is ``variable`` when given, else 'X', 'data', 'spectra' or 'fid'
    (in that order), else the only numeric array with more than one element
    that is not metadata; when several could be the data the message lists
    them (name, shape, class). Optional variables as in .npz: the feature
    axis (``axis_variable``, default 'ppm'), 'grid_shape', 'spectrometer_mhz',
    'dwell_time', 'reference_ppm' — for a struct field, looked up in the same
    struct first. Strings, cells, objects and sparse matrices are never used
    as data. v7.3 files (HDF5) are refused with advice.

    Parameters
    ----------
    data : bytes
        The file's content.
    filename : str
        Name used in messages.
    variable, axis_variable : str, optional
        The variables (or ``struct.field``) holding the data and the feature axis.
    axis_unit : {"auto", "ppm", "Hz"}
        Unit of the axis variable; "auto" decides from its name.

    Returns
    -------
    MatContent
    """
    numeric, others, fields = _listing(data, filename)
    shapes = {name: shape for name, shape, _ in numeric}
    for role, chosen_name in (("data", variable), ("axis", axis_variable)):
        if chosen_name is not None and chosen_name not in shapes:
            what = f" It is {others[chosen_name]}, not numbers." if chosen_name in others else ""
            raise DataFormatError(f"{filename} holds no numeric variable named '{chosen_name}' (the one chosen as "
                                  f"the {role}).{what} Its numeric variables: {list_candidates(numeric) or 'none'}")
    name = choose_data(numeric, filename, "variable", variable=variable, axis_name=axis_variable)
    if name is None:
        raise _no_data(others, filename)
    if name not in fields:
        cls = dict((n, c) for n, _, c in numeric)[name]
        # Complex data take twice the bytes of the class; count them so without knowing.
        check_budget(2 * prod(shapes[name]) * _CLASS_BYTES[cls], filename,
                     f"variable '{name}' ({format_shape(shapes[name])} {cls}) would take up to")
    prefix = name.rsplit(".", 1)[0] + "." if "." in name else ""
    companions = {}
    for meta_name in [m for m in META_NAMES if m != "ppm"] + [axis_variable or "ppm"]:
        for full in (meta_name, prefix + meta_name) if prefix and "." not in meta_name else (meta_name,):
            if full in shapes and full != name:
                companions[meta_name] = full  # the struct's own field wins over a top-level variable
    loaded = _load(data, filename, [name, *dict.fromkeys(companions.values())], fields)
    if name not in loaded:
        raise DataFormatError(f"{filename}: variable '{name}' is listed in the file but could not be read; "
                              f"the file is damaged")
    array = np.asarray(loaded[name])
    check_numeric_dtype(array.dtype, f"{filename}: variable '{name}'")
    found = {m: loaded[full] for m, full in companions.items() if full in loaded}
    meta = meta_from_arrays(found, filename, "variable", axis_name=axis_variable, axis_unit=axis_unit)
    return MatContent(array=array, name=name, meta=meta, names=tuple(n for n, _, _ in numeric) + tuple(others))
