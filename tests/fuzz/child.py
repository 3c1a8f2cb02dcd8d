"""The parent's side of the reader child: send one file, get its outcome; restart the child when it dies."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Outcome", "ReaderChild", "REPO_ROOT"]

REPO_ROOT = Path(__file__).resolve().parents[2]
_START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Outcome:
    """What reading one input did.

    ``status`` is "ok", "dfe" (DataFormatError naming the file), "other" (any
    other exception: a bug), "memory" (MemoryError under the child's address
    space limit), "crash" (the child died of a signal or exited) or "timeout".
    """

    status: str
    type: str = ""
    message: str = ""
    where: str = ""

    @property
    def signature(self) -> tuple[str, str, str]:
        """What makes two findings the same bug."""
        return self.status, self.type, self.where


class ReaderChild:
    """A long-lived ``python -m tests.fuzz.reader_child`` process, started on demand.

    Parameters
    ----------
    timeout_s : float
        Longest a read may take; the child is killed and restarted after it.
    memory_bytes : int
        Address-space limit of the child (RLIMIT_AS).
    """

    def __init__(self, timeout_s: float = 5.0, memory_bytes: int = 2 * 2**30):
        self.timeout_s = timeout_s
        self.memory_bytes = memory_bytes
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self._buffer = b""

    def _start(self) -> None:
        env = dict(os.environ, FUZZ_CHILD_MEMORY=str(self.memory_bytes), OPENBLAS_NUM_THREADS="1",
                   OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONFAULTHANDLER="",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
        self.process = subprocess.Popen([sys.executable, "-m", "tests.fuzz.reader_child"], cwd=REPO_ROOT, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.starts += 1
        self._buffer = b""
        try:
            line = self._line(_START_TIMEOUT_S)
        except EOFError:
            line = None
        if line is None or json.loads(line).get("status") != "ready":
            self.close()
            raise RuntimeError("the fuzz reader child did not start (run: python -m tests.fuzz.reader_child)")

    def _line(self, timeout_s: float) -> bytes | None:
        """The next line from the child, or None after ``timeout_s``; EOFError when the child closed its output."""
        deadline = time.monotonic() + timeout_s
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError("the reader child closed its output")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def close(self) -> None:
        """Stop the child (the process this object started, by its own handle)."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def _died(self) -> Outcome:
        process = self.process
        try:
            code = process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        self.close()
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return Outcome("crash", name, f"the reader process died of {name}")
        return Outcome("crash", f"exit {code}", f"the reader process exited with status {code}")

    def read(self, data: bytes, filename: str) -> Outcome:
        """Read ``data`` as ``filename`` in the child and classify what happened."""
        if self.process is None or self.process.poll() is not None:
            self.close()
            self._start()
        name = filename.encode("utf-8")
        frame = len(name).to_bytes(4, "big") + name + len(data).to_bytes(8, "big") + data
        try:
            self.process.stdin.write(frame)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return self._died()
        try:
            line = self._line(self.timeout_s)
        except EOFError:
            return self._died()
        if line is None:
            self.close()
            return Outcome("timeout", "timeout", f"no answer within {self.timeout_s:g} s")
        answer = json.loads(line)
        return Outcome(answer["status"], answer["type"], answer["message"], answer["where"])

    def __enter__(self) -> ReaderChild:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
