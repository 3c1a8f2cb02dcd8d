"""Fits put side by side as the page shows them: components in one order and on one scale, scored by the
paper's RMSE groups, named after the truth's components. Plain NumPy (no plotly), so the app's jobs use it too.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..dataset import Dataset
from ..results import FitResult


def component_names(dataset: Dataset, rank: int) -> list[str]:
    """The truth's names of the components when the truth has this rank, else "component 1", ..."""
    truth = dataset.truth
    if truth is not None and truth.D.shape[1] == rank and truth.names:
        return list(truth.names)
    return [f"component {m + 1}" for m in range(rank)]


def _results(results) -> dict[str, FitResult]:
    """Results by method name: one FitResult, a mapping name → FitResult, or a sequence of FitResults."""
    if isinstance(results, FitResult):
        return {results.method: results}
    if isinstance(results, Mapping):
        out = dict(results)
    else:
        out = {}
        for r in results:
            if r.method in out:
                raise ValueError(f"two results of method {r.method!r}: pass a mapping name → result instead")
            out[r.method] = r
    if not out or not all(isinstance(r, FitResult) for r in out.values()):
        raise TypeError("results must be a FitResult, a mapping of names to FitResults or a sequence of them")
    return out


def align_results(results, dataset: Dataset) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each result's (D, H) with components in one order and on one scale, as the page shows them.

    Parameters
    ----------
    results : FitResult, mapping of str to FitResult, or sequence of FitResult
        A sequence is keyed by each result's ``method``.
    dataset : Dataset

    Returns
    -------
    dict of str to (ndarray of shape (K, M), ndarray of shape (M, L))
        With a truth of the same rank every result is matched and scaled to it
        (:func:`gppnmf_core.align_to_truth`); otherwise to the first result,
        after scaling that one to unit-maximum columns
        (:func:`gppnmf_core.normalize_for_display`).
    """
    from ..metrics import align_to_truth, normalize_for_display

    results = _results(results)
    first = next(iter(results.values()))
    if dataset.truth is not None and dataset.truth.D.shape[1] == first.rank:
        reference = dataset.truth.D
    else:
        reference = normalize_for_display(first.D, first.H)[0]
    return {name: align_to_truth(r.D, r.H, reference) for name, r in results.items()}


def score_results(results, dataset: Dataset) -> dict[str, dict[str, float]]:
    """The paper's RMSE groups (:func:`gppnmf_core.evaluate`) of each result, after :func:`align_results`;
    against the data only when the truth is not known (or has another rank)."""
    from ..metrics import evaluate

    truth = dataset.truth
    out = {}
    for name, (D, H) in align_results(results, dataset).items():
        if truth is not None and truth.D.shape[1] == D.shape[1]:
            out[name] = evaluate(D, H, dataset.X, truth.X0, truth.D, truth.H)
        else:
            out[name] = evaluate(D, H, dataset.X)
    return out
