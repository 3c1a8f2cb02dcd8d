"""Unconstrained minimisers for a smooth objective ``f(theta) -> (value, gradient)``.

* :func:`minimize_lbfgs` — joint L-BFGS over all variables (SciPy's L-BFGS-B
  without bounds); the default for GPP-NMF.
* :func:`minimize_newton_cg` — truncated Newton: each step solves the
  Newton system with a positive definite Hessian-vector product (for GPP-NMF
  the Gauss–Newton one) by conjugate gradients to a relative residual that
  shrinks as the gradient does, then backtracks along it (Armijo).
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


def _conjugate_gradient(hessp, grad, rtol, max_cg, precond=None):
    """Approximately solve ``A p = -grad`` by (preconditioned) CG from 0; ``A`` positive definite (``hessp``).

    ``precond``, when given, applies a symmetric positive definite ``P^{-1}``
    (an approximation of ``A^{-1}``). Stops when ``||A p + grad|| <= rtol ||grad||``
    or after ``max_cg`` products. Returns the step and the number of products.
    """
    from scipy.linalg.blas import get_blas_funcs

    axpy = get_blas_funcs("axpy", (grad,))  # in place, no temporary of the vectors' size
    step = np.zeros_like(grad)
    residual = -grad
    z = residual if precond is None else precond(residual)
    direction = z.copy()
    rz = float(residual @ z)
    target = (rtol**2) * float(residual @ residual)
    for k in range(1, max_cg + 1):
        Ad = hessp(direction)
        curvature = float(direction @ Ad)
        if curvature <= 0.0:  # not positive definite along this direction: stop with what we have
            return (step if k > 1 else direction), k
        alpha = rz / curvature
        step = axpy(direction, step, a=alpha)
        residual = axpy(Ad, residual, a=-alpha)
        if float(residual @ residual) <= target:
            return step, k
        z = residual if precond is None else precond(residual)
        rz_new = float(residual @ z)
        direction *= rz_new / rz
        direction += z
        rz = rz_new
    return step, max_cg


def minimize_newton_cg(fun, hessp, theta0, *, max_iter, tol, gtol, on_iteration: Callable,
                       max_cg: int = 250, preconditioner=None, operator=None, cg_dtype=np.float64) -> Outcome:
    """Minimise ``fun`` by truncated Newton (line search, inner conjugate gradients).

    Parameters
    ----------
    fun : callable
        ``fun(theta) -> (value, gradient)``, gradient of shape (n,).
    hessp : callable
        ``hessp(theta, v) -> ndarray of shape (n,)``: a symmetric positive
        definite approximation of the Hessian at ``theta`` times ``v``.
    theta0 : ndarray of shape (n,)
    max_iter : int
        Newton steps at most.
    tol, gtol : float
        Stop when a full Newton step decreases the value by less than ``tol``
        relative to it, or when the largest gradient component is below ``gtol``.
    on_iteration : callable
        ``on_iteration(iteration, value)`` after every step; True stops the run.
    max_cg : int
        Hessian-vector products per Newton step at most.
    preconditioner : callable, optional
        ``preconditioner(theta) -> callable``: at each Newton step, a function
        applying a symmetric positive definite approximation of the inverse
        Hessian at ``theta`` to a vector of shape (n,), used by the inner CG.
    operator : callable, optional
        ``operator(theta) -> callable``: at each Newton step, the product
        ``v -> A v`` at ``theta`` (used instead of ``hessp``, which may then be
        None): lets the caller set up the point once per step, e.g.
        :meth:`~gppnmf_core.objective.GPPNMFObjective.gauss_newton_operator`.
    cg_dtype : numpy dtype
        Precision of the inner CG's vectors (the products get and must return
        this dtype); float32 halves the memory traffic of CG on long vectors.
        The objective, gradient, step and line search stay float64.

    Notes
    -----
    Step k solves ``A_k p = -g_k`` to the relative residual
    ``min(0.5, sqrt(||g_k|| / ||g_0||))`` (Eisenstat–Walker), so that early
    steps are cheap and late steps converge fast, then halves the step from 1
    until ``f(theta + t p) <= f(theta) + 1e-4 t g^T p``. ``n_iter`` counts the
    Newton steps, ``nfev`` the value-and-gradient evaluations; the
    Hessian-vector products are in the message.
    """
    fun = _Counted(fun)
    x = np.array(theta0, dtype=np.float64)
    value, grad = fun(x)
    trace = [value]
    g0 = max(float(np.linalg.norm(grad)), 1e-300)
    n_products = 0
    message, converged = f"reached max_iter = {max_iter} Newton steps", False
    for iteration in range(1, max_iter + 1):
        if float(np.max(np.abs(grad))) <= gtol:
            message, converged = "the largest gradient component is below gtol", True
            iteration -= 1
            break
        g_norm = float(np.linalg.norm(grad))
        rtol = min(0.5, np.sqrt(g_norm / g0))
        precond = None if preconditioner is None else preconditioner(x)
        product = operator(x) if operator is not None else (lambda v, x=x: hessp(x, v))
        step, used = _conjugate_gradient(product, np.asarray(grad, dtype=cg_dtype), rtol, max_cg, precond)
        step = np.asarray(step, dtype=np.float64)
        n_products += used
        slope = float(grad @ step)
        if slope >= 0.0:  # cannot happen for a positive definite product; fall back to steepest descent
            step, slope = -grad, -g_norm**2
        t = 1.0
        while True:
            candidate = x + t * step
            new_value, new_grad = fun(candidate)
            if np.isfinite(new_value) and new_value <= value + 1e-4 * t * slope:
                break
            t *= 0.5
            if t < 1e-12:
                new_value = None
                break
        if new_value is None:
            message, converged = "the line search found no decrease (converged to rounding)", True
            iteration -= 1
            break
        decrease = (value - new_value) / max(abs(value), abs(new_value), 1.0)
        x, value, grad = candidate, new_value, new_grad
        trace.append(value)
        if on_iteration(iteration, value):
            return Outcome(x, value, np.asarray(trace), iteration, fun.nfev, False, True, "stopped on request")
        if t == 1.0 and decrease <= tol:
            message, converged = "relative decrease of a full Newton step below tol", True
            break
    return Outcome(x, value, np.asarray(trace), len(trace) - 1, fun.nfev, converged, False,
                   f"{message} ({n_products} Hessian-vector products)")


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
