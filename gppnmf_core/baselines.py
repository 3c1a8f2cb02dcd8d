r"""Baseline factorizations: LS-NMF (Lee & Seung) and CNMF (Sajda et al.).

Both minimise a least-squares cost over nonnegative factors with the
multiplicative updates of Lee and Seung (NIPS 2001). Orientation as everywhere
in the project: ``X`` of shape (K, L) is approximated by ``D @ H`` with ``D`` of
shape (K, M) and ``H`` of shape (M, L).

* :func:`ls_nmf` runs the updates on the clipped data ``max(X, 0)``. The updates
  need nonnegative data, so negative noise is set to zero first. That clipping
  biases the fit: noise-only entries, which average to zero in ``X``, average to
  a positive value in ``max(X, 0)``, and the factors pick that up as a positive
  offset.
* :func:`cnmf` runs the same updates on the raw ``X``, negative entries kept,
  and floors every element of both factors at a small ``floor > 0`` after each
  update (Sajda et al., IEEE TMI 2004). Where ``D.T @ X`` has negative entries
  an update would turn an element negative; the floor keeps it positive, and
  because it stays positive a later update can make it grow again.

Both share one private solver, :func:`_mu_fit`.
"""

from __future__ import annotations

import time

import numpy as np

from ._validation import (
    check_callback,
    check_int,
    check_matrix,
    check_nonnegative,
    check_positive,
    check_random_state,
    check_rank,
    random_state_setting,
)
from .results import FitResult, Outcome, Progress, ProgressCallback, best_of_replicates, stop_requested
from .threads import blas_threads

__all__ = ["cnmf", "ls_nmf"]

#: Added to every denominator of the updates to avoid 0 / 0. Denominators are
#: zero only where the numerator is zero too (a zero column of D or row of H),
#: so the smallest positive float is enough and never biases the updates, at
#: whatever scale the data are.
_TINY = np.finfo(np.float64).tiny

#: Iterations between two tests of the stopping rule (and progress reports).
_CHECK_EVERY = 10


def _half_sq_error(X: np.ndarray, D: np.ndarray, H: np.ndarray) -> float:
    """``0.5 * ||X - D H||_F^2`` from the residual (one K x L temporary)."""
    R = D @ H
    R -= X
    return 0.5 * float(np.vdot(R, R))


def _mu_replicate(
    X: np.ndarray,
    xx: float,
    D: np.ndarray,
    H: np.ndarray,
    *,
    floor: float | None,
    max_iter: int,
    tol: float,
    callback: ProgressCallback | None,
    method: str,
    replicate: int,
    n_replicates: int,
) -> Outcome:
    r"""Run the multiplicative updates from ``(D, H)`` (updated in place); an Outcome with ``x = (D, H)``.

    The cost after each iteration is obtained without forming the residual:

    .. math::
        \tfrac12 \|X - DH\|_F^2 = \tfrac12 \left( \|X\|_F^2
        - 2 \langle D, X H^\top \rangle + \langle D^\top D, H H^\top \rangle \right),

    where ``X H.T`` and ``H H.T`` are the products the D-update needs anyway and
    ``D.T D`` is the Gram matrix the next H-update needs anyway, so recording
    the cost at every iteration costs O(K M + M^2) extra. The expansion loses
    absolute accuracy of about ``eps * ||X||^2``; the last entry is therefore
    recomputed from the residual.
    """
    K, L = X.shape
    M = D.shape[1]
    DtX = np.empty((M, L))
    den_H = np.empty((M, L))
    XHt = np.empty((K, M))
    den_D = np.empty((K, M))
    HHt = np.empty((M, M))
    DtD = np.empty((M, M))
    trace = np.empty(max_iter + 1)

    def cost() -> float:
        value = 0.5 * (xx - 2.0 * float(np.vdot(D, XHt)) + float(np.vdot(DtD, HHt)))
        return max(value, 0.0)

    np.matmul(X, H.T, out=XHt)
    np.matmul(H, H.T, out=HHt)
    np.matmul(D.T, D, out=DtD)
    trace[0] = cost()
    f_check = trace[0]
    n_iter = 0
    converged = False

    def stop(iteration: int, value: float) -> bool:
        return stop_requested(callback, Progress(method, replicate, n_replicates, iteration, max_iter, value))

    stopped = stop(0, float(trace[0]))
    while not stopped and n_iter < max_iter:
        # H <- H * (D^T X) / (D^T D H)
        np.matmul(D.T, X, out=DtX)
        DtX *= H
        np.matmul(DtD, H, out=den_H)
        den_H += _TINY
        np.divide(DtX, den_H, out=H)
        if floor is not None:
            np.maximum(H, floor, out=H)
        # D <- D * (X H^T) / (D H H^T)
        np.matmul(X, H.T, out=XHt)
        np.matmul(H, H.T, out=HHt)
        np.matmul(D, HHt, out=den_D)
        den_D += _TINY
        D *= XHt
        D /= den_D
        if floor is not None:
            np.maximum(D, floor, out=D)
        np.matmul(D.T, D, out=DtD)
        n_iter += 1
        f = trace[n_iter] = cost()
        at_check = n_iter % _CHECK_EVERY == 0
        if at_check:
            # Relative change over the last _CHECK_EVERY iterations; the
            # strict "<" means tol = 0 always runs max_iter iterations.
            converged = abs(f_check - f) < tol * f_check
            f_check = f
        if (at_check or n_iter == max_iter) and stop(n_iter, float(f)):
            stopped = True
            break
        if converged:
            break
    trace = trace[: n_iter + 1].copy()
    trace[-1] = _half_sq_error(X, D, H)
    return Outcome((D, H), float(trace[-1]), trace, n_iter, n_iter + 1, converged, stopped, "")


