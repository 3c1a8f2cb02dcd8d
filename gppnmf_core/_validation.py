"""Argument checks shared by the public entry points.

Every check raises ``ValueError`` with a message that names the argument and,
where shapes are involved, the shapes, so that a caller can see at once what
went wrong.
"""

from __future__ import annotations

import numbers

import numpy as np


def check_positive(value, name: str) -> float:
    """Return ``value`` as a float after checking that it is finite and > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return value


def check_nonnegative(value, name: str) -> float:
    """Return ``value`` as a float after checking that it is finite and >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < 0.0:
        raise ValueError(f"{name} must be a non-negative finite number, got {value!r}")
    return value


def check_int(value, name: str, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` as an int after checking ``minimum <= value <= maximum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_matrix(X, name: str = "X") -> np.ndarray:
    """Return ``X`` as a finite float64 2-D array."""
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real 2-D array of numbers: {exc}") from None
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {X.shape}")
    if X.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        n_bad = int(np.size(X) - np.count_nonzero(np.isfinite(X)))
        raise ValueError(f"{name} contains {n_bad} non-finite value(s) (NaN or Inf); shape {X.shape}")
    return X


def check_mask(mask, shape: tuple[int, int], name: str = "mask") -> np.ndarray | None:
    """Return the squared weights ``mask**2`` as float64, or None when no mask is given.

    ``mask`` has the shape of X (K, L), or (L,) for one weight per column of X
    (whole observations, e.g. voxels outside the head).
    """
    if mask is None:
        return None
    if np.ndim(mask) == 1:
        try:
            mask = np.asarray(mask, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be a real array of numbers: {exc}") from None
        if mask.shape != (shape[1],):
            raise ValueError(f"a 1-D {name} must hold one weight per column of X ({shape[1]}), got {mask.size}")
        if not np.all(np.isfinite(mask)):
            raise ValueError(f"{name} contains non-finite value(s) (NaN or Inf)")
    else:
        mask = check_matrix(mask, name)
        if mask.shape != tuple(shape):
            raise ValueError(f"{name} must have the shape of X {tuple(shape)}, got {mask.shape}")
    if np.any(mask < 0):
        raise ValueError(f"{name} must be non-negative (0/1 or weights)")
    if not np.any(mask > 0):
        raise ValueError(f"{name} masks out every entry of X")
    return mask * mask


def check_rank(rank, shape: tuple[int, int]) -> int:
    """Check ``1 <= rank <= min(K, L)`` for data of shape (K, L)."""
    rank = check_int(rank, "rank", minimum=1)
    if rank > min(shape):
        raise ValueError(f"rank must be <= min(K, L) = {min(shape)} for X of shape {tuple(shape)}, got {rank}")
    return rank


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_random_state(random_state) -> np.random.Generator:
    """Normalise ``random_state`` (None, int or Generator) to a ``np.random.Generator``."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or _is_int(random_state):
        return np.random.default_rng(random_state)
    raise ValueError(f"random_state must be None, an int or a numpy Generator, got {random_state!r}")


def check_callback(callback, name: str = "callback"):
    """Return ``callback`` after checking that it is callable or None."""
    if callback is not None and not callable(callback):
        raise ValueError(f"{name} must be callable or None, got {type(callback).__name__} {callback!r}")
    return callback


def random_state_setting(random_state):
    """How a fit records its ``random_state`` in its JSON-able settings.

    The int or None as given (the same call with it reproduces the fit), or
    ``"Generator"`` for a ``numpy.random.Generator`` (whose state is not recorded).
    """
    if isinstance(random_state, np.random.Generator):
        return "Generator"
    return None if random_state is None else int(random_state)
