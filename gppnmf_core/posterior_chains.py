"""The posterior sampler's chains: one process per chain, NUTS in the preconditioned variables, progress and stop.

Each chain runs in ``z`` with ``theta = theta_MAP + S z``
(:class:`~gppnmf_core.laplace.Preconditioner`), identifies its own draws
(:func:`~gppnmf_core.posterior_record.identify`) and returns them with the
sampler's statistics, its adapted metric and its last state, from which
:func:`run_chains` can continue it.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import multiprocessing
import time
from contextlib import contextmanager

import numpy as np

from .laplace import Preconditioner
from .objective import GPPNMFObjective
from .posterior_diagnostics import import_arviz_in_background, wait_for_arviz_import
from .posterior_record import identify
from .results import Progress, stop_requested

__all__ = ["ADAPT_LOW_RANK", "ADAPT_MASS", "PROGRESS_INTERVAL_S", "RESTRICT_ORDER", "run_chains"]

#: Whether the chains also adapt a diagonal mass matrix in z (Stan's windows) besides the step size.
ADAPT_MASS = True

#: Whether the chains are kept to the MAP's order of the components (see the module notes).
RESTRICT_ORDER = True

#: Most long or short directions of the z-space posterior estimated in each warm-up window (0: diagonal only).
ADAPT_LOW_RANK = 8

#: Seconds between progress reports handed to the callback.
PROGRESS_INTERVAL_S = 0.1


class _StopSampling(KeyboardInterrupt):
    """Raised in a chain's trace function when the caller asked to stop (mici ends the chain cleanly)."""


# Shared between the main process and the chain workers: iterations done per chain and a stop flag.
_SHARED: dict = {}


def _init_worker(progress, stop) -> None:
    _SHARED["progress"], _SHARED["stop"] = progress, stop


@contextmanager
def _quiet_mici():
    """mici logs a traceback when a chain is interrupted and a line per divergence: silence both."""
    import mici.samplers  # noqa: F401  (creates the loggers)

    names = [n for n in list(logging.Logger.manager.loggerDict) if n == "mici" or n.startswith("mici.")]
    loggers = [logging.getLogger(n) for n in names]
    before = [logger.disabled for logger in loggers]
    for logger in loggers:
        logger.disabled = True
    try:
        yield
    finally:
        for logger, disabled in zip(loggers, before, strict=True):
            logger.disabled = disabled


def _chain_context(task: dict) -> tuple:
    """(objective, preconditioner, chain, seed, progress counters, stop flag) of one chain's task.

    The counters and flag are the worker processes' shared ones, or the task's own when it runs here.
    """
    progress, stop = task.get("local_progress") or (_SHARED.get("progress"), _SHARED.get("stop"))
    return task["objective"], task["pre"], task["chain"], task["seed"], progress, stop


def _run_chain(task: dict) -> dict:
    """Run one chain; ``task`` holds the objective, preconditioner, settings, seed and ``sampler``."""
    if task.get("sampler", "nuts") == "mici":
        return _run_chain_mici(task)
    from .nuts import DivergenceError, OutsideSupport, sample_nuts
    from .threads import blas_threads

    objective, pre, chain, seed, progress, stop = _chain_context(task)
    poll = task.get("poll")

    in_order = _order_check(objective, pre.theta_map) if task.get("restrict_order", RESTRICT_ORDER) else None

    def value_and_grad(z):
        theta = pre.to_theta(z)
        if in_order is not None and not in_order(theta):
            raise OutsideSupport("the components are in another order than the MAP's")
        value, grad = objective(theta)
        if not math.isfinite(value + float(grad.sum())):  # any inf or nan in either makes the sum one
            raise DivergenceError("the links overflowed (non-finite objective)")
        return value, pre.apply(grad)

    def on_iteration(done):
        if progress is not None:
            progress[chain] = done
        if poll is not None:
            poll()
        return bool(stop is not None and stop.value)

    cpu_start = time.process_time()
    rng = np.random.default_rng(seed)
    resume = task.get("resume")
    with blas_threads(1, 0), np.errstate(all="ignore"):
        if resume is not None:  # continue a chain: its last state, adapted metric and step size
            out = sample_nuts(value_and_grad, resume["z"], rng, 0, task["n_draws"], adapt_mass=False,
                              max_tree_depth=task["max_tree_depth"], inv_mass=resume["metric"],
                              step_size=resume["step_size"], on_iteration=on_iteration)
        else:
            out = sample_nuts(value_and_grad, _start(value_and_grad, objective.size, task["jitter"], rng), rng,
                              task["n_warmup"], task["n_draws"], target_accept=task["target_accept"],
                              max_tree_depth=task["max_tree_depth"], adapt_mass=task.get("adapt_mass", ADAPT_MASS),
                              adapt_low_rank=task.get("adapt_low_rank", ADAPT_LOW_RANK), on_iteration=on_iteration)
    n_warmup = task["n_warmup"]
    result = {"z": out.q[n_warmup:], "lp": -out.potential[n_warmup:], "done": out.n_done, "stats": out.stats,
              "metric": out.metric,
              "resume": {"z": out.q[-1] if out.n_done else None, "metric": out.metric, "step_size": out.step_size}}
    result.update(_identify_chain(objective, pre, result["z"], task.get("D_map")))
    result["cpu_s"] = time.process_time() - cpu_start
    return result


