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


def test_select_model_stops_on_request():
    toy = gp.datasets.paper_toy(random_state=0, K=15, L=20)
    p = toy.presets["correct"]
    candidates = [{"rank": r, "prior_D": p.prior_D, "prior_H": p.prior_H} for r in (1, 2)]

    def callback(progress):
        if progress.replicate == 1:
            raise StopIteration

    sel = select_model(toy.X, candidates, noise_var=p.noise_var, n_folds=2, callback=callback)
    assert sel.stopped and sel.settings["n_evaluated"] == 1 and sel.best is candidates[0]
