r"""GPP-NMF: the MAP estimate of an NMF with Gaussian-process priors on both factors."""

from __future__ import annotations

import time

import numpy as np

from ._validation import (
    check_callback,
    check_int,
    check_mask,
    check_matrix,
    check_nonnegative,
    check_positive,
    check_random_state,
    check_rank,
    random_state_setting,
)
from .objective import GPPNMFObjective
from .priors import GPPrior, bind_to_data
from .results import FitResult, Progress, best_of_replicates, stop_requested
from .solvers import minimize_alternating_cg, minimize_lbfgs, minimize_newton_cg
from .threads import blas_threads

METHODS = ("auto", "lbfgs", "newton_cg", "alternating_cg")

#: ``method="auto"`` uses truncated Newton from this many whitened variables on (L-BFGS below).
#: Measured (benchmarks/bench_iterations.py): on a 16×16×16 × 512 grid (7,680 variables) Newton-CG
#: takes ~2 s against ~14 s for L-BFGS; the toy (600) and the CSI phantom (~1,300) stay on L-BFGS,
#: which keeps the paper's table and their times exactly as they were.
AUTO_NEWTON_MIN_SIZE = 5000

#: Newton-CG stops when a full Newton step lowers the objective by less than this times ``tol``
#: (relative). A Newton step's decrease bounds the gap left to the optimum, L-BFGS's per-iteration
#: decrease does not: at 1e-8 (the default ``tol`` times 100) the remaining gap measured on the
#: benchmark grids was ~1e-8 relative, below the gap L-BFGS stops at (~3e-8).
NEWTON_TOL_FACTOR = 100.0


#: Precision of Newton-CG's Hessian-vector products and inner CG vectors (the objective, gradient,
#: step and line search stay float64). Measured on 64×64×32 × 256 (benchmarks/bench_iterations.py,
#: 2 cores): float64 products 164 s (load ~4); float32 products 54 s (load ~6), 36 s (load 1.2);
#: on the kept voxels' bounding box with a faster gather/scatter 30.7 s (load 0.6); float32 CG
#: vectors too 28.4 s (load ~1), 7,490 products, objective within 1e-8 of the float64 run's.
#: Products agree with float64 ones to ~2e-7 relative. Tried and not kept (issue 14): a 2x coarser
#: grid's optimum lifted by the prior's kriging (fine Newton still 31 steps / 3,541 products on
#: 32×32×16 against 38 / 3,492), a Steihaug trust region (4,655 products), Eisenstat–Walker
#: forcing (3,369 products but a 5e-8 higher objective and no faster), two BLAS threads (4x slower).
NEWTON_PRODUCT_DTYPE = np.float32


