"""Byte-level and format-aware mutations of seed files, driven by one ``random.Random``.

Everything here is deterministic given the generator's state, so a fuzz run
with the same seed tries the same inputs in the same order.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import re
import struct
import warnings
import zipfile
import zlib

from .seeds import MRS_META, nifti_with_extension, zip_stored

__all__ = ["mutate", "MAX_SIZE"]

#: Largest input the fuzzer builds (repeated chunks stop growing there).
MAX_SIZE = 1 << 20

_INTS = (0, 1, 2, 3, 4, 7, 8, 15, 16, 255, 256, 348, 352, 540, 544, 1023, 1024, 4096, 2**15 - 1, 2**15, 2**16 - 1,
         2**16, 2**31 - 1, 2**31, 2**32 - 1, 2**62, 2**63 - 1, -1, -2, -128, -2**15, -2**31, -2**63)
_WIDTHS = {1: "b", 2: "h", 4: "i", 8: "q"}
_TOKENS = (b"nan", b"inf", b"-inf", b"1e999", b"-1e-999", b"9" * 400, b"", b"0x10", b"1_000", b"\xd9\xa1\xd9\xa2",
           b"1+2j", b"(1-2j)", b"\x00", b'"', b",", b"\t", b";", b"#", b"\r", b"\n", b"\xe2\x80\xa8", b"\xff\xfe",
           b"\xef\xbb\xbf", b" ", b"-", b"+", b".", b"e", b"1e", b"--1", b"\x0c", b"\x1c", b"\x85", b"1,5",
           b"ppm", b"(ppm)", b"[", b"]", b"{", b"}", b"'", b"\\", b"1" * 30, b"-0", b"0" * 50 + b"1")
_NUMBER = re.compile(rb"-?\d+(\.\d+)?(e-?\d+)?")
_NPY_SHAPES = (b"()", b"(0,)", b"(0, 5)", b"(-1, 4)", b"(2**62,)", b"(9223372036854775807, 2)",
               b"(4611686018427387904, 4)", b"(1, 1)", b"(1,)", b"(" + b"3, " * 40 + b")", b"(2.5, 3)", b"('a', 1)",
               b"(True, 4)", b"[4, 4]", b"(" * 300 + b")" * 300, b"(1,)" * 2, b"(100000, 100000)")
_NPY_DESCRS = (b"'|O'", b"'<U5'", b"'|S0'", b"'|V8'", b"'<M8[s]'", b"'<m8'", b"'<f16'", b"'<c32'", b"'>i8'", b"'|b1'",
               b"'<f2'", b"[('a', '<f8')]", b"[('a', '<f8', (1000000, 1000000))]", b"('<f8', (2, 2))", b"'<f8'",
               b"'i'", b"'float64'", b"'<q'", b"'<U0'", b"''", b"'<f0'", b"[('', '<f8')]", b"'<c8'", b"0",
               b"[" * 200 + b"]" * 200, b"{'names': ['a'], 'formats': ['<f8'], 'offsets': [2**62]}")
_MEMBER_NAMES = (b"", b".npy", b"X.npy/", b"/X.npy", b"../X.npy", b"X.npy\x00", b"X" * 300 + b".npy", b"ppm.npy",
                 b"grid_shape.npy", b"data.npy", b"\xff\xfe.npy", b"dir/", b"X", b"spectrometer_mhz.npy")
_JSON_VALUES = (b"[]", b"null", b"1" + b"0" * 400, b"[-1" + b"0" * 400 + b"]", b"1e-320", b"[1e-320]", b"-0.0",
                b"[" * 40 + b"]" * 40, b"[" * 5000, b"{" * 3000, b"1e999", b"-1", b"0", b'"x"', b"{}",
                b'"\\ud800"', b"NaN", b"true", b"[1e308]")


def _offset(rng: random.Random, data: bytes, hot: tuple[int, ...]) -> int:
    if hot and rng.random() < 0.5:
        return min(rng.choice(hot), max(len(data) - 1, 0))
    if rng.random() < 0.5:
        return rng.randrange(min(len(data), 1024) or 1)
    return rng.randrange(len(data) or 1)


def flip_bits(rng, data, hot):
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if out:
            i = _offset(rng, out, hot)
            out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def set_int(rng, data, hot):
    width = rng.choice((1, 2, 4, 8))
    value = rng.choice(_INTS) if rng.random() < 0.8 else rng.randrange(-2**31, 2**31)
    if rng.random() < 0.2:
        value = len(data) + rng.randint(-8, 8)
    order = rng.choice("<>")
    i = _offset(rng, data, hot)
    fmt = order + (_WIDTHS[width].upper() if value >= 0 and value >= 2 ** (8 * width - 1) else _WIDTHS[width])
    try:
        packed = struct.pack(fmt, value)
    except struct.error:
        packed = struct.pack(order + _WIDTHS[width], -1)
    return data[:i] + packed + data[i + width:]


def set_float(rng, data, hot):
    value = rng.choice((0.0, -0.0, -1.0, 1e-45, 3e38, float("inf"), float("-inf"), float("nan"), 5e-4, 2**31))
    width = rng.choice((4, 8))
    i = _offset(rng, data, hot)
    return data[:i] + struct.pack(rng.choice("<>") + ("f" if width == 4 else "d"), value) + data[i + width:]


def truncate(rng, data, hot):
    return data[:rng.randrange(len(data) + 1)]


def delete_chunk(rng, data, hot):
    i = rng.randrange(len(data) + 1)
    return data[:i] + data[i + rng.randint(1, 64):]


def insert_bytes(rng, data, hot):
    i = rng.randrange(len(data) + 1)
    chunk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
    return data[:i] + chunk + data[i:]


def repeat_chunk(rng, data, hot):
    if not data:
        return data
    i = rng.randrange(len(data))
    chunk = data[i:i + rng.randint(1, 256)]
    times = rng.choice((2, 3, 16, 256, 4096))
    times = max(1, min(times, (MAX_SIZE - len(data)) // max(len(chunk), 1)))
    return data[:i] + chunk * times + data[i:]


def splice(rng, data, hot, corpus):
    other = rng.choice(corpus)
    i, j = rng.randrange(len(data) + 1), rng.randrange(len(other) + 1)
    return data[:i] + other[j:]


def text_token(rng, data, hot):
    """Replace a number (or a random place) with an odd token, or insert a delimiter, a line or many columns."""
    choice = rng.random()
    if choice < 0.5:
        numbers = list(_NUMBER.finditer(data[:65536]))
        if numbers:
            m = rng.choice(numbers)
            return data[:m.start()] + rng.choice(_TOKENS) + data[m.end():]
    if choice < 0.7:
        i = rng.randrange(len(data) + 1)
        return data[:i] + rng.choice(_TOKENS) + data[i:]
    lines = data.split(b"\n")
    k = rng.randrange(len(lines))
    room = max(1, (MAX_SIZE - len(data)) // (len(lines[k]) + 1))  # never build more than MAX_SIZE
    if choice < 0.85:
        lines[k] = b",".join([lines[k]] * min(rng.choice((2, 50, 2000)), room))
    else:
        lines[k:k] = [lines[k]] * min(rng.choice((1, 10, 5000)), room)
    return b"\n".join(lines)[:MAX_SIZE]


def npy_header(rng, data, hot):
    """Rewrite the shape, dtype or order in an .npy header (keeping the header length field as is or fixing it)."""
    m = re.search(rb"\{.*?\}\s*\n", data[:65536], re.S)
    if not m:
        return text_token(rng, data, hot)
    header = m.group(0)
    what = rng.random()
    if what < 0.45:
        header = re.sub(rb"'shape': \(.*?\)[,}]?", lambda s: b"'shape': " + rng.choice(_NPY_SHAPES) + b",", header,
                        count=1, flags=re.S)
    elif what < 0.85:
        header = re.sub(rb"'descr': .*?, 'fortran", lambda s: b"'descr': " + rng.choice(_NPY_DESCRS) + b", 'fortran",
                        header, count=1, flags=re.S)
    else:
        header = header.replace(rb"False", rng.choice((b"True", b"1", b"None", b"'x'")), 1)
    out = data[:m.start()] + header + data[m.end():]
    if rng.random() < 0.7 and m.start() in (10, 12):  # fix the header length field
        size = m.start() - (10 if m.start() == 10 else 12) + len(header)
        field = struct.pack("<H", size) if m.start() == 10 else struct.pack("<I", size)
        out = out[:8] + field + out[m.start():]
    return out


def json_value(rng, data, hot):
    """Overwrite a value of the NIfTI-MRS JSON extension in place (same length, so offsets stay valid)."""
    start = data.find(b'{"')
    if start < 0:
        return flip_bits(rng, data, hot)
    colons = [m.end() for m in re.finditer(rb'": ', data[start:start + 4096])]
    if not colons:
        return flip_bits(rng, data, hot)
    i = start + rng.choice(colons)
    value = rng.choice(_JSON_VALUES)
    end = data.find(b"\x00", i)
    end = len(data) if end < 0 else end
    room = end - i
    if len(value) > room:
        if rng.random() < 0.5:
            return data[:i] + value + data[i:]  # a longer extension: sizes no longer match
        value = value[:room]
    return data[:i] + value + data[i + len(value):]


def json_extension(rng, data, hot):
    """A new NIfTI-MRS file whose JSON extension is a mutated NIfTI-MRS header (sizes kept consistent)."""
    text = json.dumps(MRS_META).encode()
    for _ in range(rng.randint(1, 3)):
        values = [m.end() for m in re.finditer(rb'": ', text)]
        if values and rng.random() < 0.6:
            i = rng.choice(values)
            j = i + len(re.match(rb'\[[^\]]*\]|"[^"]*"|[^,}]*', text[i:]).group(0))
            text = text[:i] + rng.choice(_JSON_VALUES) + text[j:]
        else:
            text = text_token(rng, text, ())
    return nifti_with_extension(text, version=rng.choice((1, 2)))


_RAW = (flip_bits, set_int, set_int, set_float, truncate, delete_chunk, insert_bytes, repeat_chunk)
_EXTRA = {"nii": (set_int, set_int, set_int, set_float, json_value, json_value, json_extension),
          "npy": (npy_header, npy_header, npy_header),
          "csv": (text_token,) * 6, "tsv": (text_token,) * 6, "txt": (text_token,) * 6, "mat": (set_int, set_int),
          "npz": (), "niigz": ()}
#: Header fields worth overwriting (offsets of NIfTI-1 and -2 dims, datatype, pixdim, vox_offset, units, MAT tags).
_HOT = {
    "nii": (0, 12, 14, 16, 24, 32, 40, 42, 44, 48, 56, 68, 70, 72, 76, 80, 84, 88, 92, 104, 108, 112, 116, 120, 123,
            136, 168, 176, 252, 344, 348, 352, 500, 504, 520, 524, 540, 544, 548),
    "mat": (124, 126, 128, 132, 136, 140, 144, 148, 152, 156, 160, 164, 168, 172, 176, 184, 192),
    "npy": (6, 7, 8, 9, 10, 11),
}


def _mutate_raw(rng: random.Random, data: bytes, kind: str, corpus: list[bytes]) -> bytes:
    ops = _RAW + _EXTRA.get(kind, ())
    hot = _HOT.get(kind, ())
    for _ in range(rng.choice((1, 1, 1, 2, 3, 4))):
        op = rng.choice(ops + (splice,))
        data = op(rng, data, hot, corpus) if op is splice else op(rng, data, hot)
    return data[:MAX_SIZE]


def _gunzip(data: bytes) -> bytes | None:
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, MAX_SIZE)
    except zlib.error:
        return None


def _members(data: bytes) -> list[tuple[bytes, bytes]] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return [(info.filename.encode("utf-8", "replace"), zf.read(info)) for info in zf.infolist()[:16]]
    except Exception:  # noqa: BLE001 - a mutated archive may fail in any way; then mutate its bytes
        return None


def _mutate_npz(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    members = _members(data)
    if not members:
        return _mutate_raw(rng, data, "npz", corpus)
    k = rng.randrange(len(members))
    name, content = members[k]
    what = rng.random()
    if what < 0.6:
        members[k] = (name, _mutate_raw(rng, content, "npy", corpus))
    elif what < 0.8:
        members[k] = (rng.choice(_MEMBER_NAMES), content)
    elif what < 0.9:
        members.append(members[k])
    else:
        members = members[:k] + members[k + 1:] or members
    if rng.random() < 0.5:
        return zip_stored(members)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        warnings.simplefilter("ignore")  # duplicate names are wanted here
        for name, content in members:
            info = zipfile.ZipInfo(name.decode("utf-8", "replace") or "X.npy", date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, content)
    return buffer.getvalue()


def mutate(reader: str, data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    """One mutated input for ``reader`` (a key of :data:`~tests.fuzz.seeds.EXTENSIONS`) from ``data``.

    Compressed containers are often opened, their content mutated and closed
    again, so that mutations reach the parser behind the checksums; otherwise
    (and for every other format) 1 to 4 byte-level or format-aware mutations
    are stacked.
    """
    if reader == "niigz" and rng.random() < 0.7:
        inner = _gunzip(data)
        if inner:
            return gzip.compress(_mutate_raw(rng, inner, "nii", corpus), compresslevel=1, mtime=0)
    if reader == "npz" and rng.random() < 0.7:
        return _mutate_npz(rng, data, corpus)
    return _mutate_raw(rng, data, reader, corpus)
