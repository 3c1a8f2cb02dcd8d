"""Read a NumPy ``.npz`` archive: ZIP structure and declared sizes checked before decompressing."""

from __future__ import annotations

import io
import struct
import zipfile
from dataclasses import dataclass

import numpy as np

from .errors import DataFormatError
from .limits import MAX_BYTES_ENV, check_budget, format_bytes, max_bytes
from .meta import DATA_NAMES, META_NAMES, ArrayMeta, meta_from_arrays
from .npy import read_npy
from .sniff import ZIP_MAGIC, wrong_content

__all__ = ["read_npz", "NpzContent", "MAX_MEMBERS", "BOMB_RATIO", "BOMB_MIN_BYTES"]

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


def _open_zip(data, filename: str) -> zipfile.ZipFile:
    if len(data) == 0:
        raise DataFormatError(f"{filename} is empty (0 bytes)")
    if bytes(data[:4]) not in ZIP_MAGIC:
        raise wrong_content(filename, "a NumPy .npz archive (a ZIP file)", data)
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


def _check_declared(infos: list[zipfile.ZipInfo], filename: str) -> None:
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


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, filename: str, cap: int) -> bytes:
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


def _choose(names: list[str], filename: str) -> str:
    for name in DATA_NAMES:
        if name in names:
            return name
    candidates = [n for n in names if n not in META_NAMES]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise DataFormatError(f"{filename} holds only metadata arrays ({', '.join(names)}), no data array")
    raise DataFormatError(
        f"{filename} holds several arrays ({', '.join(candidates)}) and none is named "
        f"{', '.join(repr(n) for n in DATA_NAMES)}; name the data array 'X' (np.savez(path, X=data, ...))"
    )


def read_npz(data, filename: str) -> NpzContent:
    """Read the data array and optional metadata of an ``.npz`` archive.

    Checks before anything is decompressed: number of members, encryption,
    each member's declared size and their total against the limit, and the
    compression ratio (a member declared larger than 32 MiB and more than
    100 times its compressed size is refused as a zip bomb). The data array
    is the member named 'X', 'data', 'spectra' or 'fid' (in that order), else
    the only non-metadata array. Optional members: 'ppm' (feature axis),
    'grid_shape', 'spectrometer_mhz', 'dwell_time' (s), 'reference_ppm'.
    Each member is then read as an .npy file (header checked, pickles refused).

    Parameters
    ----------
    data : bytes
        The archive.
    filename : str
        Name used in messages.

    Returns
    -------
    NpzContent
    """
    with _open_zip(data, filename) as zf:
        # ZipInfo.is_dir() raises IndexError on an empty member name, which a crafted archive can hold.
        infos = [info for info in zf.infolist() if not info.filename.endswith("/")]
        _check_declared(infos, filename)
        arrays = {info.filename[:-4]: info for info in infos if info.filename.endswith(".npy")}
        if not arrays:
            listed = ", ".join(f"'{info.filename}'" for info in infos[:10]) or "none"
            raise DataFormatError(f"{filename} is a ZIP archive without NumPy arrays (members: {listed}); "
                                  f"save it with np.savez")
        names = list(arrays)
        chosen = _choose(names, filename)
        info = arrays[chosen]
        where = f"{filename}: member '{chosen}'"
        array = read_npy(_read_member(zf, info, filename, max_bytes() + 1024), filename, where)
        found = {}
        for name in META_NAMES:
            if name in arrays and name != chosen:
                raw = _read_member(zf, arrays[name], filename, _META_MAX_BYTES)
                found[name] = read_npy(raw, filename, f"{filename}: member '{name}'")
    meta = meta_from_arrays(found, filename, "member")
    return NpzContent(array=array, name=chosen, meta=meta, names=tuple(names))
