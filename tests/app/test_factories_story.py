"""The factories step of the classroom tour tells the right story: with the page's defaults (the tour's data set
and preset, the Decompose panel's rank, iterations, tolerance and replicates) every method recovers the profiles
of factories 1 and 2 (correlation >= 0.99 with the truth), and factory 3 is not identifiable (another exact
nonnegative factorization mixes it with factory 2)."""

from __future__ import annotations

import numpy as np
import pytest

from components.jobs.compute import run_decomposition
from components.panels import decompose_panel, tour
from components.services.data_source import builtin_key, load_dataset
from components.views.specs import factor_axis, prior_from_ui, ui_from_prior
from components.views.theme import METHODS
from gppnmf_core.plotting.alignment import align_results

STEP = next(s for s in tour.STEPS if s.dataset == "factories")


def _page_default(component_id: str):
    """The value the Decompose panel's layout starts ``component_id`` with."""
    stack = [decompose_panel.layout()]
    while stack:
        node = stack.pop()
        if getattr(node, "id", None) == component_id:
            return node.value
        children = getattr(node, "children", None)
        stack.extend(children if isinstance(children, list) else [children] if children is not None else [])
    raise LookupError(component_id)


@pytest.fixture(scope="module")
def fitted():
    dataset = load_dataset(builtin_key(STEP.dataset))
    preset = dataset.presets[STEP.preset]
    prior_D, prior_H = (prior_from_ui(ui_from_prior(getattr(preset, f"prior_{f}")), factor_axis(dataset, f), f)
                        for f in ("D", "H"))
    assert _page_default("rank-input") == 2  # the layout's placeholder; suggest_rank sets the data set's rank
    rank, _ = decompose_panel.suggest_rank(builtin_key(STEP.dataset))
    settings = decompose_panel.settings_from_form(
        rank, list(METHODS), _page_default("iter-input"), _page_default("tol-input"),
        _page_default("replicates-input"), 0, preset.noise_var)
    results = run_decomposition(dataset, prior_D, prior_H, settings)
    return dataset, align_results(results, dataset)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_recovers_factories_1_and_2_with_the_tour_settings(fitted, method):
    dataset, factors = fitted
    D, _ = factors[method]
    for k in (0, 1):
        correlation = np.corrcoef(D[:, k], dataset.truth.D[:, k])[0, 1]
        assert correlation >= 0.99, f"{method}: factory {k + 1} correlation {correlation:.4f}"


def test_factory_3_is_not_identifiable():
    """Factory 3 minus half of factory 2, with factory 2's weights raised by half of factory 3's, is another
    exact nonnegative factorization of the same X: no method can tell the two apart from the data."""
    dataset = load_dataset(builtin_key(STEP.dataset))
    D, H = np.array(dataset.truth.D), np.array(dataset.truth.H)
    D2, H2 = D.copy(), H.copy()
    D2[:, 2] -= 0.5 * D[:, 1]
    H2[1] += 0.5 * H[2]
    assert np.all(D2 >= 0) and np.all(H2 >= 0)
    np.testing.assert_allclose(D2 @ H2, dataset.X, atol=1e-12)
    assert np.corrcoef(D2[:, 2], D[:, 2])[0, 1] < 0.99
    assert any("factory 3" in text and "identif" in text.lower() for text in STEP.text) or \
        "identifiab" in dataset.description
