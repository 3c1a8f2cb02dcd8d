r"""Posterior sampling for GPP-NMF: how sure is each spectrum, map and fitted value.

The GPP-NMF posterior over the whitened variables ``theta = (delta, eta)`` is

.. math::

    p(\theta \mid X) \propto \exp(-L(\theta)), \qquad
    L(\theta) = \frac{1}{2\sigma^2} \lVert W \odot (X - D H) \rVert_F^2
                + \tfrac12 \lVert \delta \rVert^2 + \tfrac12 \lVert \eta \rVert^2,

with ``L`` the MAP objective of :class:`~gppnmf_core.objective.GPPNMFObjective`
(value and gradient on the flat ``theta``). :func:`sample_posterior` draws from
it with the No-U-Turn sampler.

How it samples
--------------
1. **MAP**: :func:`~gppnmf_core.gppnmf.fit_gppnmf` (or L-BFGS from a given
   ``theta0``).
2. **Laplace preconditioner** (:mod:`gppnmf_core.laplace`): the full Hessian of ``L`` at the MAP
   (:func:`hessian`, central differences of the gradient, ``2 d`` gradient
   evaluations), minus the prior's identity: the data term's curvature
   ``A``. With its eigen-pairs ``(lambda_i, u_i)`` where ``|lambda_i|``
   exceeds :data:`PRECONDITION_MIN_EIG` the chains run in ``z`` with
   ``theta = theta_MAP + S z``,
   ``S = I + sum_i (1/sqrt(max(1 + lambda_i, PRECONDITION_FLOOR)) - 1) u_i u_i^T``
   (so ``S^2`` is the Laplace covariance on those directions). The posterior
   in ``z`` is close to N(0, I): on the CSI phantom the narrowest direction
   of ``theta`` has sd 0.01 while the prior's has sd 1, which without this
   took 60–130 leapfrog steps per draw on the toy and about 15 with it. A
   low-rank ``S`` costs ``2 d r`` per step instead of the ``d^2`` of a dense
   metric. The Gauss–Newton Hessian (:func:`gauss_newton_hessian`, the
   earlier choice, ``curvature="gauss_newton"`` in :func:`make_preconditioner`)
   has every eigenvalue at least 1, but at a MAP of noisy data the residual
   terms make a few directions wider than the prior (toy: down to 0.75):
   left too narrow, those were the slowest to mix (the worst bulk ESS of D
   and H on toy data set 1 went from 80–110 to 290–390 per 2000 draws, the
   worst R̂ from 1.023 to 1.006, at the same 15 steps per draw).
3. **NUTS** (:func:`gppnmf_core.nuts.sample_nuts`, a multinomial No-U-Turn
   sampler of this package) in ``z``, with the step size (dual averaging,
   target acceptance ``target_accept``) and the mass matrix adapted during
   ``n_warmup`` iterations in Stan's windows: a diagonal part and up to
   :data:`ADAPT_LOW_RANK` long directions (:mod:`gppnmf_core.mass_matrix`:
   the geometric mean of the window draws' covariance and the inverse of
   their gradients'; see "What limits mixing"). A trajectory where the links
   overflow (a non-finite objective or gradient) is ended as divergent and
   its end point never accepted; divergences after warm-up are counted.
   ``sampler="mici"`` runs mici's ``DynamicMultinomialHMC`` instead (the
   earlier choice, diagonal adaptation only; see below). Without the diagonal
   mass matrix (step size only) toy data set 1 lost a chain to a divergent,
   label-switched region (790 divergences, R̂ 1.15): the adaptation stays.
4. **The MAP's component order** (:data:`RESTRICT_ORDER`): the posterior is
   the same under any relabelling of the components, so it is sampled on the
   part of the space where the components' whitened variables line up with
   the MAP's in its order (a half-space for two components; a trajectory
   that reaches its boundary ends there, counted in ``n_boundary``, not as a
   divergence). The identified draws have exactly the distribution they
   would have from the whole space, but a chain can no longer wander into a
   relabelled copy of the mode, where the preconditioner built at the MAP
   does not fit: on toy data set 7 one chain spent 806 of its 1000 draws
   there at 27 steps per draw (R̂ 1.013, bulk ESS 190); kept in order, the
   same run gave R̂ 1.005 and bulk ESS 299, with 8–15 trajectories per 1000
   draws ending at the boundary.
5. **Chains in parallel processes** (``concurrent.futures`` with the
   ``fork`` start method where there is one, else ``spawn``), each from the MAP
   plus ``jitter * S z0``, ``z0 ~ N(0, I)``, seeded from ``random_state`` by a
   :class:`numpy.random.SeedSequence` so that the draws do not depend on how
   many processes run them.
6. **Identification** (in the chain's worker, :mod:`gppnmf_core.posterior_record`):
   every draw's columns of D are matched to the MAP's by cosine similarity
   (:func:`~gppnmf_core.metrics.match_components`), then scaled to unit norm
   with H scaled to match (``D H`` unchanged). ``X0 = D H`` is on the raw scale.
7. **Diagnostics** from ArviZ (:mod:`gppnmf_core.posterior_diagnostics`:
   rank-normalised split-R̂, bulk and tail ESS) on the log density and on up
   to ``n_diagnostic`` entries each of the normalised D, the scaled H and X0.
8. **Optionally longer** (``max_draws``): while the worst R̂ or bulk ESS misses
   :data:`RHAT_TARGET` / :data:`ESS_BULK_TARGET`, every chain continues by
   half of ``n_draws`` more draws (:data:`CONTINUE_FRACTION`) from where it
   stopped (same metric and step size, a fresh seed from the SeedSequence), up
   to ``max_draws`` per chain. Between rounds the diagnostics stop at the
   first that misses (R̂ first: a fifth of their cost). On the toy, half
   rounds brought the median time of the 10 sets with ``max_draws=2000`` from
   6.0 to 5.6 s (a set whose first 1000 draws per chain just miss, R̂ 1.010–1.015,
   passes at 1500).

Modules: :mod:`gppnmf_core.laplace` (MAP helpers, Hessians, evidence,
preconditioner), :mod:`gppnmf_core.posterior_chains` (the chains' processes),
:mod:`gppnmf_core.posterior_record` (:class:`Posterior`, :func:`identify`),
:mod:`gppnmf_core.posterior_diagnostics`; this module keeps their public names.

Which sampler
-------------
Two well-kept samplers take a NumPy log density with its gradient: ``mici``
(pure Python, NumPy only) and ``nutpie`` (Rust, with ``from_pyfunc``). Measured
on the paper's toy (one chain of 500 warm-up + 1000 draws, same objective,
same Laplace reparametrisation, 2-core machine): mici 8.6 s at 332 us per
gradient, nutpie 9.2 s at 390 us per gradient, both 15 leapfrog steps per draw
and bulk ESS of X0 300–400 (minimum) / 950–1260 (median) per 1000 draws.
Without the reparametrisation nutpie's low-rank mass-matrix adaptation halved
the steps (63 -> 31) but cost 3.5x more per step. nutpie runs the chains of a
Python model on threads that share the GIL, pulls in pyarrow and zarr, and
pins ArviZ below 1.0. mici's per-step overhead was 109 us on a 600-dimensional
standard Gaussian (step size 0.31, 15 steps per draw: the geometry of our
preconditioned toy), against a toy objective of 75–150 us: a third or more of a
chain's time. :mod:`gppnmf_core.nuts` (the same algorithm: multinomial NUTS,
the generalised no-U-turn criterion with Stan's checks across subtrees, Stan's
warm-up) takes 40 us per step on that Gaussian (gradient included), with the
same 15 steps per draw and step size 0.31; on the toy the CPU of one chain of
300 + 1000 iterations went from 6–7 s (mici) to 3.1–4.0 s, on a loaded
machine. It is tested on leapfrog reversibility and energy conservation and on
a correlated Gaussian's mean and covariance (``tests/test_nuts.py``).

What limits mixing on the toy
-----------------------------
Measured on the paper's toy (10 data sets, 2 chains of 300 + 1000, 600
whitened variables; ``benchmarks/bench_posterior.py``):

* **Long, curved directions.** In ``z`` the draws' covariance has one
  direction of variance 17–30 (and a few of 3–7) where the Laplace
  approximation at the MAP says 1: NMF's rotation (one spectrum turning
  towards the other, ``D R``, ``R^-1 H``) mixed with the components' scales.
  It is skewed (data set 9: 5/50/95 % at -0.6 / 4.4 / 14.6 along it, the MAP at
  0, flat on one side, steep where the spectra approach) and had bulk ESS
  110–160 per 2000 draws with the diagonal metric. The low-rank metric finds
  it (overlap 0.87–0.94 with the draws' leading direction, variance 12–28):
  bulk ESS 160–270 there. Trajectories get longer (at target acceptance 0.8:
  30 instead of 15 steps per draw on 4 of 10 sets, step size 0.16–0.20
  instead of 0.22–0.28) but the
  worst bulk ESS per chain CPU second rose on those sets (set 3: 124 in 7.7 s
  -> 390 in 7.3 s; set 4: 167 in 6.9 s -> 340 in 6.7 s). Estimated from the
  draws alone (the earlier attempt) the direction was lost in the spread of
  a sample covariance of 100–200 draws in 600 dimensions; with the
  gradients it is not (see :mod:`gppnmf_core.mass_matrix`).
* **Which adaptation** (first 1000 draws per chain, the 10 toy sets, one run
  each, all kept in the MAP's order, target acceptance 0.8; "worst ESS": the smallest bulk ESS over
  a set's summaries; passing: R̂ ≤ 1.01 and that ESS ≥ 200):

  ::

      metric                               passing  worst  median     steps  chain CPU  worst ESS
                                           sets     ESS    worst ESS  /draw  s, median  per CPU s
      diagonal                             4 / 10    88    249        15     3.8        64
      + up to 8 directions, A only         6 / 10    51    305        15     4.8        58
      + up to 8 directions, max(A, draws)  5 / 10   123    358        19     5.7        54
      + up to 2 directions, max(A, draws)  5 / 10   165    397        23     7.0        56

  (load 3–5 on 2 cores.) The low-rank metric buys ESS per draw at the same
  cost per effective draw, and the most on the hardest sets (set 9: worst
  ESS 88 -> 123–165, per CPU second 13 -> 16–22). With one run per set a
  difference of one or two passing sets is no evidence either way. The
  default is the third row (``A``: the geometric-mean estimate of
  :mod:`gppnmf_core.mass_matrix`; "draws": the draws' own variance).
* **Which step size.** Stan's target acceptance 0.8 against 0.7 (the
  default now), with the default metric, same runs otherwise: passing sets
  5 -> 8 of 10, median worst ESS 358 -> 415, median steps per draw 19 -> 15
  (sets 3, 4, 6: 30 -> 23; set 7: 23 -> 15; step size 0.22–0.28 -> 0.26–0.35),
  median chain CPU 5.7 -> 4.6 s, median worst ESS per CPU second 54 -> 80.
  At 0.7 the diagonal metric alone passed 5 of 10 (worst ESS 65, median 366,
  chain CPU 4.0 s, worst ESS per CPU second 93): the low-rank metric keeps
  the hard sets (3, 4, 6: 151 / 185 / 65 -> 373 / 356 / 457) for 15 % more
  CPU.
  Set 9 got worse (worst ESS 123 -> 98, 20 -> 34 divergences): its chains
  reach the region where the spectra coincide either way.
* **Relabelled copies of the mode** (fixed by step 4): set 7.
* **How strict the target is.** R̂ ≤ 1.01 on *every* one of ~145 summaries
  (48 entries each of D, H, X0 and the log density; ArviZ's rank-normalised
  R̂ is the larger of the bulk and the folded one) is a maximum over many
  noisy statistics. For independent AR(1) summaries with a known ESS in 2
  chains of 1000, the maximum over 145 was ≤ 1.01 in 0 of 12 trials at ESS
  400 per summary (median 1.020), in 7 of 12 at ESS 800 (median 1.009) and
  in all at ESS 2000 (median 1.004): with two chains the target needs a
  bulk ESS of about 500–800 on the slowest summaries, far above the 200 of
  the ESS target. With 1000 draws per chain 5 to 8 of the 10 toy sets get
  there, depending on the run (the same sampler with other rounding: a
  maximum over 145 noisy statistics); ``max_draws`` continues the others
  (9 or 10 of 10 passed with at most 2000 per chain; set 9 may need 3000).
* Toy data sets 7 and 9 have stretches where the two spectra nearly
  coincide; set 9's chains meet divergences there (4–45 per run), reported
  in ``n_divergent``.
"""