def _start(value_and_grad, d: int, jitter: float, rng) -> np.ndarray:
    """A random start ``jitter * N(0, I)`` in ``z`` where the density is finite (shrunk towards the MAP if not)."""
    from .nuts import DivergenceError

    z0 = np.zeros(d)
    for scale in (jitter, 0.1 * jitter, 0.0):
        z0 = scale * rng.standard_normal(d)
        try:
            value_and_grad(z0)
            return z0
        except DivergenceError:
            continue
    return z0


def _order_check(objective: GPPNMFObjective, theta_map):
    """A test ``in_order(theta)``: the half of the space where the components keep the MAP's order.

    With ``S[m, q]`` the dot product of component ``m``'s whitened variables
    ``(delta_m, eta_m)`` in ``theta`` with component ``q``'s in ``theta_map``,
    ``theta`` is in order when the identity is the best assignment of ``S``
    (for two components: the half-space ``S[0, 0] + S[1, 1] >= S[0, 1] + S[1, 0]``).
    Relabelling the components moves a point of the space across, so the set
    holds one of each point's ``M!`` relabellings (a fundamental domain of the
    label symmetry). None when there is nothing to permute.
    """
    M = objective.rank
    if M < 2:
        return None
    from scipy.optimize import linear_sum_assignment

    # theta holds delta's rows, then eta's, M entries each: as (n, M) its columns are the components
    ref = np.asarray(theta_map, dtype=np.float64).reshape(-1, M)
    if M == 2:  # S[0, 0] + S[1, 1] - S[0, 1] - S[1, 0] is one dot product with theta
        w = (ref @ np.array([[1.0, -1.0], [-1.0, 1.0]])).ravel()

        def in_order(theta):
            return float(theta @ w) >= 0.0

        return in_order

    def in_order(theta):
        S = theta.reshape(-1, M).T @ ref  # (M, M)
        rows, cols = linear_sum_assignment(S, maximize=True)
        return bool(np.all(rows[np.argsort(cols)] == np.arange(M)))

    return in_order


def _identify_chain(objective: GPPNMFObjective, pre: Preconditioner, z: np.ndarray, D_map) -> dict:
    """Factors of a chain's draws, matched to ``D_map`` and normalised (:func:`identify`), in the worker."""
    if D_map is None:
        return {}
    K, L, M = objective.X.shape[0], objective.X.shape[1], objective.rank
    D_out, H_out = np.empty((len(z), K, M)), np.empty((len(z), M, L))
    switched = np.zeros(len(z), dtype=bool)
    for i, theta in enumerate(pre.to_theta(z) if len(z) else []):
        D_out[i], H_out[i], switched[i] = identify(*objective.factors(theta), D_map)
    return {"D": D_out, "H": H_out, "switched": switched}