def fit_gppnmf(
    X,
    rank,
    prior_D: GPPrior,
    prior_H: GPPrior,
    noise_var,
    *,
    mask=None,
    method: str = "auto",
    max_iter: int = 1000,
    tol: float = 1e-10,
    gtol: float = 1e-6,
    n_replicates: int = 1,
    init_std: float = 1e-3,
    n_threads=None,
    callback=None,
    random_state=None,
) -> FitResult:
    r"""Fit ``X ≈ D H`` with GP priors on the columns of D and the rows of H.

    Minimises the negative log posterior over the whitened variables
    (Schmidt & Laurberg 2008, eq. 22):

    .. math::

        L(\delta, \eta) = \frac{1}{2\sigma^2} \lVert W \odot (X - D H) \rVert_F^2
                          + \tfrac12 \lVert\delta\rVert^2 + \tfrac12 \lVert\eta\rVert^2,
        \qquad D = f_D^{-1}(C_D \delta), \quad H^T = f_H^{-1}(C_H \eta)

    Parameters
    ----------
    X : array_like of shape (K, L)
        Data; may contain negative values (noise). Must be finite.
    rank : int
        Number of components M, ``1 <= M <= min(K, L)``.
    prior_D : GPPrior
        Prior of each column of D (K points).
    prior_H : GPPrior
        Prior of each row of H (L points); for a grid, ``H[m].reshape(grid)`` is map m.
    noise_var : float or "estimate"
        Noise variance sigma^2 (> 0), or ``"estimate"``: sigma^2 is first
        estimated from X with these priors and mask
        (:func:`~gppnmf_core.noise_estimation.estimate_noise_var`: alternating
        MAP fits and MacKay's ``RSS / (n - gamma)``, seeded by ``random_state``),
        then the fit runs at the estimate. ``settings["noise_var"]`` holds the
        value used and ``settings["noise_estimate"]`` how it was reached
        (rounds, sigma^2 after each, gamma, converged). ``callback`` hears the
        final fit only.
    mask : array_like of shape (K, L) or (L,), optional
        Nonnegative weights W (0/1 to leave entries out); default all ones. A
        1-D mask weights whole columns (observations, e.g. voxels outside the
        head), as does a (K, L) mask whose rows are all equal: such a mask
        costs no (K, L) array during the fit (see :mod:`gppnmf_core.objective`),
        and H at a left-out voxel is the prior's continuation from the others.
    method : {"auto", "lbfgs", "newton_cg", "alternating_cg"}
        ``"auto"`` (default): ``"newton_cg"`` when the fit has at least
        :data:`AUTO_NEWTON_MIN_SIZE` whitened variables
        (``(n_latent_D + n_latent_H) * M``; large grids), else ``"lbfgs"``.
        The settings record the method used.
        ``"lbfgs"``: joint L-BFGS over (delta, eta).
        ``"newton_cg"``: truncated Newton over (delta, eta) with the objective's
        Gauss–Newton Hessian-vector products
        (:meth:`~gppnmf_core.objective.GPPNMFObjective.gauss_newton_operator`
        in :data:`NEWTON_PRODUCT_DTYPE`, float32, on vectors of shape
        (n_latent_D * M + n_latent_H * M,)): some 30–50 times
        fewer iterations than L-BFGS on the grids of ``benchmarks/bench_iterations.py``,
        each costing up to ``250`` products (no pass over X with a column
        mask), to the same or a slightly lower objective, several times
        faster there. ``"alternating_cg"``: the reference code's scheme, one
        conjugate-gradient step on delta then on eta per iteration, for exactly
        ``max_iter`` iterations.
    max_iter : int
        Iteration budget per replicate.
    tol : float
        L-BFGS stops when the relative decrease of the objective per iteration
        falls below ``tol``; Newton-CG when a full Newton step decreases it by
        less than ``NEWTON_TOL_FACTOR * tol`` (relative; see
        :data:`NEWTON_TOL_FACTOR`).
    gtol : float
        L-BFGS also stops when the largest gradient component is below ``gtol``.
    n_replicates : int
        Restarts from independent initial points; the lowest objective is kept.
    init_std : float
        Standard deviation of the initial whitened variables (the reference
        code draws them from N(0, 1e-6), i.e. ``init_std = 1e-3``).
    n_threads : int, optional
        BLAS threads for the fit; by default the policy of
        :mod:`gppnmf_core.threads` applied to the objective's largest product
        with the data, which works on cache-sized column blocks: in practice
        one thread (measured faster than two at every size, see there).
    callback : callable, optional
        Called as ``callback(Progress)`` after every iteration. Raising
        ``StopIteration`` (SciPy's contract) or returning True stops the fit,
        which then returns the best point so far (``stopped=True``) and skips
        the remaining replicates.
    random_state : None, int or numpy.random.Generator
        Seeds the initial points; recorded in ``settings["random_state"]`` (the
        int or None as given, ``"Generator"`` for a generator).

    Returns
    -------
    FitResult
        ``D`` of shape (K, M), ``H`` of shape (M, L), the objective, its trace,
        ``nfev`` (objective-and-gradient evaluations of the best replicate), the
        settings used, and ``latent = {"delta": (n_latent_D, M), "eta": (n_latent_H, M)}``.

    Raises
    ------
    ValueError
        For non-finite X, a rank out of range, a non-positive noise variance,
        a mask of the wrong shape, a prior whose coords/grid does not match X,
        or a ``callback`` that is not callable.

    Examples
    --------
    >>> import gppnmf_core as gp
    >>> toy = gp.datasets.paper_toy(random_state=0)
    >>> pD = gp.GPPrior(gp.RBF(beta=10.0), gp.RectifiedGaussianLink(s=1.0))
    >>> pH = gp.GPPrior(gp.RBF(beta=10.0), gp.ExponentialLink(lam=1.0))
    >>> res = gp.fit_gppnmf(toy.X, rank=2, prior_D=pD, prior_H=pH, noise_var=25.0, random_state=0)
    >>> res.D.shape, res.H.shape
    ((100, 2), (2, 200))
    """
    start = time.perf_counter()
    X = check_matrix(X, "X")
    K, L = X.shape
    rank = check_rank(rank, X.shape)
    noise_var, noise_estimate = _noise_var_for_fit(noise_var, X, rank, prior_D, prior_H, mask, random_state)
    weights_sq = check_mask(mask, X.shape)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    max_iter = check_int(max_iter, "max_iter")
    tol = check_nonnegative(tol, "tol")
    gtol = check_nonnegative(gtol, "gtol")
    n_replicates = check_int(n_replicates, "n_replicates")
    init_std = check_nonnegative(init_std, "init_std")
    callback = check_callback(callback)
    bound_D, bound_H = bind_to_data(X, prior_D, prior_H)
    objective = GPPNMFObjective(X, rank, bound_D, bound_H, noise_var, weights_sq)
    del weights_sq  # the objective keeps what it needs (column weights, or W)
    if method == "auto":
        method = "newton_cg" if objective.size >= AUTO_NEWTON_MIN_SIZE else "lbfgs"
    rng = check_random_state(random_state)
    seed = random_state_setting(random_state)

    with blas_threads(n_threads, objective.product_work):
        best, outcomes = best_of_replicates(
            lambda replicate: _run_replicate(objective, method, replicate, n_replicates, max_iter, tol, gtol,
                                             init_std, callback, rng),
            n_replicates,
        )
    theta = outcomes[best].x
    D, H = objective.factors(theta)
    delta, eta = objective.unpack(theta)
    return FitResult.from_replicates(
        best, outcomes, D, H,
        runtime=time.perf_counter() - start,
        method="gppnmf",
        settings={
            "rank": rank, "noise_var": noise_var, "method": method, "max_iter": max_iter, "tol": tol,
            "gtol": gtol, "n_replicates": n_replicates, "init_std": init_std, "masked": mask is not None,
            "prior_D": prior_D.to_spec(), "prior_H": prior_H.to_spec(), "random_state": seed,
            **({} if noise_estimate is None else {"noise_estimate": noise_estimate}),
        },
        latent={"delta": delta.copy(), "eta": eta.copy()},
    )