def _mu_fit(
    X: np.ndarray,
    rank: int,
    *,
    method: str,
    floor: float | None,
    max_iter: int,
    tol: float,
    n_replicates: int,
    callback: ProgressCallback | None,
    rng: np.random.Generator,
    settings: dict,
    start: float,
    n_threads: int | None,
) -> FitResult:
    """Multiplicative-update NMF with restarts, shared by LS-NMF and CNMF.

    Parameters
    ----------
    X : ndarray of shape (K, L)
        Data, float64, already validated (and clipped for LS-NMF).
    rank : int
        Number of components M.
    method : str
        ``"ls_nmf"`` or ``"cnmf"``; names the fit in progress reports.
    floor : float or None
        Lower bound applied to every element of D and H after each update,
        and to the initial values; None for no bound.
    max_iter, tol, n_replicates, callback
        As in :func:`ls_nmf`.
    rng : numpy.random.Generator
        Source of every replicate's initial values, drawn in turn.
    settings : dict
        Recorded in the result as it is.
    start : float
        ``time.perf_counter()`` when the public call began.
    n_threads : int or None
        BLAS threads, see :func:`gppnmf_core.threads.blas_threads`.

    Returns
    -------
    FitResult
        The replicate with the lowest final objective.
    """
    K, L = X.shape
    xx = float(np.vdot(X, X))
    scale = np.sqrt(np.sum(X, where=X > 0) / X.size / rank)

    def run_replicate(replicate: int) -> Outcome:
        D = scale * np.abs(rng.standard_normal((K, rank)))
        H = scale * np.abs(rng.standard_normal((rank, L)))
        if floor is not None:
            np.maximum(D, floor, out=D)
            np.maximum(H, floor, out=H)
        with blas_threads(n_threads, K * L * rank):
            return _mu_replicate(
                X, xx, D, H, floor=floor, max_iter=max_iter, tol=tol, callback=callback,
                method=method, replicate=replicate, n_replicates=n_replicates,
            )

    i_best, runs = best_of_replicates(run_replicate, n_replicates)
    best = runs[i_best]
    stopped = runs[-1].stopped
    if best.converged:
        message = (
            f"converged: relative change of the objective over {_CHECK_EVERY} iterations "
            f"below tol={tol:g} after {best.n_iter} iterations"
        )
    elif best.stopped:
        message = f"stopped on request after {best.n_iter} iterations"
    else:
        message = f"reached max_iter={max_iter} without meeting tol={tol:g}"
    message += f" (replicate {i_best + 1} of {len(runs)} run"
    message += f", {n_replicates} asked; fit stopped on request)" if stopped else ")"
    D, H = best.x
    return FitResult.from_replicates(
        i_best, runs, D, H, message=message, runtime=time.perf_counter() - start, method=method, settings=settings,
    )


def _check_common(X, rank, max_iter, tol, n_replicates, callback, random_state):
    X = check_matrix(X, "X")
    rank = check_rank(rank, X.shape)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    tol = check_nonnegative(tol, "tol")
    n_replicates = check_int(n_replicates, "n_replicates", minimum=1)
    callback = check_callback(callback)
    rng = check_random_state(random_state)
    seed = random_state_setting(random_state)
    settings = {
        "rank": rank,
        "max_iter": max_iter,
        "tol": tol,
        "n_replicates": n_replicates,
        "random_state": seed,
    }
    return X, rank, max_iter, tol, n_replicates, rng, settings


