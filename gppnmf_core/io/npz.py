"""Read a NumPy ``.npz`` archive: ZIP structure and declared sizes checked before decompressing."""

from __future__ import annotations

import io
import struct
import zipfile
from dataclasses import dataclass

import numpy as np

from .array_metadata import DATA_NAMES, META_NAMES, ArrayMeta, choose_data, meta_from_arrays
from .errors import DataFormatError
from .limits import MAX_BYTES_ENV, check_budget, format_bytes, max_bytes
from .npy import check_numeric_dtype, read_npy
from .sniff import ZIP_MAGIC, wrong_content

__all__ = ["read_npz", "list_npz", "NpzContent", "open_zip", "check_declared", "read_member", "MAX_MEMBERS",
           "BOMB_RATIO", "BOMB_MIN_BYTES"]

#: Most members an uploaded archive may have.
MAX_MEMBERS = 64
#: A member whose declared size is more than this many times its compressed size ...
BOMB_RATIO = 100
#: ... and more than this many bytes is refused as a zip bomb (real data compress 1-10 times).
BOMB_MIN_BYTES = 32 * 2**20
#: Largest metadata member read ('ppm', 'grid_shape', ...).
_META_MAX_BYTES = 8 * 2**20


@dataclass
class NpzContent:
    """The data array of an .npz file, its name, the metadata found and all array names."""

    array: np.ndarray
    name: str
    meta: ArrayMeta
    names: tuple[str, ...]


def _central_entries(data) -> int:
    """How many central-directory entries zipfile would parse: the signatures in the directory's bytes.

    The directory is the ``size`` bytes just before the end record (or before the
    ZIP64 end record, when the end record defers to it). Counting is one pass
    in C, while zipfile builds a Python object per entry: 1.3 million entries
    fit in a 64 MiB upload and would take zipfile half a minute and 800 MiB.
    """
    data = bytes(data) if not isinstance(data, bytes) else data
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - (22 + 65535)))
    if end < 0 or end + 22 > len(data):
        return 0  # no end record: zipfile refuses the archive without parsing entries
    (size,) = struct.unpack_from("<I", data, end + 12)
    locator = end - 20
    if size == 0xFFFFFFFF and locator >= 0 and data[locator:locator + 4] == b"PK\x06\x07":
        (record,) = struct.unpack_from("<Q", data, locator + 8)
        if record + 56 <= len(data) and data[record:record + 4] == b"PK\x06\x06":
            (size,) = struct.unpack_from("<Q", data, record + 40)
            end = record
    return data.count(b"PK\x01\x02", max(0, end - size), end)


#: Bytes of a member read to parse its .npy header when listing the arrays.
_HEADER_BYTES = 4096


def open_zip(data, filename: str, expected: str = "a NumPy .npz archive (a ZIP file)") -> zipfile.ZipFile:
    """Open an uploaded ZIP archive after counting its central directory (no more than :data:`MAX_MEMBERS`).

    Parameters
    ----------
    data : bytes
        The archive.
    filename : str
        Name used in messages.
    expected : str
        What the extension promised, for the message when the content is not a ZIP archive.
    """
    if len(data) == 0:
        raise DataFormatError(f"{filename} is empty (0 bytes)")
    if bytes(data[:4]) not in ZIP_MAGIC:
        raise wrong_content(filename, expected, data)
    entries = _central_entries(data)
    if entries > MAX_MEMBERS:
        raise _too_many(filename, entries)
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except Exception as exc:  # zipfile raises many types for damaged archives
        raise DataFormatError(
            f"{filename} is not a complete ZIP archive ({exc}); it may be truncated (an incomplete upload "
            f"or copy?) or damaged"
        ) from None


def _too_many(filename: str, n: int) -> DataFormatError:
    return DataFormatError(f"{filename} has {n} members; an .npz data set holds a few arrays "
                           f"(at most {MAX_MEMBERS} are accepted)")


def check_declared(infos: list[zipfile.ZipInfo], filename: str) -> None:
    """Refuse encrypted members, too many members, too much declared data and zip bombs, before decompressing."""
    if len(infos) > MAX_MEMBERS:
        raise _too_many(filename, len(infos))
    limit = max_bytes()
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise DataFormatError(f"{filename}: member '{info.filename}' is encrypted; save the arrays unencrypted")
        if info.file_size > limit:
            check_budget(info.file_size, filename, f"member '{info.filename}' declares")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > BOMB_MIN_BYTES and ratio > BOMB_RATIO:
            raise DataFormatError(
                f"{filename} looks like a zip bomb: member '{info.filename}' would expand from "
                f"{format_bytes(info.compress_size)} to {format_bytes(info.file_size)} ({ratio:.0f} times); "
                f"it was not decompressed"
            )
        total += info.file_size
    check_budget(total, filename, "its members declare")


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, filename: str, cap: int) -> bytes:
    """Decompress one member, never producing more than ``cap`` bytes (nor more than it declares)."""
    try:
        with zf.open(info) as stream:
            content = stream.read(cap + 1)
    except Exception as exc:  # BadZipFile (CRC), zlib/lzma/bz2 errors, EOFError, NotImplementedError ...
        raise DataFormatError(
            f"{filename} is damaged: member '{info.filename}' cannot be decompressed ({exc}); "
            f"it may have been truncated or altered in transfer"
        ) from None
    if len(content) > cap:
        raise DataFormatError(
            f"{filename}: member '{info.filename}' decompresses to more than {format_bytes(cap)} "
            f"(setting {MAX_BYTES_ENV}); it looks like a zip bomb"
        )
    return content


