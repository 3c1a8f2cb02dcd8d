"""Model choice by held-out-entry CV, and the noise variance by MacKay's update."""

import numpy as np
import pytest

import gppnmf_core as gp
from gppnmf_core.model_selection import ModelSelection, make_folds, select_model
from gppnmf_core.noise_estimation import estimate_noise_var


@pytest.mark.parametrize("scheme", ["entries", "blocks"])
def test_folds_partition_the_entries(scheme):
    labels = make_folds((23, 31), 5, scheme, random_state=0)
    counts = np.bincount(labels.ravel(), minlength=5)
    assert counts.sum() == 23 * 31 and counts.min() > 0.15 * labels.size
    if scheme == "blocks":  # every row and every column has entries in every fold
        assert all(len(np.unique(row)) == 5 for row in labels)
        assert all(len(np.unique(col)) == 5 for col in labels.T)
    observed = np.ones((23, 31), dtype=bool)
    observed[:, 0] = False
    assert np.all(make_folds((23, 31), 5, scheme, 0, observed)[:, 0] == -1)


def test_cv_picks_the_true_rank():
    toy = gp.datasets.paper_toy(random_state=0, K=40, L=60, noise_var=1.0)
    p = toy.presets["correct"]
    candidates = [{"rank": r, "prior_D": p.prior_D, "prior_H": p.prior_H} for r in (1, 2, 3)]
    sel = select_model(toy.X, candidates, noise_var=p.noise_var, n_folds=4, random_state=0)
    assert isinstance(sel, ModelSelection)
    assert sel.best is candidates[1]
    assert sel.cv_errors.shape == (3, 4)
    row = sel.table[0]
    assert row["diff"] > row["diff_se"] > 0  # rank 1 is clearly worse, paired
    assert sel.table[sel.lowest_index]["diff"] == 0.0
    assert all(r["evidence"] is not None for r in sel.table)
    assert sel.evidence_index == 1


def test_cv_prefers_the_correct_preset_in_parallel():
    toy = gp.datasets.paper_toy(random_state=0, K=50, L=80)
    candidates = [{"rank": 2, "prior_D": toy.presets[n].prior_D, "prior_H": toy.presets[n].prior_H, "name": n}
                  for n in ("incorrect", "correct")]
    sel = select_model(toy.X, candidates, noise_var=toy.noise_var, n_folds=3, scheme="blocks", n_jobs=2)
    assert sel.best["name"] == "correct"


def test_select_model_names_bad_arguments():
    toy = gp.datasets.paper_toy(random_state=0, K=10, L=12)
    p = toy.presets["correct"]
    with pytest.raises(ValueError, match=r"candidates\[0\] lacks 'rank'"):
        select_model(toy.X, [{"prior_D": p.prior_D, "prior_H": p.prior_H}], noise_var=1.0)
    with pytest.raises(ValueError, match="scheme must be one of"):
        select_model(toy.X, [{"rank": 1, "prior_D": p.prior_D, "prior_H": p.prior_H}], noise_var=1.0,
                     scheme="rows")
    with pytest.raises(ValueError, match="give noise_var"):
        select_model(toy.X, [{"rank": 1, "prior_D": p.prior_D, "prior_H": p.prior_H}])


def test_noise_variance_within_one_percent_in_three_rounds():
    toy = gp.datasets.paper_toy(random_state=2)
    p = toy.presets["correct"]
    realised = float(np.mean((toy.X - toy.truth.X0) ** 2))
    estimate, record = estimate_noise_var(toy.X, 2, p.prior_D, p.prior_H, max_rounds=3, return_details=True)
    assert abs(estimate - realised) / realised < 0.01
    assert record.n_rounds <= 3
    assert 0 < record.rounds[-1]["gamma"] < 600
    # plain RSS / n is biased low by the effective number of parameters
    assert record.rounds[-1]["rss"] / record.rounds[-1]["n"] < estimate


