"""``read_dataset_isolated``: read an untrusted file in a separate, limited process.

Parsers of binary formats are not hardened against crafted input (SciPy says so
of ``loadmat``, which a 2 KB file can crash): a server must never run them in
its own process. Here the reader runs in a fresh interpreter
(:mod:`gppnmf_core.io.worker`) that caps its own memory and CPU time before it
sees the file, under a wall-clock limit enforced from outside; its answer is
parsed without pickle (:mod:`gppnmf_core.io.record`). A crash, a memory bomb
or a hang costs one refused file with a message, never the caller.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict

from ..dataset import Dataset
from .errors import DataFormatError
from .limits import MAX_BYTES_ENV, format_bytes, max_bytes
from .options import ReadOptions
from .reader import _clean_name
from .record import dataset_from_bytes

__all__ = ["read_dataset_isolated", "WORKER_ARGV"]

log = logging.getLogger(__name__)

#: The reader process's command (its two arguments, memory bytes and CPU seconds, are appended).
WORKER_ARGV = [sys.executable, "-m", "gppnmf_core.io.worker"]
#: Address space a reader needs beyond the data: the interpreter, NumPy, SciPy and nibabel.
_BASE_MEMORY = 768 * 2**20


def _default_memory(limit: int) -> int:
    """Room for the reader's own copies (decompressed file, complex FIDs, spectra, float64 X)."""
    return _BASE_MEMORY + 6 * limit


def _send(process: subprocess.Popen, request: bytes) -> None:
    try:
        process.stdin.write(request)
        process.stdin.close()
    except (BrokenPipeError, OSError):
        pass  # the reader died early: its exit status says why


def _collect(process: subprocess.Popen, deadline: float, max_output: int) -> tuple[bytes, str | None]:
    """Read the reader's answer until it closes stdout; the reason it was stopped early, if it was."""
    chunks, size = [], 0
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return b"", "timeout"
            if not selector.select(timeout=min(left, 1.0)):
                continue
            chunk = os.read(process.stdout.fileno(), 1 << 20)
            if not chunk:
                return b"".join(chunks), None
            size += len(chunk)
            if size > max_output:
                return b"", "output"
            chunks.append(chunk)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()


def _crash_message(name: str, returncode: int, memory_bytes: int) -> str:
    try:
        what = signal.Signals(-returncode).name
    except ValueError:
        what = f"exit status {returncode}"
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return f"{name}: reading it took more computing time than this server allows for one file, so it was refused"
    return (f"{name}: the reader stopped on this file ({what}); the file is damaged, crafted, or needs more than "
            f"the {format_bytes(memory_bytes)} of memory one upload may use. It was refused; nothing else was "
            "affected.")


def read_dataset_isolated(data: bytes, filename: str, options: ReadOptions | None = None, *,
                          max_data_bytes: int | None = None, memory_bytes: int | None = None,
                          cpu_seconds: int = 60, wall_seconds: float = 120.0) -> Dataset:
    """:func:`~gppnmf_core.io.read_dataset` in a separate process with memory, CPU and time limits.

    Parameters
    ----------
    data : bytes
        The file's content (untrusted).
    filename : str
        The file's name; gives the format.
    options : ReadOptions, optional
    max_data_bytes : int, optional
        Largest decoded data set the reader may build (default: :func:`~gppnmf_core.io.max_bytes`);
        also bounds the size of the answer accepted from the reader.
    memory_bytes : int, optional
        Address-space limit of the reader process (default 768 MiB + 6 × ``max_data_bytes``).
    cpu_seconds : int
        CPU-time limit of the reader process.
    wall_seconds : float
        Wall-clock limit; the reader is killed when it runs longer.

    Returns
    -------
    Dataset
        As :func:`~gppnmf_core.io.read_dataset` returns it.

    Raises
    ------
    DataFormatError
        Everything :func:`~gppnmf_core.io.read_dataset` raises for the file, and when the reader
        crashed, ran out of memory or time, or answered with something that is not a data set.
    """
    options = ReadOptions() if options is None else options
    if not isinstance(options, ReadOptions):
        raise ValueError(f"options must be a ReadOptions, got {type(options).__name__}")
    name = _clean_name(filename)
    limit = max_bytes() if max_data_bytes is None else int(max_data_bytes)
    memory = _default_memory(limit) if memory_bytes is None else int(memory_bytes)
    header = json.dumps({"filename": name, "options": asdict(options)}).encode()
    env = {**os.environ, MAX_BYTES_ENV: str(limit), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    deadline = time.monotonic() + wall_seconds
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen([*WORKER_ARGV, str(memory), str(int(cpu_seconds))], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=stderr, env=env, close_fds=True)
        request = struct.pack(">I", len(header)) + header + bytes(data)
        threading.Thread(target=_send, args=(process, request), daemon=True).start()  # never blocks the deadline
        try:
            answer, stopped = _collect(process, deadline, max_output=limit + 2**20)
        finally:
            _stop(process)
        if process.returncode != 0:
            stderr.seek(0)
            tail = stderr.read()[-1000:].decode("utf-8", errors="replace").strip()
            log.warning("reader process for %s ended with status %s%s", name, process.returncode,
                        f": {tail}" if tail else "")
        if stopped == "timeout":
            raise DataFormatError(f"{name}: reading it took longer than {wall_seconds:g} s, the limit for one "
                                  "file on this server, so it was refused")
        if stopped == "output":
            raise DataFormatError(f"{name}: the data read from it are larger than the {format_bytes(limit)} this "
                                  "server accepts; crop or downsample the data before uploading")
        if process.returncode != 0:
            raise DataFormatError(_crash_message(name, process.returncode, memory))
        if answer[:1] not in (b"D", b"E"):
            raise DataFormatError(f"{name}: the reader gave no usable answer for this file, so it was refused")
    if answer[:1] == b"E":
        raise DataFormatError(answer[1:].decode("utf-8", errors="replace"))
    return dataset_from_bytes(answer[1:], max_bytes=limit + 2**20)