def _run_chain_mici(task: dict) -> dict:
    """Run one chain with mici's ``DynamicMultinomialHMC`` (the earlier sampler, kept for comparison)."""
    try:
        import mici
    except ImportError as err:  # not a dependency any more
        raise ImportError("sampler='mici' needs the mici package (pip install mici)") from err

    from .threads import blas_threads

    objective, pre, chain, seed, progress, stop = _chain_context(task)

    def value_and_grad(z):
        theta = pre.to_theta(z)
        with np.errstate(all="ignore"):
            value, grad = objective(theta)
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            raise mici.errors.HamiltonianDivergenceError("the links overflowed (non-finite objective)")
        return value, pre.apply(grad)

    def neg_log_dens(z):
        return value_and_grad(z)[0]

    def grad_neg_log_dens(z):
        value, grad = value_and_grad(z)
        return grad, value

    iteration = [0]
    poll = task.get("poll")

    calls = [0]

    def trace(state):
        calls[0] += 1
        if calls[0] == 1:  # mici calls it once on the initial state to size its arrays
            return {"z": state.pos, "lp": -system.neg_log_dens(state)}
        iteration[0] += 1
        if progress is not None:
            progress[chain] = iteration[0]
        if poll is not None:
            poll()
        if stop is not None and stop.value:
            raise _StopSampling
        return {"z": state.pos, "lp": -system.neg_log_dens(state)}

    cpu_start = time.process_time()
    rng = np.random.default_rng(seed)
    system = mici.systems.EuclideanMetricSystem(neg_log_dens, grad_neg_log_dens=grad_neg_log_dens)
    integrator = mici.integrators.LeapfrogIntegrator(system)
    sampler = mici.samplers.DynamicMultinomialHMC(system, integrator, rng, max_tree_depth=task["max_tree_depth"])
    z0 = None
    for scale in (task["jitter"], 0.1 * task["jitter"], 0.0):  # a start where the links stay finite
        z0 = scale * rng.standard_normal(objective.size)
        try:
            value_and_grad(z0)
            break
        except mici.errors.HamiltonianDivergenceError:
            continue
    adapters = [mici.adapters.DualAveragingStepSizeAdapter(task["target_accept"]),
                mici.adapters.OnlineVarianceMetricAdapter()]
    with _quiet_mici(), blas_threads(1, 0), np.errstate(all="ignore"):
        out = sampler.sample_chains(
            task["n_warmup"], task["n_draws"], [z0], adapters=adapters, trace_funcs=[trace],
            trace_warm_up=True, display_progress=False, monitor_stats=None)
    done = iteration[0]
    z = np.asarray(out.traces["z"][0])[:done]
    stats = {key: np.asarray(val[0])[:done] for key, val in out.statistics.items()}
    lp = np.asarray(out.traces["lp"][0])[:done]
    result = {"z": z[task["n_warmup"]:], "lp": lp[task["n_warmup"]:], "done": done, "stats": stats}
    result.update(_identify_chain(objective, pre, result["z"], task.get("D_map")))
    result["cpu_s"] = time.process_time() - cpu_start
    return result


def _start_method() -> str:
    methods = multiprocessing.get_all_start_methods()
    return "fork" if "fork" in methods else "spawn"


def run_chains(tasks: list, n_jobs: int, callback, total: int, value_map: float, offset: int = 0) -> list:
    """Run the chains in ``n_jobs`` processes (or here), reporting progress; returns them in order.

    Progress is ``offset`` plus the iterations done over all chains, out of ``total``.
    """
    n_chains = len(tasks)
    last = [time.monotonic()]

    def report(progress_counts, stop) -> None:
        now = time.monotonic()
        if callback is None or now - last[0] < PROGRESS_INTERVAL_S:
            return
        last[0] = now
        done = min(offset + int(sum(progress_counts[:n_chains])), total)
        if stop_requested(callback, Progress("posterior", 0, 1, done, total, value_map)):
            stop.value = 1

    if n_jobs == 1:
        counts, stop = [0] * n_chains, _Flag()
        results = []
        for task in tasks:
            task = dict(task, local_progress=(counts, stop), poll=lambda: report(counts, stop))
            results.append(_run_chain(task))
            if stop.value:
                break
        return results
    context = multiprocessing.get_context(_start_method())
    counts = context.Array("l", n_chains, lock=False)
    stop = context.Value("b", 0, lock=False)
    with concurrent.futures.ProcessPoolExecutor(min(n_jobs, n_chains), mp_context=context,
                                                initializer=_init_worker, initargs=(counts, stop)) as pool:
        futures = [pool.submit(_run_chain, task) for task in tasks]
        import_arviz_in_background()  # after the workers are forked: ~2 s of imports overlap the chains
        while not all(f.done() for f in futures):
            concurrent.futures.wait(futures, timeout=PROGRESS_INTERVAL_S)
            report(counts, stop)
        results = [f.result() for f in futures]
    wait_for_arviz_import()  # never fork (the next call's workers) while a thread holds the import lock
    return results


class _Flag:
    """A stop flag with the ``.value`` of a shared ``multiprocessing.Value``."""

    def __init__(self):
        self.value = 0