from __future__ import annotations

import os
import time

import numpy as np

from ._validation import check_int, check_positive, check_random_state
from .laplace import (  # noqa: F401  (re-exported: the names this module has always offered)
    LAPLACE_MAX_DIM,
    PRECONDITION_FLOOR,
    PRECONDITION_MIN_EIG,
    Preconditioner,
    build_objective,
    gauss_newton_hessian,
    hessian,
    laplace_log_evidence,
    make_preconditioner,
    map_from,
    objective_value,
)
from .posterior_chains import ADAPT_LOW_RANK, ADAPT_MASS, PROGRESS_INTERVAL_S, RESTRICT_ORDER, run_chains  # noqa: F401
from .posterior_diagnostics import diagnostics as compute_diagnostics
from .posterior_diagnostics import require_arviz
from .posterior_record import Posterior, identify, normalise
from .priors import GPPrior

__all__ = [
    "CONTINUE_FRACTION",
    "ESS_BULK_TARGET",
    "Posterior",
    "RHAT_TARGET",
    "gauss_newton_hessian",
    "hessian",
    "identify",
    "laplace_log_evidence",
    "objective_value",
    "sample_posterior",
]

#: Worst split-R-hat over the reported summaries that counts as converged (issue 12's target).
RHAT_TARGET = 1.01

