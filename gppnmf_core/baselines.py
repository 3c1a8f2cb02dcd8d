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

Both take a ``mask`` (boolean, of the shape of X or one value per column)
of the entries that count: the updates become the weighted ones of the masked
least-squares cost, so left-out entries (missing, held out, or outside the
region of interest) take no part in the fit, and ``D @ H`` predicts them.

Both share one private solver, :func:`_mu_fit`.
"""

from __future__ import annotations

import dataclasses
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


def _iterate(
    step,
    f0: float,
    *,
    max_iter: int,
    tol: float,
    callback: ProgressCallback | None,
    method: str,
    replicate: int,
    n_replicates: int,
) -> tuple[np.ndarray, int, bool, bool]:
    """The iteration loop both update rules share: the stopping rule, progress reports and stop requests.

    ``step()`` runs one iteration (H, then D) and returns the objective after
    it. Returns ``(trace, n_iter, converged, stopped)`` with ``trace`` of shape
    (n_iter + 1,), the objective at the start first.
    """
    trace = np.empty(max_iter + 1)
    trace[0] = f_check = f0
    n_iter = 0
    converged = False

    def stop(iteration: int, value: float) -> bool:
        return stop_requested(callback, Progress(method, replicate, n_replicates, iteration, max_iter, value))

    stopped = stop(0, float(f0))
    while not stopped and n_iter < max_iter:
        f = step()
        n_iter += 1
        trace[n_iter] = f
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
    return trace[: n_iter + 1].copy(), n_iter, converged, stopped


def _mu_replicate(X: np.ndarray, xx: float, D: np.ndarray, H: np.ndarray, *, floor: float | None,
                  **loop) -> Outcome:
    r"""Run the multiplicative updates from ``(D, H)`` (updated in place); an Outcome with ``x = (D, H)``.

    The cost after each iteration is obtained without forming the residual:

    .. math::
        \tfrac12 \|X - DH\|_F^2 = \tfrac12 \left( \|X\|_F^2
        - 2 \langle D, X H^\top \rangle + \langle D^\top D, H H^\top \rangle \right),

    where ``X H.T`` and ``H H.T`` are the products the D-update needs anyway and
    ``D.T D`` is the Gram matrix the next H-update needs anyway, so recording
    the cost at every iteration costs O(K M + M^2) extra. The expansion loses
    absolute accuracy of about ``eps * ||X||^2``; the last entry is therefore
    recomputed from the residual. ``loop`` holds the keywords of :func:`_iterate`.
    """
    K, L = X.shape
    M = D.shape[1]
    DtX = np.empty((M, L))
    den_H = np.empty((M, L))
    XHt = np.empty((K, M))
    den_D = np.empty((K, M))
    HHt = np.empty((M, M))
    DtD = np.empty((M, M))

    def cost() -> float:
        value = 0.5 * (xx - 2.0 * float(np.vdot(D, XHt)) + float(np.vdot(DtD, HHt)))
        return max(value, 0.0)

    def step() -> float:
        # H <- H * (D^T X) / (D^T D H)
        np.matmul(D.T, X, out=DtX)
        np.multiply(DtX, H, out=DtX)
        np.matmul(DtD, H, out=den_H)
        np.add(den_H, _TINY, out=den_H)
        np.divide(DtX, den_H, out=H)
        if floor is not None:
            np.maximum(H, floor, out=H)
        # D <- D * (X H^T) / (D H H^T)
        np.matmul(X, H.T, out=XHt)
        np.matmul(H, H.T, out=HHt)
        np.matmul(D, HHt, out=den_D)
        np.add(den_D, _TINY, out=den_D)
        np.multiply(D, XHt, out=D)
        np.divide(D, den_D, out=D)
        if floor is not None:
            np.maximum(D, floor, out=D)
        np.matmul(D.T, D, out=DtD)
        return cost()

    np.matmul(X, H.T, out=XHt)
    np.matmul(H, H.T, out=HHt)
    np.matmul(D.T, D, out=DtD)
    trace, n_iter, converged, stopped = _iterate(step, cost(), **loop)
    trace[-1] = _half_sq_error(X, D, H)
    return Outcome((D, H), float(trace[-1]), trace, n_iter, n_iter + 1, converged, stopped, "")


def _weighted_mu_replicate(WX: np.ndarray, W: np.ndarray, D: np.ndarray, H: np.ndarray, *, floor: float | None,
                           **loop) -> Outcome:
    r"""The updates with a 0/1 weight per entry (a mask), from ``(D, H)`` updated in place.

    Minimises :math:`\tfrac12 \|W \odot (X - DH)\|_F^2` by

    .. math::
        H \leftarrow H \odot \frac{D^\top (W \odot X)}{D^\top (W \odot DH)}, \qquad
        D \leftarrow D \odot \frac{(W \odot X) H^\top}{(W \odot DH) H^\top},

    each followed by the floor when there is one. ``WX`` is ``W * X`` (masked-out
    entries zero, whatever X held there). The masked product ``W * (D H)``
    cannot be expanded into Gram matrices as in :func:`_mu_replicate`, so it is
    formed for each half-step: the product computed for the cost after an
    iteration is the one the next H-update needs, and the cost is exact (from
    the masked residual) at every iteration. ``loop`` holds the keywords of
    :func:`_iterate`.
    """
    K, L = WX.shape
    M = D.shape[1]
    num_H = np.empty((M, L))
    den_H = np.empty((M, L))
    num_D = np.empty((K, M))
    den_D = np.empty((K, M))
    WP = np.empty((K, L))  # W * (D @ H)
    R = np.empty((K, L))  # the masked residual

    def cost() -> float:
        """Form ``W * (D @ H)`` for the current factors; half the squared masked residual."""
        np.matmul(D, H, out=WP)
        np.multiply(WP, W, out=WP)
        np.subtract(WP, WX, out=R)
        return 0.5 * float(np.vdot(R, R))

    def step() -> float:
        # H <- H * (D^T (W X)) / (D^T (W D H)); WP holds W * (D @ H) from the last cost()
        np.matmul(D.T, WX, out=num_H)
        np.multiply(num_H, H, out=num_H)
        np.matmul(D.T, WP, out=den_H)
        np.add(den_H, _TINY, out=den_H)
        np.divide(num_H, den_H, out=H)
        if floor is not None:
            np.maximum(H, floor, out=H)
        # D <- D * ((W X) H^T) / ((W D H) H^T)
        np.matmul(D, H, out=WP)
        np.multiply(WP, W, out=WP)
        np.matmul(WX, H.T, out=num_D)
        np.matmul(WP, H.T, out=den_D)
        np.add(den_D, _TINY, out=den_D)
        np.multiply(D, num_D, out=D)
        np.divide(D, den_D, out=D)
        if floor is not None:
            np.maximum(D, floor, out=D)
        return cost()

    trace, n_iter, converged, stopped = _iterate(step, cost(), **loop)
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
    mask: np.ndarray | None = None,
) -> FitResult:
    """Multiplicative-update NMF with restarts, shared by LS-NMF and CNMF.

    Parameters
    ----------
    X : ndarray of shape (K, L)
        Data, float64, already validated (and clipped for LS-NMF); zero where
        ``mask`` is False.
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
    mask : ndarray of bool, shape (K, L) or (L,), optional
        Entries (or whole columns, 1-D) that count; None counts every entry.
        A column mask runs the plain updates on the kept columns, which is the
        weighted update exactly (the masked columns of H reach zero, or the
        floor, at the first update and take no part in the D-update).

    Returns
    -------
    FitResult
        The replicate with the lowest final objective.
    """
    K, L = X.shape
    columns = mask is not None and mask.ndim == 1
    kept = X if mask is None else (X[:, mask] if columns else X[mask])
    scale = np.sqrt(np.sum(kept, where=kept > 0) / kept.size / rank)
    if columns:
        Xc = np.ascontiguousarray(X[:, mask])
        xx = float(np.vdot(Xc, Xc))
    elif mask is not None:
        W = mask.astype(np.float64)
    else:
        xx = float(np.vdot(X, X))
    loop = dict(max_iter=max_iter, tol=tol, callback=callback, method=method, n_replicates=n_replicates)

    def run_replicate(replicate: int) -> Outcome:
        D = scale * np.abs(rng.standard_normal((K, rank)))
        H = scale * np.abs(rng.standard_normal((rank, L)))
        if floor is not None:
            np.maximum(D, floor, out=D)
            np.maximum(H, floor, out=H)
        with blas_threads(n_threads, K * L * rank):
            if mask is None:
                return _mu_replicate(X, xx, D, H, floor=floor, replicate=replicate, **loop)
            if not columns:
                return _weighted_mu_replicate(X, W, D, H, floor=floor, replicate=replicate, **loop)
            Hc = np.ascontiguousarray(H[:, mask])
            outcome = _mu_replicate(Xc, xx, D, Hc, floor=floor, replicate=replicate, **loop)
        if outcome.n_iter > 0:  # what the first weighted update gives the left-out columns
            H[:, ~mask] = 0.0 if floor is None else floor
        H[:, mask] = Hc
        return dataclasses.replace(outcome, x=(D, H))

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


def _check_keep_mask(mask, shape: tuple[int, int]) -> np.ndarray | None:
    """The entries a fit counts: None (all), a (L,) column mask or a (K, L) mask, as bool.

    A mask that keeps everything becomes None (the plain updates) and a (K, L)
    mask whose rows are all equal becomes its first row (the column path).
    """
    if mask is None:
        return None
    try:
        mask = np.asarray(mask)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"mask must be a boolean array: {exc}") from None
    K, L = shape
    if mask.ndim == 1:
        if mask.shape != (L,):
            raise ValueError(f"a 1-D mask must hold one value per column of X ({L}), got shape {mask.shape}")
    elif mask.shape != (K, L):
        raise ValueError(f"mask must have the shape of X {(K, L)} (or ({L},) for whole columns), got {mask.shape}")
    if mask.dtype != np.bool_:
        if not (np.issubdtype(mask.dtype, np.number) and np.all((mask == 0) | (mask == 1))):
            raise ValueError(f"mask must be boolean (or 0/1), got dtype {mask.dtype}")
        mask = mask != 0
    if not mask.any():
        raise ValueError(f"mask masks out every entry of X (shape {(K, L)})")
    if mask.all():
        return None
    if mask.ndim == 2 and np.all(mask == mask[:1]):
        mask = mask[0]
    return np.array(mask, dtype=bool)


def _check_data(X, mask) -> tuple[np.ndarray, np.ndarray | None]:
    """``X`` as float64 (K, L), finite where ``mask`` keeps it and zero elsewhere; the normalised mask."""
    if mask is None:
        return check_matrix(X, "X"), None
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"X must be a real 2-D array of numbers: {exc}") from None
    if X.ndim != 2 or X.size == 0:
        raise ValueError(f"X must be a non-empty 2-D array, got shape {X.shape}")
    keep = _check_keep_mask(mask, X.shape)
    full = np.ones(X.shape, dtype=bool) if keep is None else np.broadcast_to(keep, X.shape)
    finite = np.isfinite(X)
    n_bad = int(np.count_nonzero(full & ~finite))
    if n_bad:
        raise ValueError(f"X contains {n_bad} non-finite value(s) (NaN or Inf) in entries the mask keeps; "
                         f"shape {X.shape}")
    if keep is not None:
        X = np.where(full, X, 0.0)  # a copy: masked-out entries (NaN allowed there) take no part
    return X, keep


def _check_common(X, rank, max_iter, tol, n_replicates, callback, random_state, mask=None):
    X, keep = _check_data(X, mask)
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
        "masked": mask is not None,
    }
    return X, keep, rank, max_iter, tol, n_replicates, rng, settings


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
    mask=None,
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
    mask : array_like of bool, shape (K, L) or (L,), optional
        Which entries of X count: True (or 1) keeps an entry, False (0) leaves
        it out of the objective and of every update, so X may hold anything
        there, NaN included (missing or held-out values). A 1-D mask keeps or
        leaves out whole columns (observations, e.g. voxels outside the head).
        The updates become the weighted ones of the masked objective
        :math:`\tfrac12 \|W \odot (X - DH)\|_F^2` (see Notes); the objective
        and its trace count the kept entries only. ``D @ H`` predicts the
        left-out entries; a column (row) with no kept entry gets zeros.
        None (or a mask that keeps everything) runs the plain updates.
        Recorded as ``settings["masked"]``.

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
        (``max(X, 0)`` would be all zero) where the mask keeps it, or if
        ``mask`` is not boolean of shape (K, L) or (L,), or leaves out every entry.

    See Also
    --------
    cnmf : the same updates on the raw data, with a floor on the factors.

    Notes
    -----
    With a mask :math:`W \in \{0, 1\}^{K \times L}` the updates are those of
    weighted NMF,

    .. math::
        H \leftarrow H \odot \frac{D^\top (W \odot X^{+})}{D^\top (W \odot D H)}, \qquad
        D \leftarrow D \odot \frac{(W \odot X^{+}) H^\top}{(W \odot D H) H^\top},

    which keep the guarantee that the masked objective never increases (the
    same auxiliary-function argument with a diagonal weight). Zeroing the
    left-out entries of X and running the plain updates would instead fit
    zeros there. A column mask runs the plain updates on the kept columns (the
    same iterates, at the cost of the unmasked fit); an entry-wise mask forms
    ``W * (D @ H)`` twice per iteration (about three times the work of an
    unmasked iteration).
    """
    start = time.perf_counter()
    X, keep, rank, max_iter, tol, n_replicates, rng, settings = _check_common(
        X, rank, max_iter, tol, n_replicates, callback, random_state, mask
    )
    X = np.maximum(X, 0.0)
    if not np.any(X > 0):
        where = "" if keep is None else " where the mask keeps it"
        raise ValueError(
            f"X has no positive entries{where} (shape {X.shape}); LS-NMF fits max(X, 0), "
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
        mask=keep,
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
    mask=None,
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
    mask : array_like of bool, shape (K, L) or (L,), optional
        Which entries of X count: True (or 1) keeps an entry, False (0) leaves
        it out of the objective and of every update, so X may hold anything
        there, NaN included (missing or held-out values). A 1-D mask keeps or
        leaves out whole columns (observations, e.g. voxels outside the head).
        The updates become the weighted ones of the masked objective
        :math:`\tfrac12 \|W \odot (X - DH)\|_F^2` (see Notes); the objective
        and its trace count the kept entries only. ``D @ H`` predicts the
        left-out entries; a column (row) with no kept entry gets the floor.
        None (or a mask that keeps everything) runs the plain updates.
        Recorded as ``settings["masked"]``.

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
        If ``X`` is not a finite 2-D array (where the mask keeps it) or an
        argument is out of range; the message names the argument. Also if
        ``mask`` is not boolean of shape (K, L) or (L,), or leaves out every entry.

    See Also
    --------
    ls_nmf : the same updates on ``max(X, 0)``, without a floor.

    Notes
    -----
    With a mask :math:`W \in \{0, 1\}^{K \times L}` (Sajda et al.'s updates
    for the weighted objective :math:`\tfrac12 \|W \odot (X - DH)\|_F^2`)

    .. math::
        H \leftarrow \max\!\left(\varepsilon,\; H \odot
            \frac{D^\top (W \odot X)}{D^\top (W \odot D H)}\right), \qquad
        D \leftarrow \max\!\left(\varepsilon,\; D \odot
            \frac{(W \odot X) H^\top}{(W \odot D H) H^\top}\right).

    Both the numerator and the denominator are masked: the numerator is the
    negative gradient's data term and may still be negative (kept negative
    entries), which the floor handles as without a mask; the denominator is
    the model's own masked prediction, so left-out entries neither pull the
    factors towards zero (as zero-filling X would) nor towards the value X
    holds there. Each element's update is the unmasked one restricted to the
    entries its row or column keeps, so an element with no kept entry sits
    at the floor. A column mask runs the plain updates on the kept columns
    (the same iterates); an entry-wise mask forms ``W * (D @ H)`` twice per
    iteration (about three times the work of an unmasked iteration).
    """
    start = time.perf_counter()
    X, keep, rank, max_iter, tol, n_replicates, rng, settings = _check_common(
        X, rank, max_iter, tol, n_replicates, callback, random_state, mask
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
        mask=keep,
    )
