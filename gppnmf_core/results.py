"""The records every factorization shares: progress reports, one replicate's outcome, the fit result.

The stop contract is SciPy's (:func:`scipy.optimize.minimize`): a progress
``callback`` that raises :class:`StopIteration` stops the fit, which returns the
best point found so far with ``stopped=True``. Returning ``True`` from the
callback does the same (the contract of earlier versions, kept).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._records import freeze_fields, readonly


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


#: A progress callback; raising ``StopIteration`` (or returning ``True``) asks the fit to stop.
ProgressCallback = Callable[[Progress], bool | None]


def stop_requested(callback: ProgressCallback | None, progress: Progress) -> bool:
    """Hand ``progress`` to ``callback``; whether it asked to stop.

    The callback asks to stop by raising :class:`StopIteration` (SciPy's
    contract) or by returning ``True``. Any other exception propagates.
    """
    if callback is None:
        return False
    try:
        return bool(callback(progress))
    except StopIteration:
        return True


@dataclass(frozen=True, eq=False, repr=False)
class Outcome:
    """Where one replicate (one run of a solver from one initial point) ended.

    Frozen, compared and hashed by identity; its arrays are read-only.

    Attributes
    ----------
    x : ndarray or tuple of ndarray
        The point: the flat vector of whitened variables for GPP-NMF, the pair
        ``(D, H)`` for the multiplicative updates.
    objective : float
        The objective at ``x`` (the lowest value this replicate reached).
    trace : ndarray of shape (n_iter + 1,)
        The objective at the start and after every iteration.
    n_iter : int
        Iterations run.
    nfev : int
        Evaluations of the objective (for GPP-NMF: with its gradient).
    converged : bool
        Whether the solver's stopping rule ended the run (not the iteration cap nor a stop request).
    stopped : bool
        Whether the progress callback asked to stop.
    message : str
        How the run ended, in words.
    """

    x: Any
    objective: float
    trace: np.ndarray
    n_iter: int
    nfev: int
    converged: bool
    stopped: bool
    message: str

    def __post_init__(self):
        freeze_fields(self, "x", "trace")

    def __repr__(self) -> str:
        return (f"Outcome(objective={self.objective:.6g}, n_iter={self.n_iter}, nfev={self.nfev}, "
                f"converged={self.converged}, stopped={self.stopped})")


def best_of_replicates(run_replicate: Callable[[int], Outcome], n_replicates: int) -> tuple[int, list[Outcome]]:
    """Run ``run_replicate(0), run_replicate(1), ...`` and pick the lowest objective.

    A replicate whose callback asked to stop ends the loop (the remaining
    replicates are skipped). Ties keep the earlier replicate.

    Returns
    -------
    best : int
        Index of the replicate with the lowest final objective.
    outcomes : list of Outcome
        Every replicate that ran, in order.
    """
    outcomes: list[Outcome] = []
    best = 0
    for replicate in range(n_replicates):
        outcome = run_replicate(replicate)
        outcomes.append(outcome)
        if outcome.objective < outcomes[best].objective:
            best = replicate
        if outcome.stopped:
            break
    return best, outcomes


@dataclass(frozen=True, eq=False, repr=False)
class FitResult:
    """What a factorization returned and how it got there.

    Frozen, compared and hashed by identity (``==`` is ``is``): the record
    holds arrays, and they are read-only (``D``, ``H``, the traces and the
    arrays in ``latent``); copy one to change it.

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
        The settings used (JSON-able values), ``random_state`` included: the
        seed when an int or None was passed, ``"Generator"`` for a generator.
    replicate_objectives : ndarray of shape (n_replicates_run,)
        Final objective of every replicate that ran.
    latent : dict
        Method-specific extras, e.g. the whitened variables ``delta`` and ``eta``.
    nfev : int
        Evaluations of the objective by the best replicate (GPP-NMF: value and
        gradient together; the multiplicative updates: one per iteration and
        the start, ``n_iter + 1``).
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
    nfev: int = 0

    def __post_init__(self):
        freeze_fields(self, "D", "H", "objective_trace", "replicate_objectives")
        object.__setattr__(self, "latent", {key: readonly(value) for key, value in self.latent.items()})

    @classmethod
    def from_replicates(cls, best: int, outcomes: list[Outcome], D: np.ndarray, H: np.ndarray, **fields) -> FitResult:
        """The result of a fit whose replicate ``best`` of ``outcomes`` won, with factors ``D``, ``H``.

        ``stopped`` is whether the last replicate that ran was stopped (a stop
        ends the fit); ``message`` defaults to the best replicate's.
        """
        winner = outcomes[best]
        fields.setdefault("message", winner.message)
        return cls(
            D=D, H=H, objective=winner.objective, objective_trace=np.asarray(winner.trace),
            n_iter=winner.n_iter, converged=winner.converged, stopped=outcomes[-1].stopped,
            replicate_objectives=np.array([o.objective for o in outcomes]), nfev=winner.nfev, **fields,
        )

    @property
    def rank(self) -> int:
        """Number of components M."""
        return self.D.shape[1]

    @property
    def reconstruction(self) -> np.ndarray:
        """The model's fit to the data, ``D @ H`` of shape (K, L)."""
        return self.D @ self.H

    def __repr__(self) -> str:
        return (f"FitResult(method={self.method!r}, D={_shape(self.D)}, H={_shape(self.H)}, "
                f"objective={self.objective:.6g}, n_iter={self.n_iter}, nfev={self.nfev}, "
                f"converged={self.converged}, stopped={self.stopped}, runtime={self.runtime:.3g} s)")


def _shape(array) -> str:
    shape = np.shape(array)
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"