def ls_nmf(
    X,
    rank: int,
    *,
    max_iter: int = 1000,
    tol: float = 1e-6,
    n_replicates: int = 1,
    n_threads: int | None = None,
    callback: ProgressCallback | None = None,
    random_state=None,
) -> FitResult:
    r"""LS-NMF: Lee–Seung multiplicative updates on the clipped data ``max(X, 0)``.

    Minimises

    .. math::
        \tfrac12 \| X^{+} - D H \|_F^2, \qquad X^{+} = \max(X, 0),
        \qquad D \ge 0,\; H \ge 0,

    by alternating

    .. math::
        H \leftarrow H \odot \frac{D^\top X^{+}}{D^\top D H}, \qquad
        D \leftarrow D \odot \frac{X^{+} H^\top}{D H H^\top},

    which never increase the objective. The updates require nonnegative data,
    hence the clipping, and the clipping biases the fit: entries that hold only
    zero-mean noise become, on average, a positive offset that the factors
    reproduce. Both ``objective`` and ``objective_trace`` are measured against
    ``max(X, 0)``, not ``X``; use :func:`gppnmf_core.metrics.evaluate` to
    compare methods on the raw data.

    Parameters
    ----------
    X : array_like of shape (K, L)
        Data; negative entries are set to zero before the fit.
    rank : int
        Number of components M, ``1 <= rank <= min(K, L)``.
    max_iter : int, default=1000
        Iteration budget of each replicate. One iteration updates H, then D.
    tol : float, default=1e-6
        Stopping rule, tested every 10 iterations: stop when the objective
        changed by less than ``tol`` times its value 10 iterations earlier.
        ``tol=0`` always runs ``max_iter`` iterations.
    n_replicates : int, default=1
        Number of random restarts; the one with the lowest final objective is
        returned. The restarts draw their initial values in turn from the same
        generator.
    n_threads : int, optional
        BLAS threads for the fit; by default one thread for small problems,
        see :mod:`gppnmf_core.threads`.
    callback : callable, optional
        Called as ``callback(progress)`` with a :class:`~gppnmf_core.results.Progress`
        at the start of each replicate, every 10 iterations and after the last
        iteration. Raising ``StopIteration`` (SciPy's contract) or returning
        True stops the fit: the best replicate so far (the interrupted one
        included) is returned with ``stopped=True``.
    random_state : None, int or numpy.random.Generator
        Seed of the initial values ``D, H ~ sqrt(mean(max(X, 0)) / M) |N(0, 1)|``;
        recorded in ``settings["random_state"]`` (``"Generator"`` for a generator).

    Returns
    -------
    FitResult
        ``D`` of shape (K, M) and ``H`` of shape (M, L) of the best replicate.
        ``objective_trace`` of shape (n_iter + 1,) holds the objective at the
        start and after every iteration of that replicate (computed cheaply from
        products the updates need anyway; its last entry, equal to
        ``objective``, is recomputed from the residual). ``replicate_objectives``
        holds the final objective of every replicate that ran. ``converged`` is
        True when the relative-change rule ended the best replicate.

    Raises
    ------
    ValueError
        If ``X`` is not a finite 2-D array or an argument is out of range; the
        message names the argument. Also if ``X`` has no positive entries
        (``max(X, 0)`` would be all zero).

    See Also
    --------
    cnmf : the same updates on the raw data, with a floor on the factors.
    """
    start = time.perf_counter()
    X, rank, max_iter, tol, n_replicates, rng, settings = _check_common(
        X, rank, max_iter, tol, n_replicates, callback, random_state
    )
    X = np.maximum(X, 0.0)
    if not np.any(X > 0):
        raise ValueError(
            f"X has no positive entries (shape {X.shape}); LS-NMF fits max(X, 0), "
            "which would be all zero"
        )
    settings["clip_negative"] = True
    return _mu_fit(
        X,
        rank,
        method="ls_nmf",
        floor=None,
        max_iter=max_iter,
        tol=tol,
        n_replicates=n_replicates,
        callback=callback,
        rng=rng,
        settings=settings,
        start=start,
        n_threads=n_threads,
    )