#: Smallest bulk effective sample size over the reported summaries that counts as enough (issue 12's target).
ESS_BULK_TARGET = 200.0

#: With ``max_draws``, each continuation adds this fraction of ``n_draws`` per chain (see the module notes).
CONTINUE_FRACTION = 0.5


def sample_posterior(
    X,
    rank,
    prior_D: GPPrior,
    prior_H: GPPrior,
    noise_var,
    mask=None,
    n_draws: int = 1000,
    n_chains: int = 2,
    callback=None,
    random_state=0,
    theta0=None,
    *,
    n_warmup: int = 300,
    target_accept: float = 0.7,
    max_tree_depth: int = 8,
    jitter: float = 0.5,
    n_jobs: int | None = None,
    n_diagnostic: int | None = 48,
    map_result=None,
    sampler: str = "nuts",
    max_draws: int | None = None,
) -> Posterior:
    r"""Draw from the GPP-NMF posterior with NUTS and summarise it (bands for D, H and X0 = D H).

    See the module notes for the method (MAP, Laplace preconditioner, NUTS
    with adapted step size and mass matrix, chains in parallel processes,
    matching to the MAP, ArviZ diagnostics).

    Parameters
    ----------
    X : array_like of shape (K, L)
        Data; may contain negative values.
    rank : int
        Number of components M.
    prior_D, prior_H : GPPrior
        Priors of the columns of D (K points) and the rows of H (L points).
    noise_var : float
        Noise variance sigma^2 (> 0).
    mask : array_like of shape (K, L) or (L,), optional
        Weights W as in :func:`~gppnmf_core.gppnmf.fit_gppnmf` (0 leaves an
        entry or a whole column out; H there follows the prior).
    n_draws : int
        Draws per chain kept after warm-up.
    n_chains : int
        Independent chains (at least 1; R̂ needs 2 to compare chains).
    callback : callable, optional
        ``callback(Progress)``: first the MAP fit's reports (``method="gppnmf"``),
        then every :data:`PROGRESS_INTERVAL_S` seconds ``Progress("posterior", 0,
        1, iterations done over all chains, n_chains * (n_warmup + n_draws),
        L at the MAP)``. Raising :class:`StopIteration` or returning True
        stops (the fits' contract): the result then holds the draws made so
        far (``stopped=True``; none if warm-up had not finished).
    random_state : None, int or numpy.random.Generator
        Seeds the MAP fit, the chains' starting points and the chains.
    theta0 : array_like of shape (d,), optional
        Warm start for the MAP (flat ``(delta, eta)`` as in
        :class:`~gppnmf_core.objective.GPPNMFObjective`); L-BFGS runs from it
        instead of a fresh :func:`fit_gppnmf`.
    n_warmup : int
        Adaptation iterations per chain (discarded).
    target_accept : float
        Target average acceptance statistic of the step-size adaptation
        (0.7: a larger step than Stan's 0.8, see the module notes).
    max_tree_depth : int
        At most ``2**max_tree_depth`` leapfrog steps per draw.
    jitter : float
        Scale of the chains' random starts around the MAP, in units of the
        Laplace standard deviation.
    n_jobs : int, optional
        Processes for the chains; default ``min(n_chains, cpu count)``; 1 runs
        them one after the other in this process. The draws do not depend on it.
    n_diagnostic : int or None
        Entries each of D, H and X0 on which R̂ and ESS are computed (None: all).
    map_result : FitResult, optional
        A GPP-NMF fit of the same data and model to start from (its ``latent``).
    sampler : {"nuts", "mici"}
        ``"nuts"``: this package's NUTS (:mod:`gppnmf_core.nuts`); ``"mici"``:
        mici's ``DynamicMultinomialHMC`` (needs mici installed; slower per step).
    max_draws : int, optional
        With ``sampler="nuts"``: while the worst R̂ exceeds :data:`RHAT_TARGET`
        or the smallest bulk ESS is below :data:`ESS_BULK_TARGET`, continue
        every chain (same metric and step size) by ``n_draws / 2`` more draws
        (:data:`CONTINUE_FRACTION`), up to ``max_draws`` per chain; all draws
        are kept (``n_draws`` is then the least per chain). None: exactly ``n_draws``.

    Returns
    -------
    Posterior

    Raises
    ------
    ValueError
        For invalid data, rank, priors, noise variance, mask (as fit_gppnmf),
        a ``theta0`` of the wrong shape, or counts below 1.
    ImportError
        When ArviZ (the ``posterior`` extra) is not installed; raised before any sampling.

    Examples
    --------
    >>> import gppnmf_core as gp
    >>> from gppnmf_core.posterior import sample_posterior
    >>> toy = gp.datasets.paper_toy(random_state=0)
    >>> p = toy.presets["correct"]
    >>> post = sample_posterior(toy.X, 2, p.prior_D, p.prior_H, 25.0, n_draws=200)  # doctest: +SKIP
    >>> post.quantiles("X0", [0.05, 0.5, 0.95]).shape  # doctest: +SKIP
    (3, 100, 200)
    """
    start = time.perf_counter()
    objective = build_objective(X, rank, prior_D, prior_H, noise_var, mask)
    require_arviz()
    n_draws = check_int(n_draws, "n_draws")
    n_chains = check_int(n_chains, "n_chains")
    n_warmup = check_int(n_warmup, "n_warmup", minimum=0)
    max_tree_depth = check_int(max_tree_depth, "max_tree_depth", maximum=16)
    target_accept = check_positive(target_accept, "target_accept")
    if target_accept >= 1.0:
        raise ValueError(f"target_accept must be in (0, 1), got {target_accept}")
    jitter = float(jitter)
    if not np.isfinite(jitter) or jitter < 0:
        raise ValueError(f"jitter must be a non-negative finite number, got {jitter!r}")
    if n_diagnostic is not None:
        n_diagnostic = check_int(n_diagnostic, "n_diagnostic")
    if sampler not in ("nuts", "mici"):
        raise ValueError(f"sampler must be 'nuts' or 'mici', got {sampler!r}")
    if n_jobs is None:
        n_jobs = min(n_chains, os.cpu_count() or 1)
    n_jobs = check_int(n_jobs, "n_jobs")
    seed_input = random_state if not isinstance(random_state, np.random.Generator) else None
    rng = check_random_state(random_state)
    seeds = rng.integers(0, 2**63 - 1, size=n_chains + 1)

    # 1. the MAP
    stopped = False
    if theta0 is not None:
        theta0 = np.asarray(theta0, dtype=np.float64)
        if theta0.shape != (objective.size,):
            raise ValueError(f"theta0 must have shape ({objective.size},) = (n_latent_D * M + n_latent_H * M,) "
                             f"for X of shape {objective.X.shape} and rank {objective.rank}, got {theta0.shape}")
        theta_map, value_map, _ = map_from(objective, theta0)
    elif map_result is not None:
        theta_map = objective.pack(map_result.latent["delta"], map_result.latent["eta"])
        if theta_map.shape != (objective.size,):
            raise ValueError(f"map_result's latent variables have {theta_map.size} entries, expected {objective.size}")
        theta_map, value_map, _ = map_from(objective, theta_map)
    else:
        from .gppnmf import fit_gppnmf

        fit = fit_gppnmf(objective.X, objective.rank, prior_D, prior_H, noise_var, mask=mask, callback=callback,
                         random_state=int(seeds[-1]))
        theta_map = objective.pack(fit.latent["delta"], fit.latent["eta"])
        value_map, stopped = fit.objective, fit.stopped

    timings = {"map": time.perf_counter() - start}

    # 2. the preconditioner
    mark = time.perf_counter()
    pre = make_preconditioner(objective, theta_map)
    timings["preconditioner"] = time.perf_counter() - mark

    # 3.-4. the chains (5. each identifies its draws: matched to the MAP's components and normalised)
    D_map, H_map = objective.factors(theta_map)
    tasks = [{"D_map": D_map, "objective": objective, "pre": pre, "chain": c, "seed": int(seeds[c]),
              "n_warmup": n_warmup, "n_draws": n_draws, "target_accept": target_accept,
              "max_tree_depth": max_tree_depth, "jitter": jitter, "sampler": sampler} for c in range(n_chains)]
    mark = time.perf_counter()
    total = n_chains * (n_warmup + n_draws)
    results = [] if stopped else run_chains(tasks, n_jobs, callback, total, value_map)
    stopped = stopped or len(results) < n_chains or any(r["done"] < n_warmup + n_draws for r in results)
    timings["chains"] = time.perf_counter() - mark
    timings["rounds"] = [timings["chains"]]
    D_map_n, H_map_n = normalise(D_map, H_map)
    draws = _collect(results, objective)
    continuing = max_draws is not None and sampler == "nuts"

    def may_continue():
        return continuing and not stopped and draws[0].shape[1] < max_draws

    def diagnose():  # while more rounds may follow, only as far as needed to tell "not converged"
        mark = time.perf_counter()
        out = compute_diagnostics(*draws[:3], n_diagnostic, (RHAT_TARGET, ESS_BULK_TARGET) if may_continue()
                                  else None) if draws[0].shape[1] >= 4 else {}
        timings["diagnostics"] = timings.get("diagnostics", 0.0) + time.perf_counter() - mark
        return out

    diagnostics = diagnose()
    n_rounds = 1
    while may_continue() and not _converged(diagnostics):
        extra = min(max(1, round(CONTINUE_FRACTION * n_draws)), max_draws - draws[0].shape[1])
        resume = [dict(task, n_warmup=0, n_draws=extra, resume=r["resume"],
                       seed=int(np.random.SeedSequence([int(seeds[c]), n_rounds]).generate_state(2, np.uint64)[0]
                                % (2**63 - 1)))
                  for c, (task, r) in enumerate(zip(tasks, results, strict=True))]
        mark = time.perf_counter()
        more = run_chains(resume, n_jobs, callback, total + n_chains * extra, value_map, offset=total)
        timings["chains"] += time.perf_counter() - mark
        timings["rounds"].append(time.perf_counter() - mark)
        total += n_chains * extra
        stopped = len(more) < n_chains or any(r["done"] < extra for r in more)
        results = [_append(r, m) for r, m in zip(results, more, strict=False)] + results[len(more):]
        draws = _collect(results, objective)
        diagnostics = diagnose()
        n_rounds += 1
    D_draws, H_draws, lp_draws, switches = draws

    n_divergent = int(sum(np.sum(r["stats"].get("diverging", np.zeros(0))[n_warmup:]) for r in results))
    n_boundary = int(sum(np.sum(r["stats"].get("boundary", np.zeros(0))[n_warmup:]) for r in results))
    step_sizes = [float(r["stats"]["step_size"][-1]) for r in results if r["stats"].get("step_size") is not None
                  and r["stats"]["step_size"].size]
    n_steps = [float(np.mean(r["stats"]["n_step"][n_warmup:])) for r in results
               if r["stats"].get("n_step") is not None and r["stats"]["n_step"].size > n_warmup]
    metrics = [r["metric"] for r in results if r.get("metric") is not None]
    settings = {
        "rank": objective.rank, "noise_var": 1.0 / objective.inv_noise_var, "masked": mask is not None,
        "n_draws": n_draws, "n_chains": n_chains, "n_warmup": n_warmup, "target_accept": target_accept,
        "max_tree_depth": max_tree_depth, "jitter": jitter, "random_state": seed_input,
        "n_jobs": n_jobs, "n_diagnostic": n_diagnostic, "warm_start": theta0 is not None or map_result is not None,
        "max_draws": max_draws, "n_rounds": n_rounds, "draws_per_chain": int(D_draws.shape[1]),
        "prior_D": prior_D.to_spec(), "prior_H": prior_H.to_spec(),
        "sampler": ("gppnmf_core.nuts (multinomial NUTS)" if sampler == "nuts" else "mici DynamicMultinomialHMC (NUTS)")
        + ", Laplace-preconditioned",
        "preconditioner_rank": int(pre.c.size), "step_size": step_sizes, "mean_leapfrog_steps": n_steps,
        "low_rank_variances": [m.lam.tolist() for m in metrics], "n_boundary": n_boundary,
        "chain_cpu_s": [float(r.get("cpu_s", float("nan"))) for r in results], "timings": timings,
    }
    return Posterior(
        D_draws=D_draws, H_draws=H_draws, lp_draws=lp_draws, D_map=D_map_n, H_map=H_map_n,
        objective_map=float(value_map), theta_map=theta_map,
        rhat_max=diagnostics.get("rhat_max", float("nan")), ess_bulk_min=diagnostics.get("ess_bulk_min", 0.0),
        ess_tail_min=diagnostics.get("ess_tail_min", 0.0), n_divergent=n_divergent, n_label_switches=switches,
        stopped=stopped, runtime=time.perf_counter() - start, settings=settings, diagnostics=diagnostics,
    )


