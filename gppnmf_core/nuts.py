r"""A lean No-U-Turn sampler in NumPy (multinomial NUTS, Stan-style warm-up).

Written from the published algorithm: Hoffman & Gelman (2014), *The No-U-Turn
Sampler*, JMLR 15; Betancourt (2017), *A Conceptual Introduction to Hamiltonian
Monte Carlo*, arXiv:1701.02434 (multinomial sampling of the trajectory and the
generalised no-U-turn criterion on the summed momenta).

One transition
--------------
From ``q`` with momentum ``p ~ N(0, M)`` (``M^-1`` the metric) the
trajectory is doubled in a random direction until the no-U-turn criterion
fails on the whole trajectory or on any of its binary subtrees, a leapfrog
step diverges (energy error above :data:`MAX_ENERGY_ERROR` or a non-finite
potential), or ``2**max_tree_depth`` steps are taken. The next state is drawn
from the trajectory with weights ``exp(-H)``: uniformly progressive within a
new subtree, biased towards the new subtree when it is appended (the
transition leaves the target invariant either way). The criterion on a
(sub)trajectory with summed momentum ``rho`` and end momenta ``p-, p+`` is
``(M^-1 p-) . rho > 0`` and ``(M^-1 p+) . rho > 0``; as in Stan it is also
checked across the join of two merged subtrees (each subtree's summed momentum
extended by the first state of the other), which stops the trajectory from
wrapping around in near-Gaussian targets of high dimension.

Warm-up
-------
Stan's schedule: an initial fast interval (step size only), slow windows of
doubling length in which a diagonal inverse mass matrix is estimated from the
positions (their variances, shrunk towards ``1e-3`` with weight
``5 / (n + 5)``), a final fast interval. The step size follows Nesterov dual
averaging (``gamma = 0.05, t0 = 10, kappa = 0.75``, target acceptance
statistic ``target_accept``), restarted at ``mu = log(10 eps)`` after each
window, and is fixed to the averaged iterate after warm-up. The initial step
size is found by doubling/halving until the acceptance of a single leapfrog
step crosses 0.8. With ``adapt_low_rank`` each window also estimates up to
that many long directions that are not along an axis, from the window's
draws and gradients (:mod:`gppnmf_core.mass_matrix`), and the metric becomes
diagonal plus low rank (:class:`~gppnmf_core.mass_matrix.Metric`).

A potential may raise :class:`OutsideSupport` where the target's density is
zero (a restriction of the space); the trajectory ends there like at a
divergence, which keeps the restricted target invariant, and the iteration is
flagged ``boundary`` instead of ``diverging``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from .mass_matrix import Metric, estimate_low_rank

__all__ = ["MAX_ENERGY_ERROR", "DivergenceError", "Metric", "NUTSChain", "OutsideSupport", "leapfrog",
           "sample_nuts", "warmup_windows"]

#: A leapfrog step whose energy exceeds the initial one by more than this is divergent (Stan's value).
MAX_ENERGY_ERROR = 1000.0


class DivergenceError(ArithmeticError):
    """Raised by a potential function where the density cannot be evaluated (ends the trajectory as divergent)."""


class OutsideSupport(DivergenceError):
    """Raised by a potential function outside the target's support (density zero there).

    Ends the trajectory like a divergence (the subtree with the point is
    discarded, which leaves the target restricted to the support invariant:
    whether a subtree holds such a point does not depend on where in the tree
    the trajectory started), but is counted as ``boundary``, not ``diverging``.
    """


@dataclass
class NUTSChain:
    """The draws and statistics of one chain.

    Attributes
    ----------
    q : ndarray of shape (n_iterations, d)
        Positions after each iteration (warm-up first).
    potential : ndarray of shape (n_iterations,)
        Potential energy ``U(q)`` (the negative log density) at each position.
    stats : dict of ndarray
        Per iteration: ``step_size``, ``n_step`` (leapfrog steps), ``tree_depth``,
        ``accept_stat``, ``diverging``, ``energy`` (the Hamiltonian of the draw).
    grad : ndarray of shape (n_iterations, d) or None
        Gradients of ``U`` at the positions (with ``keep_grad=True``).
    inv_mass : ndarray of shape (d,)
        The diagonal part of the adapted inverse mass matrix.
    metric : Metric
        The adapted inverse mass matrix (diagonal plus low rank).
    step_size : float
        The step size used after warm-up.
    n_done : int
        Iterations completed (less than requested when stopped).
    """

    q: np.ndarray
    potential: np.ndarray
    stats: dict = field(default_factory=dict)
    grad: np.ndarray | None = None
    inv_mass: np.ndarray | None = None
    metric: Metric | None = None
    step_size: float = float("nan")
    n_done: int = 0


def leapfrog(value_and_grad, q, p, g, step_size, inv_mass):
    """One leapfrog step of ``H = U(q) + p^T M^-1 p / 2``; returns ``(q, p, U, g)``.

    ``value_and_grad(q)`` returns ``(U(q), grad U(q))``; ``g`` is the gradient at ``q``;
    ``inv_mass`` is the diagonal of ``M^-1`` as an array of shape (d,) or a :class:`Metric`.
    """
    p = p - (0.5 * step_size) * g
    q = q + step_size * (inv_mass.velocity(p) if isinstance(inv_mass, Metric) else inv_mass * p)
    U, g = value_and_grad(q)
    p = p - (0.5 * step_size) * g
    return q, p, U, g


def warmup_windows(n_warmup: int, init_buffer: int = 75, term_buffer: int = 50,
                   base_window: int = 25) -> list[tuple[int, int]]:
    """Stan's slow windows ``[(start, end), ...]`` (0-based iterations, ``end`` exclusive).

    The inverse mass matrix is re-estimated at each ``end`` from the positions
    of that window. When the three default intervals do not fit they become
    15 %, 75 % and 10 % of ``n_warmup`` (Stan's rule); fewer than 20 warm-up
    iterations adapt the step size only (no windows). Each window doubles the
    last; one that would leave less than the next doubled window before the
    terminal buffer is stretched to reach it.
    """
    if n_warmup < 20:
        return []
    if init_buffer + base_window + term_buffer > n_warmup:
        init_buffer = int(0.15 * n_warmup)
        term_buffer = int(0.1 * n_warmup)
        base_window = n_warmup - init_buffer - term_buffer
    last = n_warmup - term_buffer
    windows = []
    start, window = init_buffer, base_window
    while start < last:
        end = min(start + window, last)
        if end + 2 * window > last:
            end = last
        windows.append((start, end))
        start, window = end, 2 * window
    return windows


def _logaddexp(a: float, b: float) -> float:
    """``log(exp(a) + exp(b))`` of two finite floats (``np.logaddexp`` costs ten times more on scalars)."""
    if a < b:
        a, b = b, a
    return a + math.log1p(math.exp(b - a))


class _DualAveraging:
    """Nesterov dual averaging of ``log(step size)`` towards a target acceptance statistic."""

    def __init__(self, step_size: float, target: float, gamma=0.05, t0=10.0, kappa=0.75):
        self.target, self.gamma, self.t0, self.kappa = target, gamma, t0, kappa
        self.restart(step_size)

    def restart(self, step_size: float) -> None:
        self.mu = math.log(10.0 * step_size)
        self.counter, self.s_bar, self.x_bar = 0, 0.0, 0.0

    def update(self, accept_stat: float) -> float:
        self.counter += 1
        accept_stat = min(1.0, accept_stat) if np.isfinite(accept_stat) else 0.0
        eta = 1.0 / (self.counter + self.t0)
        self.s_bar = (1.0 - eta) * self.s_bar + eta * (self.target - accept_stat)
        x = self.mu - self.s_bar * math.sqrt(self.counter) / self.gamma
        x_eta = self.counter ** (-self.kappa)
        self.x_bar = (1.0 - x_eta) * self.x_bar + x_eta * x
        return math.exp(x)

    @property
    def final(self) -> float:
        return math.exp(self.x_bar)


class _Sampler:
    """The transition kernel: tree building for one chain (holds the potential, metric and random generator)."""

    def __init__(self, value_and_grad, rng, max_tree_depth: int):
        self.vg = value_and_grad
        self.rng = rng
        self.max_tree_depth = max_tree_depth
        self.metric: Metric | None = None
        self.step_size = 1.0

    def _criterion(self, p_sharp_minus, p_sharp_plus, rho) -> bool:
        return float(p_sharp_plus @ rho) > 0.0 and float(p_sharp_minus @ rho) > 0.0

    def _step(self, q, p, g, step_size):
        try:  # (sample_nuts ignores floating-point warnings for the whole chain)
            q, p, U, g = leapfrog(self.vg, q, p, g, step_size, self.metric)
        except OutsideSupport:
            self._boundary = True
            return None
        except DivergenceError:
            self._divergent = True
            return None
        return q, p, U, g

    def _build(self, depth, q, p, g, step_size, H0):
        """Build a subtree of ``2**depth`` steps from the frontier ``(q, p, g)``.

        Returns None when it diverged or turned (the trajectory ends), else a tuple
        ``(q_end, p_end, g_end, rho, p_begin, p_sharp_begin, p_sharp_end, log_w, sample)``
        with ``sample = (q, U, g)``; ``self._n`` and ``self._accept`` accumulate
        the leapfrog count and the acceptance statistic (over every step taken).
        """
        if depth == 0:
            out = self._step(q, p, g, step_size)
            self._n += 1
            if out is None:  # diverged or left the support (_step has set the flag)
                return None
            q, p, U, g = out
            p_sharp = self.metric.velocity(p)
            H = U + 0.5 * float(p @ p_sharp)
            if not np.isfinite(H) or H - H0 > MAX_ENERGY_ERROR:
                self._divergent = True
                return None
            log_w = H0 - H
            self._accept += 1.0 if log_w > 0 else math.exp(log_w)
            return q, p, g, p, p, p_sharp, p_sharp, log_w, (q, U, g)
        left = self._build(depth - 1, q, p, g, step_size, H0)
        if left is None:
            return None
        right = self._build(depth - 1, left[0], left[1], left[2], step_size, H0)
        if right is None:
            return None
        _, p_end_l, _, rho_l, p_begin_l, ps_begin_l, ps_end_l, w_l, sample_l = left
        q_end, p_end, g_end, rho_r, p_begin_r, ps_begin_r, ps_end_r, w_r, sample_r = right
        log_w = _logaddexp(w_l, w_r)
        sample = sample_r if self.rng.random() < math.exp(w_r - log_w) else sample_l
        rho = rho_l + rho_r
        ok = (self._criterion(ps_begin_l, ps_end_r, rho)
              and self._criterion(ps_begin_l, ps_begin_r, rho_l + p_begin_r)
              and self._criterion(ps_end_l, ps_end_r, rho_r + p_end_l))
        if not ok:
            return None
        return q_end, p_end, g_end, rho, p_begin_l, ps_begin_l, ps_end_r, log_w, sample

    def transition(self, q, U, g):
        """One NUTS transition from ``(q, U(q), grad U(q))``; returns the new state and statistics."""
        step = self.step_size
        p = self.metric.momentum(self.rng)
        p_sharp = self.metric.velocity(p)
        H0 = U + 0.5 * float(p @ p_sharp)
        # the trajectory in time order: its backward end (bck) and forward end (fwd)
        bck = (q, p, g)
        fwd = (q, p, g)
        ps_bck = ps_fwd = p_sharp
        rho = p.copy()
        log_w = 0.0
        sample = (q, U, g)
        self._n, self._accept, self._divergent, self._boundary = 0, 0.0, False, False
        depth = 0
        while depth < self.max_tree_depth:
            forward = self.rng.random() < 0.5
            start = fwd if forward else bck
            sub = self._build(depth, *start, step if forward else -step, H0)
            if sub is None:
                break
            depth += 1
            q_end, p_end, g_end, rho_s, p_begin_s, ps_begin_s, ps_end_s, w_s, sample_s = sub
            if w_s > log_w or self.rng.random() < math.exp(w_s - log_w):
                sample = sample_s
            log_w = _logaddexp(log_w, w_s)
            if forward:  # old tree = backward part, subtree = forward part (built in time order)
                rho_b, rho_f = rho, rho_s
                p_fwd_bck, ps_fwd_bck = p_begin_s, ps_begin_s  # backward-most state of the forward part
                p_bck_fwd, ps_bck_fwd = fwd[1], ps_fwd         # forward-most state of the backward part
                fwd, ps_fwd = (q_end, p_end, g_end), ps_end_s
            else:  # subtree built backwards in time: its begin is next to the old tree
                rho_b, rho_f = rho_s, rho
                p_fwd_bck, ps_fwd_bck = bck[1], ps_bck
                p_bck_fwd, ps_bck_fwd = p_begin_s, ps_begin_s
                bck, ps_bck = (q_end, p_end, g_end), ps_end_s
            rho = rho_b + rho_f
            if not (self._criterion(ps_bck, ps_fwd, rho)
                    and self._criterion(ps_bck, ps_fwd_bck, rho_b + p_fwd_bck)
                    and self._criterion(ps_bck_fwd, ps_fwd, rho_f + p_bck_fwd)):
                break
        accept = self._accept / max(self._n, 1)
        q_new, U_new, g_new = sample
        stats = {"n_step": self._n, "tree_depth": depth, "accept_stat": accept, "diverging": self._divergent,
                 "boundary": self._boundary,
                 "step_size": step, "energy": H0}
        return q_new, U_new, g_new, stats

    def find_initial_step_size(self, q, U, g, step: float = 1.0) -> float:
        """Stan's heuristic: double or halve until one leapfrog step's acceptance crosses 0.8."""
        direction = 0
        for _ in range(100):
            p = self.metric.momentum(self.rng)
            H0 = U + 0.5 * float(p @ self.metric.velocity(p))
            out = self._step(q, p, g, step)
            if out is None:
                delta = -np.inf
            else:
                H = out[2] + 0.5 * float(out[1] @ self.metric.velocity(out[1]))
                delta = H0 - H if np.isfinite(H) else -np.inf
            new_direction = 1 if delta > math.log(0.8) else -1
            if direction == 0:
                direction = new_direction
            if new_direction != direction:
                break
            step = step * 2.0 if direction == 1 else step / 2.0
            if step > 1e7 or step < 1e-7:
                break
        return step


def _ignoring_float_warnings(function):
    """Run ``function`` under ``np.errstate(all="ignore")``: an overflow in a trajectory is a divergence, handled there.

    Set once per chain rather than per leapfrog step (entering ``np.errstate`` costs microseconds).
    """
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with np.errstate(all="ignore"):
            return function(*args, **kwargs)

    return wrapper


@_ignoring_float_warnings
def sample_nuts(value_and_grad, q0, rng, n_warmup: int, n_draws: int, *, target_accept: float = 0.8,
                max_tree_depth: int = 10, adapt_mass: bool = True, adapt_low_rank: int = 0,
                low_rank_cutoff: float = 2.0, inv_mass=None, step_size: float | None = None,
                keep_grad: bool = False, on_iteration=None) -> NUTSChain:
    """Run one NUTS chain with Stan-style warm-up.

    Parameters
    ----------
    value_and_grad : callable
        ``value_and_grad(q) -> (U, grad U)`` for the potential ``U = -log density``;
        may raise :class:`DivergenceError` (the step counts as divergent).
    q0 : ndarray of shape (d,)
        Initial position (the potential must be finite there).
    rng : numpy.random.Generator
    n_warmup, n_draws : int
        Adaptation iterations and draws after it (both are returned).
    target_accept : float
        Target of the step-size adaptation (mean acceptance statistic).
    max_tree_depth : int
        At most ``2**max_tree_depth`` leapfrog steps per iteration.
    adapt_mass : bool
        Estimate a diagonal inverse mass matrix in the warm-up windows.
    adapt_low_rank : int
        With ``adapt_mass``, also estimate up to this many long or short
        directions at the end of each window
        (:func:`~gppnmf_core.mass_matrix.estimate_low_rank`; 0: diagonal only).
    low_rank_cutoff : float
        Directions whose variance (relative to the diagonal part) is above
        this or below its inverse are kept.
    inv_mass : ndarray of shape (d,) or Metric, optional
        Initial inverse mass matrix (ones).
    step_size : float, optional
        Initial step size (else Stan's heuristic).
    keep_grad : bool
        Also return the gradient at every draw.
    on_iteration : callable, optional
        ``on_iteration(i)`` after iteration ``i`` (1-based count); returning True stops the chain.

    Returns
    -------
    NUTSChain
    """
    q = np.array(q0, dtype=np.float64)
    d = q.size
    kernel = _Sampler(value_and_grad, rng, max_tree_depth)
    if isinstance(inv_mass, Metric):
        kernel.metric = inv_mass
    else:
        kernel.metric = Metric(np.ones(d) if inv_mass is None else np.array(inv_mass, dtype=np.float64))
    U, g = value_and_grad(q)
    if not np.isfinite(U):
        raise ValueError("the potential is not finite at the initial position")
    n_total = n_warmup + n_draws
    kernel.step_size = step_size if step_size is not None else kernel.find_initial_step_size(q, U, g)
    averaging = _DualAveraging(kernel.step_size, target_accept)
    windows = {end: start for start, end in (warmup_windows(n_warmup) if adapt_mass else [])}

    draws = np.empty((n_total, d))
    potential = np.empty(n_total)
    keep_all = keep_grad or adapt_low_rank > 0
    grads = np.empty((n_total if keep_grad else n_warmup if keep_all else 0, d))
    keys = ("step_size", "n_step", "tree_depth", "accept_stat", "diverging", "boundary", "energy")
    stats = {key: np.empty(n_total, dtype=bool if key in ("diverging", "boundary") else
                           (np.int64 if key in ("n_step", "tree_depth") else np.float64)) for key in keys}
    done = 0
    for i in range(n_total):
        q, U, g, st = kernel.transition(q, U, g)
        draws[i], potential[i] = q, U
        if i < grads.shape[0]:
            grads[i] = g
        for key in keys:
            stats[key][i] = st[key]
        done = i + 1
        if i < n_warmup:
            kernel.step_size = averaging.update(st["accept_stat"])
            if done in windows:
                kernel.metric = _window_metric(draws[windows[done]:done], grads[windows[done]:done]
                                               if adapt_low_rank else None, adapt_low_rank, low_rank_cutoff)
                kernel.step_size = kernel.find_initial_step_size(q, U, g, kernel.step_size)
                averaging.restart(kernel.step_size)
            if done == n_warmup:
                kernel.step_size = averaging.final
        if on_iteration is not None and on_iteration(done):
            break
    return NUTSChain(q=draws[:done], potential=potential[:done], stats={k: v[:done] for k, v in stats.items()},
                     grad=grads[:done] if keep_grad else None, inv_mass=kernel.metric.diag, metric=kernel.metric,
                     step_size=kernel.step_size, n_done=done)


def _window_metric(draws: np.ndarray, grads: np.ndarray | None, max_rank: int, cutoff: float) -> Metric:
    """The metric estimated from one warm-up window: Stan's regularised variances, then low-rank directions."""
    n = draws.shape[0]
    var = draws.var(axis=0, ddof=1) if n > 1 else np.ones(draws.shape[1])
    diag = (n / (n + 5.0)) * var + 1e-3 * (5.0 / (n + 5.0))
    if grads is None or max_rank < 1:
        return Metric(diag)
    U, lam = estimate_low_rank(draws, grads, diag, max_rank=max_rank, cutoff=cutoff)
    return Metric(diag, U, lam)
