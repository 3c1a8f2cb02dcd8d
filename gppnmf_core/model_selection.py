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

Every fold fit is warm-started from the full-data MAP (L-BFGS from its
``theta``), which takes about half the iterations of a fresh fit.

As a second opinion each candidate gets the Laplace evidence
(:func:`~gppnmf_core.posterior.laplace_log_evidence`, the Gauss–Newton
Hessian at the full-data MAP) where the number of whitened variables is at
most :data:`~gppnmf_core.posterior.LAPLACE_MAX_DIM` (4000; None above).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import time
from dataclasses import dataclass, field

import numpy as np

from ._validation import check_int, check_mask, check_matrix, check_positive, check_random_state
from .posterior import LAPLACE_MAX_DIM, build_objective, laplace_log_evidence, map_from
from .priors import GPPrior
from .results import Progress, stop_requested

__all__ = ["ModelSelection", "make_folds", "select_model"]

SCHEMES = ("entries", "blocks")

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
        candidate's work).
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


def _evaluate_candidate(task: dict) -> dict:
    """Full-data MAP, the k warm-started fold fits and the evidence of one candidate."""
    from .gppnmf import fit_gppnmf

    start = time.perf_counter()
    X, base_mask, labels, n_folds = task["X"], task["mask"], task["labels"], task["n_folds"]
    cand = task["candidate"]
    rank, pD, pH = cand["rank"], cand["prior_D"], cand["prior_H"]
    noise_var = cand.get("noise_var", task["noise_var"])
    fit_kwargs = {k: cand[k] for k in FIT_KEYS if k in cand and k not in ("noise_var", "name")}
    fit = fit_gppnmf(X, rank, pD, pH, noise_var, mask=base_mask, random_state=task["seed"], **fit_kwargs)
    fit_time = time.perf_counter() - start
    full = build_objective(X, rank, pD, pH, noise_var, base_mask)
    theta_full = full.pack(fit.latent["delta"], fit.latent["eta"])
    max_iter = fit_kwargs.get("max_iter", 1000)
    tol, gtol = fit_kwargs.get("tol", 1e-10), fit_kwargs.get("gtol", 1e-6)
    base_sq = None if base_mask is None else np.broadcast_to(check_mask(base_mask, X.shape), X.shape)
    errors = np.empty(n_folds)
    for f in range(n_folds):
        held = labels == f
        weights = (~held).astype(np.float64) if base_sq is None else np.where(held, 0.0, np.sqrt(base_sq))
        objective = build_objective(X, rank, pD, pH, noise_var, weights)
        theta, _, _ = map_from(objective, theta_full, max_iter=max_iter, tol=tol, gtol=gtol)
        D, H = objective.factors(theta)
        R = (X - D @ H)[held]
        w = np.ones_like(R) if base_sq is None else base_sq[held]
        errors[f] = float(np.sum(w * R * R) / np.sum(w))
        if task.get("report") is not None:
            task["report"](task["index"], f + 1, fit.objective)
    evidence = None
    if full.size <= LAPLACE_MAX_DIM:
        evidence = laplace_log_evidence(full, theta_full, value=fit.objective)
    return {"errors": errors, "evidence": evidence, "objective": fit.objective, "fit_time": fit_time,
            "cv_time": time.perf_counter() - start}


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
        Candidates evaluated in this many processes at once (1: here, in order).
    mask : array_like of shape (K, L) or (L,), optional
        Entries (or columns, e.g. voxels outside the head) never fitted nor scored.
    one_se_rule : bool
        Choose the smallest rank within one paired standard error of the
        lowest CV error (else the lowest CV error itself).
    callback : callable, optional
        ``callback(Progress("select_model", candidate, n_candidates, folds done, n_folds, objective))``
        after each fold (``n_jobs=1``) or each candidate (``n_jobs > 1``).
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
    weights_sq = check_mask(mask, X.shape)
    observed = None if weights_sq is None else np.broadcast_to(weights_sq, X.shape) > 0
    rng = check_random_state(random_state)
    labels = make_folds(X.shape, n_folds, scheme, rng, observed)
    seed = int(rng.integers(0, 2**63 - 1))
    n_cand = len(candidates)

    def report(index, folds_done, objective):
        if stop_requested(callback, Progress("select_model", index, n_cand, folds_done, n_folds, float(objective))):
            raise _Stop

    tasks = [{"X": X, "mask": mask, "labels": labels, "n_folds": n_folds, "candidate": cand, "noise_var": noise_var,
              "seed": seed, "index": i} for i, cand in enumerate(candidates)]
    outcomes, stopped = [], False
    try:
        if n_jobs == 1 or n_cand == 1:
            for task in tasks:
                outcomes.append(_evaluate_candidate(dict(task, report=report)))
        else:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            with concurrent.futures.ProcessPoolExecutor(min(n_jobs, n_cand), mp_context=context) as pool:
                futures = [pool.submit(_evaluate_candidate, task) for task in tasks]
                try:
                    for i, future in enumerate(futures):
                        outcomes.append(future.result())
                        report(i, n_folds, outcomes[-1]["objective"])
                finally:
                    for other in futures:
                        other.cancel()
    except _Stop:
        stopped = True
    done = len(outcomes)
    settings = {"n_folds": n_folds, "scheme": scheme, "random_state": random_state
                if not isinstance(random_state, np.random.Generator) else None, "n_jobs": n_jobs,
                "one_se_rule": one_se_rule, "noise_var": noise_var, "masked": mask is not None,
                "laplace_max_dim": LAPLACE_MAX_DIM, "n_evaluated": done}
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
               "cv_time": o["cv_time"]}
        if "name" in cand:
            row["name"] = cand["name"]
        table.append(row)
    return ModelSelection(best=candidates[best], best_index=best, lowest_index=lowest,
                          evidence_index=evidence_index, table=table, cv_errors=errors, candidates=candidates,
                          settings=settings, runtime=time.perf_counter() - start, stopped=stopped)