def _converged(diagnostics: dict) -> bool:
    """Whether the worst R-hat and bulk ESS meet :data:`RHAT_TARGET` and :data:`ESS_BULK_TARGET`."""
    return (diagnostics.get("rhat_max", np.inf) <= RHAT_TARGET
            and diagnostics.get("ess_bulk_min", 0.0) >= ESS_BULK_TARGET)


def _append(first: dict, more: dict) -> dict:
    """A chain's result continued by ``more`` (draws, statistics and CPU time appended; the last state kept)."""
    out = dict(more)
    for key in ("z", "lp", "D", "H", "switched"):
        if key in first and key in more:
            out[key] = np.concatenate([first[key], more[key]])
    out["stats"] = {key: np.concatenate([first["stats"][key], more["stats"][key]]) for key in first["stats"]}
    out["done"] = first["done"] + more["done"]
    out["cpu_s"] = first.get("cpu_s", 0.0) + more.get("cpu_s", 0.0)
    return out


def _collect(results: list, objective) -> tuple:
    """Stack the chains' identified draws, cut to the shortest chain.

    Returns
    -------
    D_draws : ndarray of shape (n_chains, n, K, M)
    H_draws : ndarray of shape (n_chains, n, M, L)
    lp_draws : ndarray of shape (n_chains, n)
    switches : int
        Draws whose components were relabelled to match the MAP.
    """
    n = min((r["lp"].shape[0] for r in results), default=0)
    K, L, M = objective.X.shape[0], objective.X.shape[1], objective.rank
    D_draws = np.empty((len(results), n, K, M))
    H_draws = np.empty((len(results), n, M, L))
    lp_draws = np.empty((len(results), n))
    switches = 0
    for c, r in enumerate(results):
        lp_draws[c], D_draws[c], H_draws[c] = r["lp"][:n], r["D"][:n], r["H"][:n]
        switches += int(np.sum(r["switched"][:n]))
    return D_draws, H_draws, lp_draws, switches
