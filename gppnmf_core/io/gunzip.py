"""Decompress gzip data in a streaming loop with a hard cap, so that a gzip bomb is caught early."""

from __future__ import annotations

import zlib
from collections.abc import Callable

from .errors import DataFormatError
from .limits import MAX_BYTES_ENV, format_bytes
from .sniff import GZIP_MAGIC

__all__ = ["gunzip_capped"]

_IN_CHUNK = 1 << 20
_OUT_CHUNK = 16 << 20


def gunzip_capped(
    data,
    filename: str,
    limit: int,
    peek: Callable[[bytearray], None] | None = None,
    peek_bytes: int = 1024,
) -> bytearray:
    """Decompress a gzip file (one or more members) without ever holding more than ``limit`` bytes.

    Parameters
    ----------
    data : bytes-like
        The compressed file.
    filename : str
        Name used in messages.
    limit : int
        Largest decompressed size accepted. Output is produced at most
        16 MiB at a time; as soon as it would pass ``limit`` a
        :class:`DataFormatError` says the file looks like a gzip bomb.
    peek : callable, optional
        Called once with the output so far, as soon as ``peek_bytes`` are
        available (or at the end of a shorter stream). It may raise, e.g.
        when a header declares more data than the limit, which stops the
        decompression there.
    peek_bytes : int
        How much output ``peek`` wants to see.

    Returns
    -------
    bytearray
        The decompressed content.
    """
    if bytes(data[:2]) != GZIP_MAGIC:
        raise DataFormatError(f"{filename}: not gzip-compressed data")
    out = bytearray()
    view = memoryview(data)
    pos = 0
    peeked = peek is None
    decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        while True:
            if decomp.unconsumed_tail:
                src = decomp.unconsumed_tail
            elif pos < len(view):
                src = view[pos:pos + _IN_CHUNK]
                pos += len(src)
            else:
                break
            out += decomp.decompress(src, min(_OUT_CHUNK, limit - len(out) + 1))
            if len(out) > limit:
                raise DataFormatError(
                    f"{filename} decompresses to more than {format_bytes(limit)}, the most this server reads "
                    f"(setting {MAX_BYTES_ENV}); it looks like a gzip bomb, or the data are far too large"
                )
            if not peeked and len(out) >= peek_bytes:
                peeked = True
                peek(out)
            if decomp.eof:
                rest = bytes(decomp.unused_data) + bytes(view[pos:])
                if not rest.startswith(GZIP_MAGIC):
                    break  # trailing padding or garbage after the last member is ignored, as gzip does
                view, pos = memoryview(rest), 0
                decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    except zlib.error as exc:
        raise DataFormatError(f"{filename} is damaged: its gzip stream cannot be decompressed ({exc})") from None
    if not decomp.eof:
        raise DataFormatError(
            f"{filename} is truncated: its gzip stream ends after {format_bytes(len(data))} before the end of "
            f"the compressed data (an incomplete upload or copy?)"
        )
    if not peeked:
        peek(out)
    return out
