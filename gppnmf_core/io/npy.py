"""Read a NumPy ``.npy`` file safely: header checked before any data is loaded, pickles never loaded."""

from __future__ import annotations

import io

import numpy as np

from .errors import DataFormatError
from .limits import check_budget, format_bytes, format_shape, prod
from .sniff import NPY_MAGIC, wrong_content

__all__ = ["read_npy", "check_numeric_dtype"]

_NUMERIC_KINDS = "biufc"


def check_numeric_dtype(dtype: np.dtype, where: str) -> None:
    """Raise DataFormatError unless ``dtype`` holds plain numbers (bool, integer, float, complex)."""
    if dtype.hasobject:
        raise DataFormatError(
            f"{where} contains Python objects (pickled data), which are never loaded for safety; "
            f"save a plain numeric array (np.save with a float or complex dtype)"
        )
    if dtype.names is not None:
        raise DataFormatError(f"{where} holds a structured (record) array with fields {list(dtype.names)}; "
                              f"save a plain numeric array instead")
    if dtype.kind in "US":
        raise DataFormatError(f"{where} holds text (dtype {dtype}), not numbers")
    if dtype.kind in "mM":
        raise DataFormatError(f"{where} holds dates or times (dtype {dtype}), not numbers")
    if dtype.kind not in _NUMERIC_KINDS:
        raise DataFormatError(f"{where} holds dtype {dtype}, which is not a numeric type")


def read_npy(data, filename: str, where: str | None = None) -> np.ndarray:
    """Load the array of an ``.npy`` file after checking its header.

    The header is parsed first (``numpy.lib.format``): the dtype must be
    numeric (object arrays, i.e. pickles, are refused without being touched),
    the declared size must fit the limit and be present in the file; only then
    is the array loaded with ``np.load(..., allow_pickle=False)``.

    Parameters
    ----------
    data : bytes
        The file's content.
    filename : str
        The file's name (used to check the content against the extension).
    where : str, optional
        How to name the array in messages (default: the file name), e.g.
        ``"spectra.npz: member 'X'"``.

    Returns
    -------
    ndarray
        The array, of any shape.
    """
    where = where or filename
    if len(data) == 0:
        raise DataFormatError(f"{where} is empty (0 bytes)")
    if bytes(data[:6]) != NPY_MAGIC:
        if where == filename:
            raise wrong_content(filename, "a NumPy .npy file", data)
        raise DataFormatError(f"{where} is not a NumPy array (no .npy header)")
    fp = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version in ((2, 0), (3, 0)):
            # 3.0 differs from 2.0 only in allowing UTF-8 in the header text.
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise DataFormatError(f"{where}: the .npy header is damaged (it gives format version "
                                  f"{version[0]}.{version[1]}, which does not exist)")
    except DataFormatError:
        raise
    except Exception as exc:  # any parser failure means a damaged header
        raise DataFormatError(f"{where}: the .npy header is damaged or truncated ({exc})") from None
    check_numeric_dtype(dtype, where)
    count = prod(shape)
    nbytes = count * dtype.itemsize
    if count == 0:
        raise DataFormatError(f"{where} holds an empty array (shape {tuple(shape)})")
    check_budget(nbytes, where, f"its header declares shape {format_shape(shape)} of {dtype.name}")
    available = len(data) - fp.tell()
    if nbytes > available:
        raise DataFormatError(
            f"{where} is truncated: its header declares {format_shape(shape)} {dtype.name} values "
            f"({format_bytes(nbytes)}) but only {format_bytes(max(available, 0))} of data follow "
            f"(an incomplete upload or copy?)"
        )
    fp.seek(0)
    try:
        return np.load(fp, allow_pickle=False)
    except Exception as exc:
        raise DataFormatError(f"{where} could not be loaded ({exc})") from None