def test_a_fit_can_estimate_its_own_noise_variance_and_reports_it():
    toy = gp.datasets.paper_toy(random_state=1, K=40, L=60, noise_var=4.0)
    p = toy.presets["correct"]
    fit = gp.fit_gppnmf(toy.X, 2, p.prior_D, p.prior_H, "estimate", random_state=0)
    estimate, record = estimate_noise_var(toy.X, 2, p.prior_D, p.prior_H, random_state=0, return_details=True)
    assert fit.settings["noise_var"] == estimate != 4.0
    reported = fit.settings["noise_estimate"]
    assert reported["n_rounds"] == record.n_rounds and reported["noise_var_after_round"][-1] == estimate
    # the fit is the one at the estimate: the same as fitting with that number
    again = gp.fit_gppnmf(toy.X, 2, p.prior_D, p.prior_H, estimate, random_state=0)
    np.testing.assert_array_equal(fit.D, again.D)
    with pytest.raises(ValueError, match="noise_var must be a positive number or 'estimate'"):
        gp.fit_gppnmf(toy.X, 2, p.prior_D, p.prior_H, "mackay")


def test_select_model_stops_on_request():
    toy = gp.datasets.paper_toy(random_state=0, K=15, L=20)
    p = toy.presets["correct"]
    candidates = [{"rank": r, "prior_D": p.prior_D, "prior_H": p.prior_H} for r in (1, 2)]

    def callback(progress):
        if progress.replicate == 1:
            raise StopIteration

    sel = select_model(toy.X, candidates, noise_var=p.noise_var, n_folds=2, callback=callback)
    assert sel.stopped and sel.settings["n_evaluated"] == 1 and sel.best is candidates[0]


def _toy_candidates(K=30, L=40, ranks=(1, 2, 3)):
    toy = gp.datasets.paper_toy(random_state=1, K=K, L=L, noise_var=1.0)
    p = toy.presets["correct"]
    return toy, [{"rank": r, "prior_D": p.prior_D, "prior_H": p.prior_H} for r in ranks]


def test_two_processes_give_the_results_of_one():
    toy, candidates = _toy_candidates()
    one = select_model(toy.X, candidates, noise_var=1.0, n_folds=3, random_state=0)
    two = select_model(toy.X, candidates, noise_var=1.0, n_folds=3, random_state=0, n_jobs=2)
    assert two.best is one.best and two.best_index == one.best_index
    np.testing.assert_array_equal(two.cv_errors, one.cv_errors)
    assert [r["evidence"] for r in two.table] == [r["evidence"] for r in one.table]
    assert [r["fold_iterations"] for r in two.table] == [r["fold_iterations"] for r in one.table]


class _InOrder:
    """A minimal executor: runs each task when submitted (what a Celery adapter looks like from here)."""

    def __init__(self):
        self.submitted = 0

    def submit(self, fn, task):
        import concurrent.futures
        import pickle

        self.submitted += 1
        future = concurrent.futures.Future()
        future.set_result(fn(pickle.loads(pickle.dumps(task))))  # tasks must survive a trip to a worker
        return future


def test_an_executor_runs_the_candidates():
    toy, candidates = _toy_candidates()
    executor = _InOrder()
    sel = select_model(toy.X, candidates, noise_var=1.0, n_folds=3, random_state=0, executor=executor)
    ref = select_model(toy.X, candidates, noise_var=1.0, n_folds=3, random_state=0)
    assert executor.submitted == 3 and sel.settings["executor"] == "_InOrder"
    np.testing.assert_array_equal(sel.cv_errors, ref.cv_errors)
    assert sel.best is ref.best
    with pytest.raises(ValueError, match="executor must have a submit"):
        select_model(toy.X, candidates, noise_var=1.0, executor=object())


def test_evidence_on_or_off_does_not_change_the_cv_choice():
    toy, candidates = _toy_candidates()
    runs = {e: select_model(toy.X, candidates, noise_var=1.0, n_folds=3, random_state=0, evidence=e)
            for e in ("auto", True, False)}
    for sel in runs.values():
        np.testing.assert_array_equal(sel.cv_errors, runs["auto"].cv_errors)
        assert sel.best is runs["auto"].best
    assert all(r["evidence"] is None for r in runs[False].table) and runs[False].evidence_index is None
    assert [r["evidence"] for r in runs[True].table] == [r["evidence"] for r in runs["auto"].table]
    assert all(r["evidence"] is not None for r in runs[True].table)
    with pytest.raises(ValueError, match="evidence must be"):
        select_model(toy.X, candidates, noise_var=1.0, evidence="yes")


