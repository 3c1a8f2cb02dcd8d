"""Read-only arrays for the records (data sets, fit results) that hold them.

A record shared between sessions (a cached built-in data set, a fit result
kept in a store) must not be changed through one of its arrays. Records
therefore hold their arrays read-only: an array that owns its memory is marked
read-only in place (whoever passed it in sees the flag too; take a copy first
to keep a writable one), and an array that does not (a view into another
array, a buffer, a memory map) is copied first, so that no writable alias of
the record's data remains.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def readonly(value: Any) -> Any:
    """``value`` with its array(s) read-only; anything that is not an ndarray is returned as it is.

    Parameters
    ----------
    value : ndarray, tuple of ndarray, or anything
        An ndarray is returned read-only: itself when it owns its memory
        (marked with ``setflags(write=False)``), else a read-only copy. A tuple
        is returned as a tuple of such arrays (other items unchanged).

    Returns
    -------
    The read-only counterpart of ``value``.
    """
    if isinstance(value, np.ndarray):
        if value.flags.writeable or not value.flags.owndata:
            if not value.flags.owndata:
                value = value.copy()
            value.setflags(write=False)
        return value
    if isinstance(value, tuple):
        return tuple(readonly(item) for item in value)
    return value


def freeze_fields(record: Any, *names: str) -> None:
    """Make the array fields ``names`` of the (possibly frozen) dataclass ``record`` read-only."""
    for name in names:
        object.__setattr__(record, name, readonly(getattr(record, name)))
