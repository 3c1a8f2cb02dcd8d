"""The reader process of :func:`gppnmf_core.io.read_dataset_isolated`: ``python -m gppnmf_core.io.worker``.

It limits itself (address space, CPU time, file size, no core dump) before it
reads a byte of the file, then reads one request from stdin — a 4-byte
big-endian length, a JSON header (file name, reading options), the file's bytes
— and answers on stdout with one status byte: ``D`` and the data set
(:func:`~gppnmf_core.io.record.dataset_to_bytes`), or ``E`` and a message.
A crash or a kill is seen by the parent as the process's exit status.
"""

from __future__ import annotations

import json
import resource
import struct
import sys

# Imported before the limits are set: the code is trusted, only the file is not.
from .errors import DataFormatError
from .options import ReadOptions
from .reader import read_dataset
from .record import dataset_to_bytes


def limit_resources(memory_bytes: int, cpu_seconds: int) -> None:
    """Cap this process: address space, CPU seconds, no core files, and each file it writes (stderr, and the
    temporary copy a vendor converter needs) to the size of its memory limit."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    resource.setrlimit(resource.RLIMIT_FSIZE, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _answer(status: bytes, payload: bytes) -> None:
    sys.stdout.buffer.write(status + payload)
    sys.stdout.buffer.flush()


def serve(read=None) -> int:
    """Read one request from stdin and answer it; ``read`` replaces ``read_dataset`` (tests)."""
    read = read or read_dataset
    stdin = sys.stdin.buffer
    (n,) = struct.unpack(">I", stdin.read(4))
    header = json.loads(stdin.read(n))
    data = stdin.read()
    try:
        options = ReadOptions(**header["options"])
        dataset = read(data, header["filename"], options)
        _answer(b"D", dataset_to_bytes(dataset))
    except DataFormatError as exc:
        _answer(b"E", str(exc).encode())
    except MemoryError:
        _answer(b"E", f"{header['filename']}: reading it needs more memory than this server gives one "
                      "upload; crop or downsample the data".encode())
    except Exception as exc:  # a reader bug: refuse the file, say what happened
        _answer(b"E", f"{header['filename']} could not be read ({type(exc).__name__}: {exc})".encode()[:2000])
    return 0


def main(argv=None, read=None) -> int:
    """``python -m gppnmf_core.io.worker MEMORY_BYTES CPU_SECONDS``."""
    argv = sys.argv[1:] if argv is None else argv
    memory_bytes, cpu_seconds = int(argv[0]), int(argv[1])
    limit_resources(memory_bytes, cpu_seconds)
    return serve(read)


if __name__ == "__main__":
    sys.exit(main())
