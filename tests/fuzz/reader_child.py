"""The fuzzer's child process: reads files sent on stdin with ``read_dataset`` and answers one JSON line each.

Run as ``python -m tests.fuzz.reader_child``. Protocol (all lengths big-endian):
a frame is a 4-byte name length, the file name (UTF-8), an 8-byte data length
and the data; the answer is one line of JSON on the original stdout::

    {"status": "ok" | "dfe" | "other" | "memory", "type": ..., "message": ..., "where": ...}

``dfe`` is a DataFormatError whose message starts with the file name; a
DataFormatError with any other message counts as ``other``. The first line,
``{"status": "ready"}``, says the imports are done. The address space is
limited (``FUZZ_CHILD_MEMORY`` bytes, default 2 GiB) once the libraries are
loaded, so a reader that allocates far more than the data limit fails with
MemoryError. A crash (signal) or a hang is seen by the parent.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import traceback
import warnings

from gppnmf_core.io import DataFormatError, read_dataset

DEFAULT_MEMORY = 2 * 2**30


def _read_exact(stream, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _where(exc: BaseException) -> str:
    """The innermost frame of the traceback, and the innermost one in gppnmf_core when that differs."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    text = f"{os.path.basename(last.filename)}:{last.name}"
    ours = [f for f in frames if f"{os.sep}gppnmf_core{os.sep}" in f.filename]
    if ours and ours[-1] is not last:
        text += f" via {os.path.basename(ours[-1].filename)}:{ours[-1].name}"
    return text


def classify(data: bytes, name: str) -> dict:
    """Read ``data`` as ``name`` and say what happened (never raises but for KeyboardInterrupt/SystemExit)."""
    try:
        read_dataset(data, name)
    except DataFormatError as exc:
        message = str(exc)
        if message.startswith(name):
            return {"status": "dfe", "type": "DataFormatError", "message": message[:300], "where": ""}
        return {"status": "other", "type": "DataFormatError (message does not start with the file name)",
                "message": message[:300], "where": _where(exc)}
    except MemoryError as exc:
        return {"status": "memory", "type": "MemoryError", "message": str(exc)[:300], "where": _where(exc)}
    except RecursionError as exc:
        return {"status": "other", "type": "RecursionError", "message": str(exc)[:300], "where": _where(exc)}
    except Exception as exc:  # the finding the fuzzer looks for
        return {"status": "other", "type": type(exc).__name__, "message": str(exc)[:300], "where": _where(exc)}
    return {"status": "ok", "type": "", "message": "", "where": ""}


def main() -> None:
    """Serve frames until stdin closes."""
    warnings.simplefilter("ignore")
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints from libraries must not corrupt the protocol
    sys.stdout = sys.stderr
    limit = int(os.environ.get("FUZZ_CHILD_MEMORY", DEFAULT_MEMORY))
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    stdin = sys.stdin.buffer
    proto.write(json.dumps({"status": "ready"}) + "\n")
    while True:
        head = _read_exact(stdin, 4)
        if head is None:
            return
        name = _read_exact(stdin, int.from_bytes(head, "big")).decode("utf-8")
        size = int.from_bytes(_read_exact(stdin, 8), "big")
        data = _read_exact(stdin, size) if size else b""
        proto.write(json.dumps(classify(data, name)) + "\n")


if __name__ == "__main__":
    main()