def _noise_var_for_fit(noise_var, X, rank, prior_D, prior_H, mask, random_state) -> tuple[float, dict | None]:
    """The sigma^2 a fit uses, and how it was estimated (None when given as a number)."""
    if not isinstance(noise_var, str):
        return check_positive(noise_var, "noise_var"), None
    if noise_var != "estimate":
        raise ValueError(f"noise_var must be a positive number or 'estimate', got {noise_var!r}")
    from .noise_estimation import estimate_noise_var

    value, record = estimate_noise_var(X, rank, prior_D, prior_H, mask=mask, random_state=random_state,
                                       return_details=True)
    return value, {"method": "MacKay: alternating MAP fits and RSS / (n - gamma)", "n_rounds": record.n_rounds,
                   "converged": record.converged, "noise_var_after_round": [r["updated"] for r in record.rounds],
                   "gamma": record.rounds[-1]["gamma"], "n_observed": record.rounds[-1]["n"]}


def _run_replicate(objective, method, replicate, n_replicates, max_iter, tol, gtol, init_std, callback, rng):
    """Run the solver once from a new initial point drawn from ``rng``; an :class:`Outcome`."""

    def on_iteration(iteration, value):
        return stop_requested(callback, Progress("gppnmf", replicate, n_replicates, iteration, max_iter, value))

    theta0 = init_std * rng.standard_normal(objective.size)
    if method == "lbfgs":
        return minimize_lbfgs(objective, theta0, max_iter=max_iter, tol=tol, gtol=gtol, on_iteration=on_iteration)
    if method == "newton_cg":
        return minimize_newton_cg(objective, None, theta0, max_iter=max_iter, tol=NEWTON_TOL_FACTOR * tol,
                                  gtol=gtol, on_iteration=on_iteration,
                                  operator=lambda theta: objective.gauss_newton_operator(
                                      theta, NEWTON_PRODUCT_DTYPE, NEWTON_PRODUCT_DTYPE),
                                  cg_dtype=NEWTON_PRODUCT_DTYPE)
    return minimize_alternating_cg(objective, theta0, objective.blocks, max_iter=max_iter,
                                   on_iteration=on_iteration)


