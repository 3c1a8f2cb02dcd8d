"""Unconstrained minimisers for a smooth objective ``f(theta) -> (value, gradient)``.

* :func:`minimize_lbfgs` — joint L-BFGS over all variables (SciPy's L-BFGS-B
  without bounds); the default for GPP-NMF.
* :func:`minimize_alternating_cg` — the scheme of the GPP-NMF authors'
  reference code, written from its description: per iteration, one nonlinear
  conjugate-gradient step on each block of variables in turn (delta, then eta),
  each with a doubling/halving line search, for a fixed number of iterations.

Both call ``on_iteration(iteration, value)`` after every iteration; when it
returns True the solver stops (for L-BFGS through SciPy's own contract, a
callback raising ``StopIteration``) and returns the best point so far with
``stopped=True``. Both return an :class:`~gppnmf_core.results.Outcome`.
``scipy.optimize`` is imported on the first L-BFGS fit, not with the package.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .results import Outcome


class _Counted:
    """``fun`` that counts its calls (``nfev``)."""

    def __init__(self, fun):
        self.fun = fun
        self.nfev = 0

    def __call__(self, theta):
        self.nfev += 1
        return self.fun(theta)


def minimize_lbfgs(fun, theta0, *, max_iter, tol, gtol, on_iteration: Callable) -> Outcome:
    """Minimise ``fun`` by L-BFGS from ``theta0``.

    Stops when the relative decrease of the value falls below ``tol``
    (SciPy's ``ftol``), when the largest gradient component falls below
    ``gtol``, after ``max_iter`` iterations, or when ``on_iteration`` returns True.
    """
    from scipy import optimize

    value0, _ = fun(theta0)
    trace = [value0]
    best = {"theta": theta0, "value": value0, "stopped": False}

    def step_done(intermediate_result):
        # SciPy updates its x in place: keep a copy of the point.
        best["theta"], best["value"] = intermediate_result.x.copy(), float(intermediate_result.fun)
        trace.append(best["value"])
        if on_iteration(len(trace) - 1, best["value"]):
            best["stopped"] = True
            raise StopIteration  # SciPy's stop contract: it ends the run and returns this point

    res = optimize.minimize(
        fun, theta0, jac=True, method="L-BFGS-B", callback=step_done,
        options={"maxiter": max_iter, "ftol": tol, "gtol": gtol, "maxcor": 20},
    )
    nfev = int(res.nfev) + 1  # with the evaluation at theta0 above
    trace = np.asarray(trace)
    if best["stopped"]:
        return Outcome(best["theta"], best["value"], trace, len(trace) - 1, nfev, False, True, "stopped on request")
    if res.fun > trace[-1]:  # SciPy returns its last point; keep the best one seen
        return Outcome(best["theta"], best["value"], trace, res.nit, nfev, bool(res.success), False, str(res.message))
    return Outcome(res.x, float(res.fun), trace, res.nit, nfev, bool(res.success), False, str(res.message))


def _line_search(fun, x, value, block, direction, step, min_step=1e-20):
    """Doubling/halving search along ``direction`` on ``block`` of ``x``.

    Halves ``step`` until the value decreases, or doubles it while the value
    keeps decreasing. Returns (x_new, value_new, grad_new, step) or None when
    no step down to ``min_step`` decreases the value.
    """

    def trial(s):
        x_new = x.copy()
        x_new[block] += s * direction
        return (x_new, *fun(x_new))

    x_new, v_new, g_new = trial(step)
    if v_new < value:
        while True:
            candidate = trial(2.0 * step)
            if candidate[1] >= v_new:
                return x_new, v_new, g_new, step
            step *= 2.0
            x_new, v_new, g_new = candidate
    while step > min_step:
        step *= 0.5
        x_new, v_new, g_new = trial(step)
        if v_new < value:
            return x_new, v_new, g_new, step
    return None


def minimize_alternating_cg(fun, theta0, blocks, *, max_iter, on_iteration: Callable,
                            initial_step: float = 1e-3) -> Outcome:
    """Alternate one Polak–Ribière conjugate-gradient step per block, ``max_iter`` times.

    Parameters
    ----------
    fun : callable
        ``fun(theta) -> (value, gradient)``.
    theta0 : ndarray of shape (n,)
    blocks : sequence of slice
        The blocks of ``theta`` updated in turn (for GPP-NMF: delta, then eta).
    max_iter : int
        Number of sweeps over all blocks; the reference code runs 1000 and has
        no other stopping rule, so neither has this one (a sweep that cannot
        decrease the value in any block ends the run early as converged).
    """
    fun = _Counted(fun)
    x = np.array(theta0, dtype=np.float64)
    value, grad = fun(x)
    trace = [value]
    steps = [initial_step] * len(blocks)
    prev_grad = [None] * len(blocks)
    prev_dir = [None] * len(blocks)
    for iteration in range(1, max_iter + 1):
        moved = False
        for b, block in enumerate(blocks):
            g = grad[block].copy()
            direction = -g
            if prev_grad[b] is not None:
                beta = max(0.0, float(g @ (g - prev_grad[b])) / max(float(prev_grad[b] @ prev_grad[b]), 1e-300))
                direction = -g + beta * prev_dir[b]
                if direction @ g >= 0:  # not a descent direction: restart
                    direction = -g
            found = _line_search(fun, x, value, block, direction, steps[b])
            if found is None:
                prev_grad[b] = prev_dir[b] = None
                continue
            x, value, grad, steps[b] = found
            prev_grad[b], prev_dir[b] = g, direction
            moved = True
        trace.append(value)
        if on_iteration(iteration, value):
            return Outcome(x, value, np.asarray(trace), iteration, fun.nfev, False, True, "stopped on request")
        if not moved:
            return Outcome(x, value, np.asarray(trace), iteration, fun.nfev, True, False,
                           "no block could decrease the objective")
    return Outcome(x, value, np.asarray(trace), max_iter, fun.nfev, False, False,
                   f"ran the fixed {max_iter} iterations")