def _header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, filename: str) -> tuple[tuple, np.dtype]:
    """Shape and dtype of a member, from its .npy header (only the first few KiB are decompressed)."""
    where = f"{filename}: member '{info.filename[:-4]}'"
    try:
        with zf.open(info) as stream:
            head = io.BytesIO(stream.read(_HEADER_BYTES))
    except Exception as exc:
        raise DataFormatError(f"{filename} is damaged: member '{info.filename}' cannot be decompressed ({exc})") \
            from None
    try:
        version = np.lib.format.read_magic(head)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = reader(head)
    except Exception as exc:
        raise DataFormatError(f"{where} is not a NumPy array, or its header is damaged ({exc})") from None
    return tuple(int(n) for n in shape), dtype


def _numeric_listing(zf: zipfile.ZipFile, arrays: dict, filename: str) -> list[tuple[str, tuple, str]]:
    listing = []
    for name, info in arrays.items():
        shape, dtype = _header(zf, info, filename)
        if not (dtype.hasobject or dtype.names is not None or dtype.kind not in "biufc"):
            listing.append((name, shape, dtype.name))
    return listing


def _members(zf: zipfile.ZipFile, filename: str) -> dict[str, zipfile.ZipInfo]:
    # ZipInfo.is_dir() raises IndexError on an empty member name, which a crafted archive can hold.
    infos = [info for info in zf.infolist() if not info.filename.endswith("/")]
    check_declared(infos, filename)
    arrays = {info.filename[:-4]: info for info in infos if info.filename.endswith(".npy")}
    if not arrays:
        listed = ", ".join(f"'{info.filename}'" for info in infos[:10]) or "none"
        raise DataFormatError(f"{filename} is a ZIP archive without NumPy arrays (members: {listed}); "
                              f"save it with np.savez")
    return arrays


def list_npz(data, filename: str) -> list[tuple[str, tuple, str]]:
    """The numeric arrays of an ``.npz`` archive: (name, shape, dtype name), read from their headers only.

    Parameters
    ----------
    data : bytes
        The archive.
    filename : str
        Name used in messages.
    """
    with open_zip(data, filename) as zf:
        return _numeric_listing(zf, _members(zf, filename), filename)


def read_npz(data, filename: str, variable: str | None = None, axis_variable: str | None = None,
             axis_unit: str = "auto") -> NpzContent:
    """Read the data array and optional metadata of an ``.npz`` archive.

    Checks before anything is decompressed: number of members, encryption,
    each member's declared size and their total against the limit, and the
    compression ratio (a member declared larger than 32 MiB and more than
    100 times its compressed size is refused as a zip bomb). The data array
    is ``variable`` when given, else the member named 'X', 'data', 'spectra'
    or 'fid' (in that order), else the only non-metadata array; when several
    could be the data the message lists them (name, shape, dtype). Optional
    members: the feature axis (``axis_variable``, default 'ppm'),
    'grid_shape', 'spectrometer_mhz', 'dwell_time' (s), 'reference_ppm'.
    Each member is then read as an .npy file (header checked, pickles refused).

    Parameters
    ----------
    data : bytes
        The archive.
    filename : str
        Name used in messages.
    variable, axis_variable : str, optional
        The members holding the data and the feature axis (``ReadOptions``).
    axis_unit : {"auto", "ppm", "Hz"}
        Unit of the axis member; "auto" decides from its name.

    Returns
    -------
    NpzContent
    """
    with open_zip(data, filename) as zf:
        arrays = _members(zf, filename)
        names = list(arrays)
        if axis_variable is not None and axis_variable not in arrays:
            raise DataFormatError(f"{filename} has no member '{axis_variable}' (the one chosen as the axis); its "
                                  f"arrays: {', '.join(names)}")
        if variable is not None and variable not in arrays:
            raise DataFormatError(f"{filename} has no member '{variable}' (the one chosen as the data); its "
                                  f"arrays: {', '.join(names)}")
        chosen = variable or next((n for n in DATA_NAMES if n in arrays and n != axis_variable), None)
        others = [n for n in names if n not in META_NAMES and n != axis_variable]
        if chosen is None and len(others) == 1:
            chosen = others[0]
        if chosen is None and others:
            chosen = choose_data(_numeric_listing(zf, arrays, filename), filename, "member",
                                 axis_name=axis_variable)
        if chosen is None:
            raise DataFormatError(f"{filename} holds only metadata arrays ({', '.join(names)}), no data array")
        info = arrays[chosen]
        where = f"{filename}: member '{chosen}'"
        array = read_npy(read_member(zf, info, filename, max_bytes() + 1024), filename, where)
        found = {}
        wanted = [m for m in META_NAMES if m != "ppm"] + [axis_variable or "ppm"]
        for name in wanted:
            if name in arrays and name != chosen:
                raw = read_member(zf, arrays[name], filename, _META_MAX_BYTES)
                found[name] = read_npy(raw, filename, f"{filename}: member '{name}'")
                check_numeric_dtype(found[name].dtype, f"{filename}: member '{name}'")
    meta = meta_from_arrays(found, filename, "member", axis_name=axis_variable, axis_unit=axis_unit)
    return NpzContent(array=array, name=chosen, meta=meta, names=tuple(names))