def cnmf(
    X,
    rank: int,
    *,
    max_iter: int = 1000,
    tol: float = 1e-6,
    n_replicates: int = 1,
    floor: float = 1e-6,
    n_threads: int | None = None,
    callback: ProgressCallback | None = None,
    random_state=None,
) -> FitResult:
    r"""CNMF (Sajda et al. 2004): multiplicative updates on the raw X with a floor.

    Minimises, over the raw data with its negative entries kept,

    .. math::
        \tfrac12 \| X - D H \|_F^2, \qquad D \ge \varepsilon,\; H \ge \varepsilon,

    with :math:`\varepsilon` = ``floor``, by alternating

    .. math::
        H \leftarrow \max\!\left(\varepsilon,\; H \odot \frac{D^\top X}{D^\top D H}\right),
        \qquad
        D \leftarrow \max\!\left(\varepsilon,\; D \odot \frac{X H^\top}{D H H^\top}\right).

    Where ``D.T @ X`` (or ``X @ H.T``) is negative the plain update would give a
    negative element; the floor keeps every element positive, so a later update
    can let it grow again. Because of the floor the objective is not
    guaranteed to decrease at every step, though it does decrease overall.

    Parameters
    ----------
    X : array_like of shape (K, L)
        Data; may contain negative entries (noise).
    rank : int
        Number of components M, ``1 <= rank <= min(K, L)``.
    max_iter : int, default=1000
        Iteration budget of each replicate. One iteration updates H, then D.
    tol : float, default=1e-6
        Stopping rule, tested every 10 iterations: stop when the objective
        changed by less than ``tol`` times its value 10 iterations earlier.
        ``tol=0`` always runs ``max_iter`` iterations.
    n_replicates : int, default=1
        Number of random restarts; the one with the lowest final objective is
        returned. The restarts draw their initial values in turn from the same
        generator.
    floor : float, default=1e-6
        The floor :math:`\varepsilon > 0`, absolute, in the units of the
        factors. 1e-6 is the value of the paper authors' demo. The updates are
        scale-equivariant (scaling X by ``c`` scales D and H by ``sqrt(c)``), so
        an absolute floor on data of scale ``c`` acts like ``floor / sqrt(c)``
        on unit-scale data: on CSI data (X ~ 1e4 to 1e5, factors ~ 1e2) the
        default is effectively zero but still positive, which is all the
        updates need; a floored element then takes a few more iterations to
        grow back. To make the floor relative to the data, pass for example
        ``floor=1e-6 * np.sqrt(np.abs(X).max() / rank)``.
    n_threads : int, optional
        BLAS threads for the fit; by default one thread for small problems,
        see :mod:`gppnmf_core.threads`.
    callback : callable, optional
        Called as ``callback(progress)`` with a :class:`~gppnmf_core.results.Progress`
        at the start of each replicate, every 10 iterations and after the last
        iteration. Raising ``StopIteration`` (SciPy's contract) or returning
        True stops the fit: the best replicate so far (the interrupted one
        included) is returned with ``stopped=True``.
    random_state : None, int or numpy.random.Generator
        Seed of the initial values ``D, H ~ sqrt(mean(max(X, 0)) / M) |N(0, 1)|``;
        recorded in ``settings["random_state"]`` (``"Generator"`` for a generator).

    Returns
    -------
    FitResult
        ``D`` of shape (K, M) and ``H`` of shape (M, L) of the best replicate.
        ``objective_trace`` of shape (n_iter + 1,) holds the objective at the
        start and after every iteration of that replicate (computed cheaply from
        products the updates need anyway; its last entry, equal to
        ``objective``, is recomputed from the residual). ``replicate_objectives``
        holds the final objective of every replicate that ran. ``converged`` is
        True when the relative-change rule ended the best replicate.

    Raises
    ------
    ValueError
        If ``X`` is not a finite 2-D array or an argument is out of range; the
        message names the argument.

    See Also
    --------
    ls_nmf : the same updates on ``max(X, 0)``, without a floor.
    """
    start = time.perf_counter()
    X, rank, max_iter, tol, n_replicates, rng, settings = _check_common(
        X, rank, max_iter, tol, n_replicates, callback, random_state
    )
    floor = check_positive(floor, "floor")
    settings["floor"] = floor
    return _mu_fit(
        X,
        rank,
        method="cnmf",
        floor=floor,
        max_iter=max_iter,
        tol=tol,
        n_replicates=n_replicates,
        callback=callback,
        rng=rng,
        settings=settings,
        start=start,
        n_threads=n_threads,
    )