def test_evidence_true_refuses_a_candidate_too_large(monkeypatch):
    from gppnmf_core import model_selection

    toy, candidates = _toy_candidates()
    monkeypatch.setattr(model_selection, "LAPLACE_MAX_DIM", 100)
    with pytest.raises(ValueError, match=r"candidates\[1\] has 140 whitened variables"):
        select_model(toy.X, candidates, noise_var=1.0, evidence=True)
    sel = select_model(toy.X, candidates, noise_var=1.0, n_folds=2, evidence="auto")
    assert sel.table[0]["evidence"] is not None  # sizes 70, 140, 210: only the first within the limit
    assert sel.table[1]["evidence"] is None and sel.table[2]["evidence"] is None


@pytest.mark.parametrize("n_folds", [2, 4])
def test_priors_are_bound_once_per_candidate_not_per_fold(monkeypatch, n_folds):
    from gppnmf_core.priors import GPPrior

    toy = gp.datasets.paper_toy(random_state=1, K=30, L=40, noise_var=1.0)
    p = toy.presets["correct"]
    fresh_D = GPPrior(p.prior_D.kernels[0], p.prior_D.link)  # no square roots cached yet
    fresh_H = GPPrior(p.prior_H.kernels[0], p.prior_H.link)
    candidates = [{"rank": r, "prior_D": fresh_D, "prior_H": fresh_H} for r in (1, 2)]
    roots, binds = [], []
    square_root, bind = GPPrior._square_root, GPPrior.bind
    monkeypatch.setattr(GPPrior, "_square_root", lambda self, size: roots.append(size) or square_root(self, size))
    monkeypatch.setattr(GPPrior, "bind", lambda self, *a, **k: binds.append(id(self)) or bind(self, *a, **k))
    select_model(toy.X, candidates, noise_var=1.0, n_folds=n_folds, random_state=0)
    assert sorted(roots) == [30, 40]  # each prior's square root built once for all candidates and folds
    assert len(binds) <= 4 * len(candidates)  # fit_gppnmf's two and the folds' two: none per fold


def test_looser_fold_tolerance_keeps_the_choice():
    toy, candidates = _toy_candidates()
    strict = select_model(toy.X, candidates, noise_var=1.0, n_folds=3, random_state=0, fold_tol=1e-10)
    loose = select_model(toy.X, candidates, noise_var=1.0, n_folds=3, random_state=0, fold_tol=1e-8)
    assert loose.best is strict.best and loose.settings["fold_tol"] == 1e-8
    assert sum(map(sum, (r["fold_iterations"] for r in loose.table))) < \
        sum(map(sum, (r["fold_iterations"] for r in strict.table)))
    np.testing.assert_allclose(loose.cv_errors, strict.cv_errors, rtol=1e-3)


@pytest.mark.parametrize("mask_kind", ["none", "columns", "entries"])
def test_block_evidence_equals_the_full_hessian_one(mask_kind):
    from gppnmf_core.model_evidence import candidate_log_evidence
    from gppnmf_core.posterior import build_objective, laplace_log_evidence

    toy = gp.datasets.paper_toy(random_state=3, K=30, L=40, noise_var=1.0)
    p = toy.presets["incorrect"]
    rng = np.random.default_rng(0)
    mask = {"none": None, "columns": (rng.random(40) > 0.2) * rng.uniform(0.5, 1.5, 40),
            "entries": (rng.random((30, 40)) > 0.2).astype(float)}[mask_kind]
    fit = gp.fit_gppnmf(toy.X, 3, p.prior_D, p.prior_H, 1.0, mask=mask, random_state=0)
    objective = build_objective(toy.X, 3, p.prior_D, p.prior_H, 1.0, mask)
    for theta in (objective.pack(fit.latent["delta"], fit.latent["eta"]), rng.standard_normal(objective.size)):
        value = objective(theta)[0]
        assert candidate_log_evidence(objective, theta, value) == pytest.approx(
            laplace_log_evidence(objective, theta, value=value), rel=1e-12, abs=1e-8)


@pytest.mark.parametrize("kind", ["columns", "entries"])
def test_select_model_with_a_mask(kind):
    toy, candidates = _toy_candidates(ranks=(1, 2))
    rng = np.random.default_rng(0)
    mask = (rng.random(40) > 0.25).astype(float) if kind == "columns" else (rng.random((30, 40)) > 0.1).astype(float)
    sel = select_model(toy.X, candidates, noise_var=1.0, n_folds=3, random_state=0, mask=mask)
    assert sel.settings["masked"] and np.all(np.isfinite(sel.cv_errors))
    assert all(r["evidence"] is not None and np.isfinite(r["evidence"]) for r in sel.table)
