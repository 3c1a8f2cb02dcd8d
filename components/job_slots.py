"""A cap on jobs running at once on the embedded default: ``MAX_JOBS`` lock files, one per slot.

A job takes the first free slot (an exclusive ``flock``) and waits, saying so,
while all are taken. The kernel releases a slot when its process ends, however
it ends, so a killed job can never leak one.
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager

from . import services


@contextmanager
def job_slot(on_wait=None, poll_s: float = 0.5, n_slots: int | None = None):
    """Hold one of ``n_slots`` (default MAX_JOBS) slots for the duration; ``on_wait(n)`` while queued."""
    n_slots = n_slots or services.MAX_JOBS
    folder = services.cache_root() / "slots"
    folder.mkdir(exist_ok=True)
    while True:
        for i in range(n_slots):
            fd = os.open(folder / f"slot-{i}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                yield i
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            return
        if on_wait is not None:
            on_wait(n_slots)
        time.sleep(poll_s)
