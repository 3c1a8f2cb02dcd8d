"""Records shared by every factorization method: the fit result and progress reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Progress:
    """One progress report handed to a ``callback`` during a fit.

    Attributes
    ----------
    method : str
        ``"gppnmf"``, ``"ls_nmf"`` or ``"cnmf"``.
    replicate : int
        Zero-based index of the current restart.
    n_replicates : int
        Number of restarts in this fit.
    iteration : int
        Iterations done so far in this restart.
    max_iter : int
        Iteration budget of one restart.
    objective : float
        Current value of the objective being minimised.
    """

    method: str
    replicate: int
    n_replicates: int
    iteration: int
    max_iter: int
    objective: float

    @property
    def fraction(self) -> float:
        """Overall fraction of the iteration budget used, in [0, 1]."""
        done = self.replicate * self.max_iter + min(self.iteration, self.max_iter)
        return done / float(self.n_replicates * self.max_iter)


#: A progress callback; returning ``True`` asks the fit to stop early.
ProgressCallback = Callable[[Progress], bool | None]


@dataclass
class FitResult:
    """What a factorization returned and how it got there.

    Attributes
    ----------
    D : ndarray of shape (K, M)
        Nonnegative signals (columns).
    H : ndarray of shape (M, L)
        Nonnegative amplitudes (rows).
    objective : float
        Final value of the minimised objective (best replicate).
    objective_trace : ndarray of shape (n_iter + 1,)
        Objective after each iteration of the best replicate, starting value first.
    n_iter : int
        Iterations run by the best replicate.
    converged : bool
        Whether the best replicate met its stopping rule (not the iteration cap).
    stopped : bool
        Whether the callback asked the fit to stop early.
    message : str
        A human-readable account of how the best replicate ended.
    runtime : float
        Wall-clock seconds for the whole fit, all replicates.
    method : str
        ``"gppnmf"``, ``"ls_nmf"`` or ``"cnmf"``.
    settings : dict
        The settings used (JSON-able values).
    replicate_objectives : ndarray of shape (n_replicates,)
        Final objective of every replicate that ran.
    latent : dict
        Method-specific extras, e.g. the whitened variables ``delta`` and ``eta``.
    """

    D: np.ndarray
    H: np.ndarray
    objective: float
    objective_trace: np.ndarray
    n_iter: int
    converged: bool
    stopped: bool
    message: str
    runtime: float
    method: str
    settings: dict = field(default_factory=dict)
    replicate_objectives: np.ndarray = field(default_factory=lambda: np.empty(0))
    latent: dict[str, Any] = field(default_factory=dict)

    @property
    def rank(self) -> int:
        """Number of components M."""
        return self.D.shape[1]

    @property
    def reconstruction(self) -> np.ndarray:
        """The model's fit to the data, ``D @ H`` of shape (K, L)."""
        return self.D @ self.H


class StopRequested(Exception):
    """Raised inside a solver when the progress callback asks to stop."""


def report(callback: ProgressCallback | None, progress: Progress) -> None:
    """Hand ``progress`` to ``callback``; raise ``StopRequested`` if it returns True."""
    if callback is not None and callback(progress):
        raise StopRequested
