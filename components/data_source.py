"""Where a session's data set comes from, by key: ``"builtin:<name>"`` for the built-in demos."""

from __future__ import annotations

from functools import lru_cache

import gppnmf_core as gp

BUILTIN_PREFIX = "builtin:"


def builtin_key(name: str) -> str:
    return BUILTIN_PREFIX + name


@lru_cache(maxsize=len(gp.datasets.NAMES))
def _builtin(name: str) -> gp.Dataset:
    # Built-in demos are deterministic and shared by everyone: no user data here.
    return gp.datasets.load(name, random_state=0)


def load_dataset(key: str) -> gp.Dataset:
    """The data set behind ``key``; ValueError for an unknown key."""
    if isinstance(key, str) and key.startswith(BUILTIN_PREFIX):
        name = key[len(BUILTIN_PREFIX):]
        if name in gp.datasets.NAMES:
            return _builtin(name)
    raise ValueError(f"unknown data set {key!r}")
