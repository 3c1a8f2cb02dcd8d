"""Size limits for decoded data, and how sizes and shapes are written in messages."""

from __future__ import annotations

import math
import os

from .errors import DataFormatError

__all__ = ["MAX_BYTES", "MAX_BYTES_ENV", "max_bytes", "check_budget", "format_bytes", "format_shape"]

#: Default limit on the decoded size of any array a reader creates (512 MiB).
#: Declared sizes are checked against it before anything is decompressed or
#: allocated, so a gzip or zip bomb, or a header that claims a huge array, is
#: refused early. Override it with the environment variable ``GPPNMF_MAX_DATA_BYTES``.
MAX_BYTES: int = 512 * 2**20

#: Environment variable that overrides :data:`MAX_BYTES` (a positive number of bytes).
MAX_BYTES_ENV = "GPPNMF_MAX_DATA_BYTES"


def max_bytes() -> int:
    """The limit in force: ``GPPNMF_MAX_DATA_BYTES`` if set, else :data:`MAX_BYTES`.

    Read at each call, so a server (or a test) can change it without re-importing.
    """
    raw = os.environ.get(MAX_BYTES_ENV, "").strip()
    if not raw:
        return MAX_BYTES
    try:
        value = int(float(raw))
    except ValueError:
        raise ValueError(f"{MAX_BYTES_ENV} must be a positive number of bytes, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{MAX_BYTES_ENV} must be a positive number of bytes, got {raw!r}")
    return value


def format_bytes(n: int | float) -> str:
    """``1536`` -> ``"1.5 KiB"``; binary units, three significant digits."""
    n = float(n)
    if n < 1024:
        return f"{int(n)} bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        n /= 1024.0
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
    raise AssertionError("unreachable")


def format_shape(shape) -> str:
    """``(16, 16, 16, 1024)`` -> ``"16×16×16×1024"``."""
    return "×".join(str(int(n)) for n in shape)


def check_budget(nbytes: int, filename: str, what: str) -> None:
    """Raise DataFormatError when ``nbytes`` exceeds :func:`max_bytes`.

    Parameters
    ----------
    nbytes : int
        Decoded size that reading would need.
    filename : str
        Name used in the message.
    what : str
        What the bytes are, e.g. ``"its header declares 16×16×16×1024 complex64 values"``.
    """
    limit = max_bytes()
    if nbytes > limit:
        raise DataFormatError(
            f"{filename}: {what} ({format_bytes(nbytes)}), more than the {format_bytes(limit)} "
            f"this server reads (setting {MAX_BYTES_ENV}); crop or downsample the data before uploading"
        )


def prod(shape) -> int:
    """Product of a shape as a Python int (no overflow, 1 for an empty shape)."""
    return math.prod(int(n) for n in shape)
