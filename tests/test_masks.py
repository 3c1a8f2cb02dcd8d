"""Tests of gppnmf_core.masks: the signal strength of each observation and the column mask built from it."""

from __future__ import annotations

import numpy as np
import pytest

import gppnmf_core as gp
from gppnmf_core.masks import included_observations, signal_strength


def _voxels():
    """Four columns: two with signal (one twice as strong), one noise-only, one negative."""
    rng = np.random.default_rng(0)
    spectrum = np.exp(-0.5 * ((np.arange(50) - 25) / 4.0) ** 2)
    X = np.column_stack([spectrum, 2 * spectrum, np.zeros(50), -spectrum]) + 0.01 * rng.standard_normal((50, 4))
    return X


def test_signal_strength_is_the_projection_on_the_mean_column():
    X = _voxels()
    mean = X.mean(axis=1)
    s = signal_strength(X)
    assert s.shape == (4,) and s.dtype == np.float64
    np.testing.assert_allclose(s, np.maximum(X.T @ mean / np.linalg.norm(mean), 0.0))
    assert s[1] == pytest.approx(2 * s[0], rel=0.05)
    assert s[2] < 0.05 * s[0] and s[3] == 0.0


def test_signal_strength_of_zero_data_is_zero():
    np.testing.assert_array_equal(signal_strength(np.zeros((3, 5))), np.zeros(5))


@pytest.mark.parametrize(("threshold", "kept"), [(0, [1, 1, 1, 1]), (None, [1, 1, 1, 1]), (40, [1, 1, 0, 0]),
                                                 (60, [0, 1, 0, 0]), (100, [0, 1, 0, 0]), (150, [0, 0, 0, 0])])
def test_included_observations(threshold, kept):
    mask = included_observations(_voxels(), threshold)
    assert mask.dtype == bool
    np.testing.assert_array_equal(mask, np.array(kept, bool))


def test_the_mask_goes_to_every_fit():
    X = np.abs(_voxels()) + 0.1
    keep = included_observations(X, 40)
    for fit in (gp.ls_nmf, gp.cnmf):
        assert fit(X, 1, max_iter=20, mask=keep, random_state=0).settings["masked"]


@pytest.mark.parametrize(("args", "match"), [((np.ones(4), 10), "X must be a 2-D"),
                                             ((np.ones((2, 2)), "ten"), "threshold_percent"),
                                             ((np.ones((2, 2)), -1), "threshold_percent"),
                                             ((np.ones((2, 2)), float("nan")), "threshold_percent"),
                                             ((np.array([[np.inf, 1.0]]), 5), "X contains")])
def test_bad_arguments_are_named(args, match):
    with pytest.raises(ValueError, match=match):
        included_observations(*args)


def test_exported_from_the_package():
    assert gp.signal_strength is signal_strength and gp.included_observations is included_observations
