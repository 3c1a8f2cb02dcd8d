"""A cap on jobs running at once on the embedded default: ``MAX_JOBS`` lock files, one per slot, taken in turn.

A job takes a free slot (an exclusive ``flock``) and waits, saying so, while
all are taken. The kernel releases a slot when its process ends, however it
ends, so a killed job can never leak one.

Waiting jobs queue first come, first served: each holds a **ticket** in the
slots folder (a locked file named by its enqueue time) and may take a slot only
when fewer jobs wait ahead of it than slots are free. A ticket whose process
died is unlocked; the next waiter that sees it removes it.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import time
from contextlib import contextmanager
from pathlib import Path

from components.services import config

_TICKET = "ticket-"


def _take_ticket(folder: Path, enqueued: float, name: str) -> tuple[int, Path]:
    """A locked ticket file; locked before it gets its name, so a named ticket without a lock is a dead one's."""
    draft = folder / f".draft-{name}-{secrets.token_hex(4)}"
    fd = os.open(draft, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    path = folder / f"{_TICKET}{enqueued:020.6f}-{name}"
    os.rename(draft, path)
    return fd, path


def _drop_ticket(fd: int, path: Path) -> None:
    path.unlink(missing_ok=True)  # unlinked before it is unlocked: never seen unlocked under its name
    os.close(fd)


def _waiting(path: Path) -> bool:
    """Whether the ticket's job still waits (holds its lock); a dead job's ticket is removed."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    path.unlink(missing_ok=True)
    return False


def tickets_ahead(folder: Path, mine: Path) -> int:
    """How many live tickets in ``folder`` are older than ``mine``."""
    return sum(1 for other in folder.glob(f"{_TICKET}*") if other.name < mine.name and _waiting(other))


def _free_slots(folder: Path, n_slots: int) -> list[tuple[int, int]]:
    """Lock every free slot now: [(slot, fd)]; the caller keeps one or none and releases the rest."""
    taken = []
    for i in range(n_slots):
        fd = os.open(folder / f"slot-{i}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        taken.append((i, fd))
    return taken


def _release(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


@contextmanager
def job_slot(on_wait=None, poll_s: float = 0.5, n_slots: int | None = None, on_queue=None,
             enqueued: float | None = None, name: str | None = None):
    """Hold one of ``n_slots`` (default MAX_JOBS) slots for the duration, first come, first served.

    While it waits: ``on_wait(n_running)`` and ``on_queue(n_ahead, n_running)``
    (jobs waiting ahead of this one, jobs holding slots). ``enqueued`` (default
    now) is when the job joined the queue; ``name`` tells equal times apart.
    """
    n_slots = n_slots or config.MAX_JOBS
    folder = config.cache_root() / "slots"
    folder.mkdir(exist_ok=True)
    ticket = _take_ticket(folder, time.time() if enqueued is None else enqueued, name or secrets.token_hex(4))
    try:
        while True:
            ahead = tickets_ahead(folder, ticket[1])
            free = _free_slots(folder, n_slots)
            if ahead < len(free):  # enough free slots for everyone ahead, and for this job
                slot, fd = free.pop(0)
                for _, other in free:
                    _release(other)
                break
            for _, other in free:
                _release(other)
            running = n_slots - len(free)
            if on_wait is not None:
                on_wait(running)
            if on_queue is not None:
                on_queue(ahead, running)
            time.sleep(poll_s)
    finally:
        _drop_ticket(*ticket)
    try:
        yield slot
    finally:
        _release(fd)