def map_amplitudes(X, delta, prior_D: GPPrior, prior_H: GPPrior, noise_var, *, max_iter: int = 1000,
                   tol: float = 1e-10, gtol: float = 1e-6, n_threads=None):
    r"""The MAP amplitudes H of data X with the signals fixed: GPP-NMF's objective over eta alone.

    Minimises :math:`L(\delta, \eta)` of :func:`fit_gppnmf` over the whitened
    amplitudes eta (L-BFGS from eta = 0) with delta fixed, e.g. at a previous
    fit's ``latent["delta"]``: the amplitudes of new observations under the
    same signals and priors.

    Parameters
    ----------
    X : array_like of shape (K, L)
        Data with the rows (features) of the fit; any number L of columns that
        ``prior_H`` accepts.
    delta : ndarray of shape (n_latent_D, M)
        Whitened signals, e.g. ``fit_gppnmf(...).latent["delta"]``.
    prior_D, prior_H : GPPrior
        The priors of the fit (``prior_H`` bound to L points).
    noise_var : float
        Noise variance sigma^2 (> 0).
    max_iter, tol, gtol, n_threads
        As in :func:`fit_gppnmf`.

    Returns
    -------
    H : ndarray of shape (M, L)
    """
    X = check_matrix(X, "X")
    K, L = X.shape
    noise_var = check_positive(noise_var, "noise_var")
    delta = np.asarray(delta, dtype=np.float64)
    bound_D = prior_D.bind(K, name=f"prior_D (rows of X, shape {X.shape})")
    bound_H = prior_H.bind(L, name=f"prior_H (columns of X, shape {X.shape})")
    if delta.ndim != 2 or delta.shape[0] != bound_D.n_latent:
        raise ValueError(f"delta must have shape ({bound_D.n_latent}, M) for prior_D on {K} points, "
                         f"got {delta.shape}")
    rank = check_rank(delta.shape[1], X.shape)
    objective = GPPNMFObjective(X, rank, bound_D, bound_H, noise_var)
    delta_flat = objective.pack(delta, np.zeros((bound_H.n_latent, rank)))[: objective.n_delta]

    def over_eta(eta_flat):
        value, grad = objective(np.concatenate([delta_flat, eta_flat]))
        return value, grad[objective.n_delta:]

    with blas_threads(n_threads, objective.product_work):
        outcome = minimize_lbfgs(over_eta, np.zeros(objective.size - objective.n_delta), max_iter=max_iter,
                                 tol=tol, gtol=gtol, on_iteration=lambda iteration, value: False)
    return objective.factors(np.concatenate([delta_flat, outcome.x]))[1]
