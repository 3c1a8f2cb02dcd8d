r"""Which rank, which priors: held-out-entry cross-validation with paired differences, and the evidence.

:func:`select_model` scores each candidate (rank, priors, anything else
:func:`~gppnmf_core.gppnmf.fit_gppnmf` takes) by k-fold cross-validation over
*entries* of X: each fold's entries are masked out of the fit (``mask=``) and
predicted by ``D H``. The folds are the same for every candidate, so
candidates are compared by their **paired** differences fold by fold: the
fold-to-fold spread of the error itself is 10–50 times the differences
between good candidates and would hide them. The chosen candidate follows
the one-standard-error rule: the smallest rank whose paired difference to
the best is within one standard error of it (the lowest error among those).

Fold patterns (``scheme``):

* ``"entries"`` — entries assigned to folds at random (a random permutation
  cut into ``n_folds`` nearly equal parts);
* ``"blocks"`` — Wold's diagonal pattern in blocks: rows and columns are cut
  into ``2 n_folds`` contiguous groups each, and block ``(i, j)`` goes to fold
  ``(i + j + s) mod n_folds`` (``s`` random). Every row and every column has
  entries in every fold, but held-out entries come in runs, so a smooth prior
  must interpolate across gaps, not only between neighbours.

Cost per candidate (:func:`evaluate_candidate`): one full-data fit
(:func:`~gppnmf_core.gppnmf.fit_gppnmf`), then ``n_folds`` fold fits, each
warm-started from the full-data MAP (L-BFGS from its ``theta``, to the
relative tolerance :data:`FOLD_TOL`): about 0.45 of the full fit's iterations
each on the toy. The candidate's priors are bound (square roots built) once
and shared by the full-data objective, the fold objectives and the evidence.
Every BLAS call of a candidate runs on one thread: on the 2-core machine a
two-thread OpenBLAS spins between the small products, and its Cholesky of a
toy Hessian took a second per candidate under load instead of 0.03 s.

As a second opinion each candidate gets the Laplace evidence
(:func:`~gppnmf_core.posterior.laplace_log_evidence`: the Gauss–Newton
Hessian at the full-data MAP), once, where the number of whitened variables
is at most :data:`~gppnmf_core.posterior.LAPLACE_MAX_DIM` (4000; None above),
or as ``evidence=`` says. Without a mask or with column weights its
log-determinant comes from the D and H blocks and their rank-M² coupling
(:mod:`gppnmf_core.model_evidence`; the same value to rounding, 2-3 times
faster: toy rank 4 26 ms against 74 ms, CSI rank 3 91 ms against 246 ms).
The Gauss–Newton Hessian is the cheap route: against the exact one (finite
differences of the gradient, :func:`~gppnmf_core.posterior.hessian`) on toy
data sets 0, 1 and 7, ranks 1-3 and the incorrect preset, the evidence
differs by 0.2-5 nats with the same ordering of candidates, at 1/10-1/30 of
the time.

Candidates run one after the other (``n_jobs=1``), in ``n_jobs`` local
processes, or on any ``executor`` (e.g. the app's Celery workers); the
results are the same bit for bit.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import time
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from ._validation import check_int, check_mask, check_matrix, check_positive, check_random_state
from .model_evidence import candidate_log_evidence
from .objective import GPPNMFObjective
from .posterior import LAPLACE_MAX_DIM
from .priors import GPPrior
from .results import Progress, stop_requested
from .threads import blas_threads

__all__ = ["ModelSelection", "evaluate_candidate", "make_folds", "select_model"]

SCHEMES = ("entries", "blocks")

#: Default relative-decrease tolerance of the fold fits (warm-started at the full-data MAP) unless the
#: candidate's own ``tol`` is looser. Against the full fit's 1e-10 it cuts the fold iterations from
#: about 0.63 to 0.45 of a full fit's and the CPU time of CV by 30 %; measured on 22 selections (toy
#: rank/preset and beta families, 10 data sets each, CSI seeds 0-1; benchmarks/bench_model_selection.py
#: candidates): every pick the same as at 1e-10, paired differences moved by at most 0.09 of their
#: standard error. 1e-7 (another 25 % less) moved one by 1.04 standard errors, 1e-6 by 2.3.
FOLD_TOL = 1e-8

#: Keys a candidate may hold besides rank, prior_D and prior_H (passed to fit_gppnmf).
FIT_KEYS = ("noise_var", "method", "max_iter", "tol", "gtol", "n_replicates", "init_std", "n_threads", "name")


@dataclass
class ModelSelection:
    """Cross-validation and evidence for each candidate, and the choice.

    Attributes
    ----------
    best : dict or None
        The chosen candidate (one of the dicts given, the same object); None
        only when stopped before any candidate was finished.
    best_index : int
        Its index in ``candidates``.
    lowest_index : int
        The candidate with the lowest mean CV error (the reference of the paired differences).
    evidence_index : int or None
        The candidate with the largest Laplace evidence (None where none was computed).
    table : list of dict
        Per candidate, in the order given: ``index``, ``rank``, ``name`` (if
        given), ``cv_error`` (mean held-out squared error per entry),
        ``cv_error_se`` (its fold-to-fold standard error), ``diff`` and
        ``diff_se`` (paired difference to the lowest and its standard error),
        ``within_one_se``, ``evidence`` (log, or None), ``objective`` (full-data
        MAP), ``fit_time`` (s, full-data fit) and ``cv_time`` (s, all of this
        candidate's work), both also as CPU time of the process that ran the
        candidate (``fit_cpu_time``, ``cv_cpu_time``: the load-free measure),
        ``evidence_time`` (s), ``fit_iterations`` (full-data fit) and
        ``fold_iterations`` (list, per fold).
    cv_errors : ndarray of shape (n_candidates, n_folds)
        Held-out mean squared error per candidate and fold.
    candidates : list of dict
    settings : dict
    runtime : float
    stopped : bool
        Whether the callback stopped the selection (then only the first
        candidates, in the order given, were evaluated and compared).
    """

    best: dict
    best_index: int
    lowest_index: int
    evidence_index: int | None
    table: list
    cv_errors: np.ndarray
    candidates: list
    settings: dict = field(default_factory=dict)
    runtime: float = 0.0
    stopped: bool = False

    def __repr__(self) -> str:
        rows = [f"  {'*' if r['index'] == self.best_index else ' '} #{r['index']} rank {r['rank']}"
                f"{' ' + str(r['name']) if r.get('name') else ''}: CV {r['cv_error']:.6g}, "
                f"diff {r['diff']:+.4g} ± {r['diff_se']:.2g}, evidence "
                f"{'-' if r['evidence'] is None else format(r['evidence'], '.2f')}" for r in self.table]
        return "ModelSelection(\n" + "\n".join(rows) + "\n)"


class _Stop(Exception):
    """The callback asked to stop."""


def make_folds(shape, n_folds: int, scheme: str = "entries", random_state=0, observed=None) -> np.ndarray:
    """Fold labels for the entries of a (K, L) matrix.

    Parameters
    ----------
    shape : (int, int)
    n_folds : int
    scheme : {"entries", "blocks"}
        See the module notes.
    random_state : None, int or numpy.random.Generator
    observed : ndarray of bool of shape (K, L), optional
        Entries that may be held out; the others get label -1.

    Returns
    -------
    ndarray of int of shape (K, L)
        The fold of each entry, in ``0 .. n_folds - 1`` (-1: never held out).
    """
    K, L = shape
    rng = check_random_state(random_state)
    if scheme == "entries":
        labels = np.empty(K * L, dtype=np.intp)
        labels[rng.permutation(K * L)] = np.arange(K * L) % n_folds
        labels = labels.reshape(K, L)
    elif scheme == "blocks":
        rows = np.arange(K) * min(2 * n_folds, K) // K
        cols = np.arange(L) * min(2 * n_folds, L) // L
        labels = (rows[:, None] + cols[None, :] + int(rng.integers(n_folds))) % n_folds
    else:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    if observed is not None:
        labels = np.where(observed, labels, -1)
    return labels


def _check_candidates(candidates, noise_var) -> list:
    if not isinstance(candidates, (list, tuple)) or len(candidates) == 0:
        raise ValueError("candidates must be a non-empty list of dicts with rank, prior_D and prior_H")
    for i, cand in enumerate(candidates):
        if not isinstance(cand, dict):
            raise ValueError(f"candidates[{i}] must be a dict, got {type(cand).__name__}")
        for key in ("rank", "prior_D", "prior_H"):
            if key not in cand:
                raise ValueError(f"candidates[{i}] lacks {key!r} (it has {sorted(cand)})")
        for key in ("prior_D", "prior_H"):
            if not isinstance(cand[key], GPPrior):
                raise ValueError(f"candidates[{i}][{key!r}] must be a GPPrior, got {type(cand[key]).__name__}")
        extra = set(cand) - {"rank", "prior_D", "prior_H", *FIT_KEYS}
        if extra:
            raise ValueError(f"candidates[{i}] has unknown keys {sorted(extra)}; allowed besides rank, prior_D, "
                             f"prior_H: {list(FIT_KEYS)}")
        if cand.get("noise_var", noise_var) is None:
            raise ValueError(f"candidates[{i}]: give noise_var to select_model or in the candidate")
    return list(candidates)


def _blas_one_thread(n_threads):
    """Every BLAS call of a candidate on ``n_threads`` (default one) thread: a threaded OpenBLAS spins
    between the small products of a fit, and its Cholesky of a 900² Hessian took 0.34 s on two threads
    of the loaded 2-core machine against 0.03 s on one."""
    return blas_threads(1 if n_threads is None else n_threads, 0)


def _fold_weights(labels, f, base_sq):
    """Held-out entries of fold ``f`` and the fold's squared weights (zero there, the base mask elsewhere)."""
    held = labels == f
    weights = (~held).astype(np.float64) if base_sq is None else np.where(held, 0.0, base_sq)
    return held, weights


def evaluate_candidate(task: dict) -> dict:
    """Full-data MAP, the k warm-started fold fits and (if asked) the evidence of one candidate.

    The unit of work handed to ``n_jobs`` processes or to an ``executor`` (see
    :func:`select_model`): ``task`` is one of the dicts built there (picklable:
    arrays, the candidate's priors, numbers), the result a dict of floats and
    small arrays. The candidate's priors are bound (their square roots built)
    once here and shared by the full-data objective, every fold's objective and
    the evidence; every BLAS call runs on one thread (the candidate's
    ``n_threads`` if given).
    """
    from .gppnmf import fit_gppnmf

    start, start_cpu = time.perf_counter(), time.process_time()
    X, base_mask, labels, n_folds = task["X"], task["mask"], task["labels"], task["n_folds"]
    cand = task["candidate"]
    rank, pD, pH = cand["rank"], cand["prior_D"], cand["prior_H"]
    noise_var = cand.get("noise_var", task["noise_var"])
    fit_kwargs = {k: cand[k] for k in FIT_KEYS if k in cand and k not in ("noise_var", "name")}
    fit_kwargs.setdefault("n_threads", 1)
    report = task.get("report")
    with _blas_one_thread(fit_kwargs["n_threads"]):
        fit = fit_gppnmf(X, rank, pD, pH, noise_var, mask=base_mask, random_state=task["seed"], **fit_kwargs)
        fit_time, fit_cpu = time.perf_counter() - start, time.process_time() - start_cpu
        K, L = X.shape
        bound_D = pD.bind(K, name=f"prior_D (rows of X, shape {X.shape})")  # cached by fit_gppnmf's bind
        bound_H = pH.bind(L, name=f"prior_H (columns of X, shape {X.shape})")
        base_sq = check_mask(base_mask, X.shape)
        full = GPPNMFObjective(X, rank, bound_D, bound_H, noise_var, base_sq)
        full.mask_sq = base_sq  # what laplace_log_evidence reads
        theta_full = full.pack(fit.latent["delta"], fit.latent["eta"])
        max_iter = fit_kwargs.get("max_iter", 1000)
        tol = task.get("fold_tol") or max(FOLD_TOL, fit_kwargs.get("tol", 1e-10))
        gtol = fit_kwargs.get("gtol", 1e-6)
        base_full = None if base_sq is None else np.broadcast_to(base_sq, X.shape)
        errors = np.empty(n_folds)
        fold_iters = np.empty(n_folds, dtype=np.intp)
        for f in range(n_folds):
            held, weights = _fold_weights(labels, f, base_full)
            objective = GPPNMFObjective(X, rank, bound_D, bound_H, noise_var, weights)
            res = optimize.minimize(objective, theta_full, jac=True, method="L-BFGS-B",
                                    options={"maxiter": max_iter, "ftol": tol, "gtol": gtol, "maxcor": 20})
            fold_iters[f] = res.nit
            D, H = objective.factors(res.x)
            R = (X - D @ H)[held]
            w = None if base_full is None else base_full[held]
            errors[f] = float(np.mean(R * R) if w is None else np.sum(w * R * R) / np.sum(w))
            if report is not None:
                report(task["index"], f + 1, fit.objective)
        evidence, evidence_time = None, 0.0
        if task.get("evidence", "auto") is True or (task.get("evidence", "auto") == "auto"
                                                     and full.size <= LAPLACE_MAX_DIM):
            t = time.perf_counter()
            evidence = candidate_log_evidence(full, theta_full, fit.objective)
            evidence_time = time.perf_counter() - t
    return {"errors": errors, "evidence": evidence, "objective": fit.objective, "fit_time": fit_time,
            "fold_iterations": fold_iters, "fit_iterations": int(fit.n_iter), "evidence_time": evidence_time,
            "cv_time": time.perf_counter() - start, "fit_cpu_time": fit_cpu,
            "cv_cpu_time": time.process_time() - start_cpu}


def _latent_size(cand: dict, shape) -> int:
    """Whitened variables of a candidate's fit (binds its priors; the binding is cached on them)."""
    K, L = shape
    return (cand["prior_D"].bind(K).n_latent + cand["prior_H"].bind(L).n_latent) * int(cand["rank"])


def _init_worker() -> None:
    """A candidate process: one BLAS thread for everything (as evaluate_candidate also sets per candidate)."""
    blas_threads(1, 0)  # the limiter applies the limit when made; it stays for the process's life


def _collect(executor, tasks, outcomes, report, n_folds) -> None:
    """Submit every task to ``executor`` and append the outcomes in order, reporting each."""
    futures = [executor.submit(evaluate_candidate, task) for task in tasks]
    try:
        for i, future in enumerate(futures):
            outcomes.append(future.result())
            report(i, n_folds, outcomes[-1]["objective"])
    finally:
        for other in futures[len(outcomes):]:
            cancel = getattr(other, "cancel", None)
            if callable(cancel):
                cancel()


def select_model(
    X,
    candidates,
    noise_var=None,
    n_folds: int = 5,
    scheme: str = "entries",
    random_state=0,
    n_jobs: int = 1,
    *,
    mask=None,
    one_se_rule: bool = True,
    evidence="auto",
    fold_tol: float | None = None,
    executor=None,
    callback=None,
) -> ModelSelection:
    r"""Choose among candidate models by k-fold held-out-entry cross-validation (paired, one-SE rule).

    Parameters
    ----------
    X : array_like of shape (K, L)
    candidates : list of dict
        Each with ``rank``, ``prior_D``, ``prior_H`` and optionally any of
        :data:`FIT_KEYS` (``noise_var`` overrides the common one, ``name`` is a
        label, the rest go to :func:`~gppnmf_core.gppnmf.fit_gppnmf`).
    noise_var : float, optional
        sigma^2 for every candidate without its own.
    n_folds : int
        Folds (>= 2).
    scheme : {"entries", "blocks"}
        How entries are assigned to folds (module notes).
    random_state : None, int or numpy.random.Generator
        Seeds the folds and every candidate's full-data fit (the same seed for all).
    n_jobs : int
        Candidates evaluated in this many processes at once (1: here, in
        order). The processes are started with ``forkserver`` (``spawn``
        where there is none), never ``fork`` (the caller may hold threads, e.g.
        a web server), and run every BLAS call on one thread, as ``n_jobs=1``
        does: the results are identical, only the wall time differs. Starting
        the processes costs about a second (they import NumPy and SciPy), so
        this pays off from a few hundred milliseconds of work per candidate,
        and only on cores that are otherwise idle (on the loaded 2-core machine,
        load 6-8, CSI took 14.8 s with two processes against 11.4 s with one).
        A daemonic process (a Celery prefork worker) cannot start processes:
        there use ``executor`` or ``n_jobs=1``.
    mask : array_like of shape (K, L) or (L,), optional
        Entries (or columns, e.g. voxels outside the head) never fitted nor scored.
    one_se_rule : bool
        Choose the smallest rank within one paired standard error of the
        lowest CV error (else the lowest CV error itself).
    evidence : {"auto", True, False}
        The Laplace evidence of each candidate (once, at its full-data MAP):
        ``"auto"`` where it has at most :data:`~gppnmf_core.posterior.LAPLACE_MAX_DIM`
        whitened variables (None above), True for every candidate
        (ValueError up front when one is larger), False never (every
        ``evidence`` None). It does not enter the choice, which is by CV alone.
    fold_tol : float, optional
        L-BFGS's relative-decrease tolerance for the fold fits (warm-started at
        the full-data MAP); default the looser of :data:`FOLD_TOL` (1e-8) and
        the candidate's ``tol`` (1e-10 by default, as in
        :func:`~gppnmf_core.gppnmf.fit_gppnmf`, for its full-data fit).
    executor : concurrent.futures.Executor-like, optional
        Runs the candidates instead of ``n_jobs`` local processes: anything with
        ``submit(fn, task)`` returning an object with ``result()`` (and
        optionally ``cancel()``), called once per candidate with
        ``fn = evaluate_candidate`` (a module-level function of this module)
        and ``task`` a picklable dict. Results are read in candidate order.
        A Celery adapter must keep the workers' queue JSON-only, as the app's
        is (:func:`components.services.config.make_celery_app`): never enable
        pickle on a queue that other users or processes can write to (anyone
        who can write to the broker could run code in the workers). Send each
        task as JSON instead (arrays as lists, priors as
        :meth:`~gppnmf_core.GPPrior.to_spec`) and rebuild it in the task before
        calling :func:`evaluate_candidate`.
        The executor is not shut down here.
    callback : callable, optional
        ``callback(Progress("select_model", candidate, n_candidates, folds done, n_folds, objective))``
        after each fold (``n_jobs=1`` without an executor) or each candidate (otherwise).
        Raising :class:`StopIteration` or returning True stops: the result
        then covers the candidates finished so far (``stopped=True``; ``best``
        is None when none had finished).

    Returns
    -------
    ModelSelection

    Raises
    ------
    ValueError
        For invalid data, candidates (the message names the candidate and
        key), folds, scheme or mask.
    """
    start = time.perf_counter()
    X = check_matrix(X, "X")
    if noise_var is not None:
        noise_var = check_positive(noise_var, "noise_var")
    candidates = _check_candidates(candidates, noise_var)
    n_folds = check_int(n_folds, "n_folds", minimum=2, maximum=X.size)
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    n_jobs = check_int(n_jobs, "n_jobs")
    if evidence not in ("auto", True, False):
        raise ValueError(f"evidence must be 'auto', True or False, got {evidence!r}")
    if fold_tol is not None:
        fold_tol = check_positive(fold_tol, "fold_tol")
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise ValueError("executor must have a submit(fn, task) method (a concurrent.futures.Executor or alike)")
    weights_sq = check_mask(mask, X.shape)
    observed = None if weights_sq is None else np.broadcast_to(weights_sq, X.shape) > 0
    if evidence is True:
        for i, cand in enumerate(candidates):
            size = _latent_size(cand, X.shape)
            if size > LAPLACE_MAX_DIM:
                raise ValueError(f"candidates[{i}] has {size} whitened variables, more than the "
                                 f"{LAPLACE_MAX_DIM} the Laplace evidence allows; use evidence='auto' or False")
    rng = check_random_state(random_state)
    labels = make_folds(X.shape, n_folds, scheme, rng, observed)
    seed = int(rng.integers(0, 2**63 - 1))
    n_cand = len(candidates)

    def report(index, folds_done, objective):
        if stop_requested(callback, Progress("select_model", index, n_cand, folds_done, n_folds, float(objective))):
            raise _Stop

    tasks = [{"X": X, "mask": mask, "labels": labels, "n_folds": n_folds, "candidate": cand, "noise_var": noise_var,
              "seed": seed, "index": i, "evidence": evidence, "fold_tol": fold_tol}
             for i, cand in enumerate(candidates)]
    outcomes, stopped = [], False
    try:
        if executor is None and (n_jobs == 1 or n_cand == 1):
            for task in tasks:
                outcomes.append(evaluate_candidate(dict(task, report=report)))
        elif executor is not None:
            _collect(executor, tasks, outcomes, report, n_folds)
        else:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
            with concurrent.futures.ProcessPoolExecutor(min(n_jobs, n_cand), mp_context=context,
                                                        initializer=_init_worker) as pool:
                _collect(pool, tasks, outcomes, report, n_folds)
    except _Stop:
        stopped = True
    done = len(outcomes)
    settings = {"n_folds": n_folds, "scheme": scheme, "random_state": random_state
                if not isinstance(random_state, np.random.Generator) else None, "n_jobs": n_jobs,
                "one_se_rule": one_se_rule, "noise_var": noise_var, "masked": mask is not None,
                "laplace_max_dim": LAPLACE_MAX_DIM, "n_evaluated": done, "evidence": evidence,
                "fold_tol": fold_tol, "executor": None if executor is None else type(executor).__name__}
    if done == 0:
        return ModelSelection(best=None, best_index=None, lowest_index=None, evidence_index=None, table=[],
                              cv_errors=np.empty((0, n_folds)), candidates=candidates, settings=settings,
                              runtime=time.perf_counter() - start, stopped=True)
    candidates_done = candidates[:done]
    errors = np.array([o["errors"] for o in outcomes])
    means = errors.mean(axis=1)
    lowest = int(np.argmin(means))
    diffs = errors - errors[lowest]
    diff_mean = diffs.mean(axis=1)
    diff_se = diffs.std(axis=1, ddof=1) / np.sqrt(n_folds)
    within = diff_mean <= diff_se + 1e-15 * np.abs(means[lowest])
    if one_se_rule:
        eligible = np.flatnonzero(within)
        ranks = np.array([candidates_done[i]["rank"] for i in eligible])
        smallest = eligible[ranks == ranks.min()]
        best = int(smallest[np.argmin(means[smallest])])
    else:
        best = lowest
    evidences = [o["evidence"] for o in outcomes]
    known = [i for i, e in enumerate(evidences) if e is not None]
    evidence_index = max(known, key=lambda i: evidences[i]) if known else None
    table = []
    for i, (cand, o) in enumerate(zip(candidates_done, outcomes, strict=True)):
        row = {"index": i, "rank": cand["rank"], "cv_error": float(means[i]),
               "cv_error_se": float(errors[i].std(ddof=1) / np.sqrt(n_folds)),
               "diff": float(diff_mean[i]), "diff_se": float(diff_se[i]), "within_one_se": bool(within[i]),
               "evidence": o["evidence"], "objective": o["objective"], "fit_time": o["fit_time"],
               "cv_time": o["cv_time"], "evidence_time": o["evidence_time"],
               "fit_cpu_time": o["fit_cpu_time"], "cv_cpu_time": o["cv_cpu_time"],
               "fit_iterations": o["fit_iterations"], "fold_iterations": [int(n) for n in o["fold_iterations"]]}
        if "name" in cand:
            row["name"] = cand["name"]
        table.append(row)
    return ModelSelection(best=candidates[best], best_index=best, lowest_index=lowest,
                          evidence_index=evidence_index, table=table, cv_errors=errors, candidates=candidates,
                          settings=settings, runtime=time.perf_counter() - start, stopped=stopped)
