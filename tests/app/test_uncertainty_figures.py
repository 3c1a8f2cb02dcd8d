"""Figure and text builders of How sure?, Suggest settings and Estimate σ², from known inputs (no browser)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gppnmf_core as gp
from components.views.uncertainty_figures import (
    ESS_OK,
    RHAT_OK,
    band_figure,
    cv_figure,
    diagnostics_summary,
    noise_text,
    posterior_source_text,
    relative_width,
    suggestion_text,
    uncertainty_map_figure,
)

PPM = gp.Axis(np.linspace(-20, 10, 50), label="chemical shift", unit="ppm", reversed=True)
GRID = gp.Grid((4, 4, 2), names=("x", "y", "z"), unit="voxel")


def quantiles(M: int, size: int, width: float = 0.2) -> np.ndarray:
    mid = np.abs(np.random.default_rng(0).standard_normal((M, size))) + 1.0
    return np.stack([mid - width / 2, mid, mid + width / 2])


def test_band_figure_draws_each_component_as_a_filled_band_around_its_median():
    Q = quantiles(2, 50)
    fig = band_figure(Q, PPM, title="D", names=["brain", "muscle"])
    lines = [t for t in fig.data if t.showlegend is not False]
    assert [t.name for t in lines] == ["brain (median, 90 % band)", "muscle (median, 90 % band)"]
    fills = [t for t in fig.data if t.fill == "tonexty"]
    assert len(fills) == 2
    np.testing.assert_allclose(lines[0].y, Q[1, 0])
    np.testing.assert_allclose(fills[1].y, Q[0, 1])
    assert fig.layout.xaxis.autorange == "reversed"  # ppm runs right to left
    assert "brain" in fig.layout.meta["summary"]


def test_band_figure_bounds_what_it_sends_and_checks_its_input():
    long_axis = gp.Axis(np.arange(10000.0), label="time", unit="s")
    fig = band_figure(quantiles(1, 10000), long_axis, title="H", names=["a"])
    assert all(len(t.y) <= 2000 for t in fig.data)
    with pytest.raises(ValueError, match="shape"):
        band_figure(np.zeros((2, 1, 5)), long_axis, title="H", names=["a"])


def test_relative_width_is_width_over_median_and_blank_where_the_median_is_negligible():
    Q = np.array([[[0.9, 1e-9]], [[1.0, 2e-9]], [[1.3, 3e-9]]])
    rel = relative_width(Q)
    assert rel.shape == (1, 2)
    assert rel[0, 0] == pytest.approx(0.4)
    assert math.isnan(rel[0, 1])


def test_uncertainty_map_on_a_grid_is_a_heatmap_of_relative_widths_and_bands_on_an_axis():
    grid_fig = uncertainty_map_figure(quantiles(2, GRID.size), GRID, names=["a", "b"], slice_index=1)
    assert grid_fig.data[0].type == "heatmap"
    assert "width / median" in grid_fig.layout.title.text
    axis = gp.Axis(np.arange(30.0), label="time", unit="h")
    line_fig = uncertainty_map_figure(quantiles(2, 30), axis, names=["a", "b"])
    assert {t.type for t in line_fig.data} == {"scatter"}


def test_diagnostics_warn_when_rhat_or_ess_fail_and_not_otherwise():
    text, warnings = diagnostics_summary(1.004, 350, 2, 400)
    assert "R̂ max 1.004" in text and "bulk ESS min 350" in text and "2 chains × 400 draws" in text
    assert warnings == []
    _, warnings = diagnostics_summary(RHAT_OK + 0.005, ESS_OK - 1, 2, 400)
    assert len(warnings) == 2 and "chains disagree" in warnings[0] and "too few effective draws" in warnings[1]
    _, warnings = diagnostics_summary(None, None, 2, 3)
    assert len(warnings) == 2


def test_posterior_source_says_which_run_and_settings():
    meta = {"source": {"run": 3, "job_id": "abc"}, "settings": {"job": {"noise_var": 25.0}}, "rank": 2,
            "n_chains": 2, "n_draws": 400, "runtime": 12.34}
    text = posterior_source_text(meta)
    assert text.startswith("From run #3: GPP-NMF, rank 2, σ² = 25")
    assert "2 chains × 400 draws" in text and "12.3 s" in text


TABLE = [
    {"index": 0, "rank": 2, "cv_error": 30.0, "cv_error_se": 1.0, "diff": 2.5, "diff_se": 0.4, "evidence": -1000.0},
    {"index": 1, "rank": 2, "cv_error": 27.5, "cv_error_se": 1.0, "diff": 0.0, "diff_se": 0.0, "evidence": -980.0},
    {"index": 2, "rank": 3, "cv_error": 27.6, "cv_error_se": 1.0, "diff": 0.1, "diff_se": 0.2, "evidence": None},
]
NAMES = ["current settings, rank 2", "preset 'correct', rank 2", "rank 3, current priors"]


def test_cv_figure_plots_paired_differences_with_errors_and_relative_evidence_marking_the_choice():
    fig = cv_figure(TABLE, NAMES, best_index=1, evidence_index=1)
    cv, evidence = fig.data
    assert list(cv.x) == [2.5, 0.0, 0.1] and list(cv.error_x.array) == [0.4, 0.0, 0.2]
    assert list(cv.y)[1] == "✓ preset 'correct', rank 2" and not list(cv.y)[0].startswith("✓")
    assert list(evidence.x) == [-20.0, 0.0, None]
    assert cv.marker.color[1] != cv.marker.color[0]
    assert fig.layout.meta["summary"]


def test_suggestion_text_names_the_choice_and_whether_the_evidence_agrees():
    meta = {"candidates": [{"name": n} for n in NAMES], "best_index": 1, "lowest_index": 1, "evidence_index": 1,
            "n_folds": 5}
    assert suggestion_text(meta).startswith("Suggested: preset 'correct', rank 2 (lowest CV error, 5-fold")
    assert suggestion_text(meta).endswith("The Laplace evidence agrees.")
    other = suggestion_text({**meta, "evidence_index": 0, "best_index": 2})
    assert "within one standard error" in other and "prefers current settings, rank 2" in other
    assert suggestion_text({**meta, "best_index": None}).startswith("No suggestion")


def test_noise_text_gives_the_value_and_where_it_came_from():
    meta = {"noise_var": 24.737, "gamma": 312.4, "n": 20000, "n_rounds": 2, "converged": True, "rank": 2}
    text = noise_text(meta, suggested=25.0)
    assert text.startswith("σ² ≈ 24.74 from the data (MacKay's RSS / (n − γ), γ = 312")
    assert "n = 20000" in text and "2 rounds" in text and "rank 2" in text and "suggests 25" in text
    assert "not converged" in noise_text({**meta, "converged": False})
