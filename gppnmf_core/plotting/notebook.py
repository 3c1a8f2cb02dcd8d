"""Figures from a fit and its data set in one call, as the studio's page draws them.

Each ``plot_*`` function takes what a notebook has at hand (a :class:`~gppnmf_core.FitResult`, a
:class:`~gppnmf_core.Dataset`, a :class:`~gppnmf_core.Posterior`, a :class:`~gppnmf_core.ModelSelection`) and
returns a :class:`plotly.graph_objects.Figure`; the builders they call (:func:`factor_figure`,
:func:`factorization_figure`, ...) are the page's own, so a notebook's figure and the page's are one figure.

>>> import gppnmf_core as gp
>>> toy = gp.datasets.paper_toy(random_state=0)
>>> res = gp.cnmf(toy.X, 2, random_state=0)
>>> gp.plotting.plot_factors(res, toy).data[0].name
'component 1'
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go

from ..dataset import Axis, Dataset, Grid
from ..results import FitResult
from .alignment import _results, align_results, component_names, score_results
from .factors import data_heatmap, factor_figure, nucleus_of, shared_zranges
from .model import factorization_caption, factorization_figure, prior_check_figure, teaching_columns
from .scores import rmse_figure, trace_figure
from .theme import METHOD_LABELS
from .uncertainty import band_figure, cv_figure, uncertainty_map_figure

#: The quantiles :func:`plot_bands` draws: the median and the 90 % band.
BAND_QUANTILES = (0.05, 0.5, 0.95)


def _label(name: str) -> str:
    return METHOD_LABELS.get(name, name)


def _one(result, dataset: Dataset, share_with=()) -> tuple[str, np.ndarray, np.ndarray, list]:
    """(name, aligned D, aligned H, the other results' aligned H) of a single result."""
    results = _results(result)
    if len(results) != 1:
        raise ValueError(f"give one result, got {len(results)} (draw each, or use share_with for the colour scale)")
    others = _results(share_with) if share_with else {}
    (name, _), = results.items()
    aligned = align_results({**results, **{f"_other{i}": r for i, r in enumerate(others.values())}}, dataset)
    D, H = aligned.pop(name)
    return name, D, H, [h for _, h in aligned.values()]


def _truth(dataset: Dataset, rank: int):
    truth = dataset.truth
    return truth if truth is not None and truth.D.shape[1] == rank else None


def plot_data(dataset: Dataset) -> go.Figure:
    """The data matrix X as a heat map (features down, observations across), as the page's Data panel.

    Parameters
    ----------
    dataset : Dataset

    Returns
    -------
    plotly.graph_objects.Figure
        One heat map (block means beyond 400 × 800 cells, the title says so); a
        single spectrum is drawn as a line.
    """
    return data_heatmap(dataset)


def plot_factors(result: FitResult, dataset: Dataset, *, height: int = 300) -> go.Figure:
    """The signals D of a fit (columns of D) against the data's feature axis, the truth dashed when known.

    Parameters
    ----------
    result : FitResult
        From :func:`gppnmf_core.fit_gppnmf`, :func:`gppnmf_core.cnmf` or :func:`gppnmf_core.ls_nmf`.
    dataset : Dataset
        The data the result was fitted to; its ``rows`` say where D lives.
    height : int, default 300
        In pixels.

    Returns
    -------
    plotly.graph_objects.Figure
        One line per component (named after the truth's components when
        known), in the component colours; on a ppm axis drawn high to low with
        the usual peaks of the nucleus labelled. Components are matched and
        scaled to the truth (or normalised) as in :func:`align_results`.

    See Also
    --------
    plot_maps : the amplitudes H.
    factor_figure : the builder, for any array of factors.
    """
    name, D, _, _ = _one(result, dataset)
    truth = _truth(dataset, D.shape[1])
    return factor_figure(D.T, dataset.rows, title=f"{_label(name)} · D, signals",
                         names=component_names(dataset, D.shape[1]), truth=None if truth is None else truth.D.T,
                         height=height, nucleus=nucleus_of(dataset))


def plot_maps(result: FitResult, dataset: Dataset, *, slice_index: int | None = None, share_with=(),
              height: int | None = None) -> go.Figure:
    """The amplitudes H of a fit (rows of H) where the observations live: maps on a grid, lines on an axis.

    Parameters
    ----------
    result : FitResult
    dataset : Dataset
        Its ``cols`` say where H lives: a 2-D grid gives one image per
        component, a 3-D grid every slice (or the slice ``slice_index``), an
        axis lines.
    slice_index : int, optional
        On a 3-D grid, draw only this slice (0-based) of each component, with
        the truth's under it when known.
    share_with : FitResult, mapping or sequence of FitResult, optional
        Other results whose maps share the colour scale of each component
        (with the truth's), as the page's methods do.
    height : int, optional
        In pixels; by default 260, or 400 for maps with the truth's under them.

    Returns
    -------
    plotly.graph_objects.Figure
        Images carry orientation labels (L/R, A/P, I/S when the grid's axis
        names spell them, the axis names otherwise).
    """
    name, _, H, others = _one(result, dataset, share_with)
    truth = _truth(dataset, H.shape[0])
    on_axis = isinstance(dataset.cols, Axis)
    zranges = None
    if isinstance(dataset.cols, Grid) and dataset.cols.ndim in (2, 3):
        zranges = shared_zranges(H, *others, None if truth is None else truth.H)
    if height is None:
        height = 260 if truth is None or on_axis else 400
    return factor_figure(H, dataset.cols, title=f"{_label(name)} · H, amplitudes",
                         names=component_names(dataset, H.shape[0]), truth=None if truth is None else truth.H,
                         zranges=zranges, slice_index=slice_index, value_label="amplitude" if on_axis else "value",
                         height=height)


def factorization_view(dataset: Dataset, D: np.ndarray, H: np.ndarray, *, label: str,
                       slice_index: int | None = None) -> tuple[go.Figure, str]:
    """The X ≈ D × H picture of factors ``D`` (K, M) and ``H`` (M, L) of ``dataset``, and its caption.

    At most :data:`~gppnmf_core.plotting.model.TEACHING_COLUMNS` observations
    are shown (those of slice ``slice_index`` on a 3-D grid; see
    :func:`teaching_columns`); ``label`` names the method in the title and caption.
    """
    D, H = np.asarray(D), np.asarray(H)
    cols = dataset.cols
    chosen, note = teaching_columns(cols, slice_index if isinstance(cols, Grid) and cols.ndim == 3 else None)
    X, Hs = np.asarray(dataset.X)[:, chosen], H[:, chosen]
    if chosen.size < cols.size:
        cols = (Axis(np.asarray(cols.values)[chosen], label=cols.label, unit=cols.unit)
                if isinstance(cols, Axis) else Axis(chosen + 1.0, label="observation", unit=""))
    elif isinstance(cols, Grid):
        cols = Axis(np.arange(1.0, cols.size + 1), label=f"{cols.unit} (grid flattened)", unit="")
    names = component_names(dataset, D.shape[1])
    figure = factorization_figure(X, D, Hs, dataset.rows, cols, title=f"X ≈ D × H from {label}'s result",
                                  names=names, column_note=note)
    residual = X - D @ Hs
    rmse = float(np.sqrt(np.nanmean(residual * residual))) if residual.size else None
    return figure, factorization_caption(dataset, label, names, chosen.size, note, rmse)


def plot_factorization(result: FitResult, dataset: Dataset, *, slice_index: int | None = None) -> go.Figure:
    """The model drawn: X ≈ D × H as three heat maps (data, signals, weights) from a fit.

    Parameters
    ----------
    result : FitResult
    dataset : Dataset
    slice_index : int, optional
        On a 3-D grid, the slice whose voxels are shown (otherwise the first
        100 observations when there are more).

    Returns
    -------
    plotly.graph_objects.Figure
        Traces "X", "D", "H"; the caption the page prints under it (sizes,
        which observations are shown, the fit's RMSE) is in
        ``fig.layout.meta["caption"]``.
    """
    name, D, H, _ = _one(result, dataset)
    figure, caption = factorization_view(dataset, D, H, label=_label(name), slice_index=slice_index)
    figure.layout.meta["caption"] = caption
    return figure


def plot_rmse(scores, dataset: Dataset | None = None, *, noise_var: float | None = None,
              height: int = 300) -> go.Figure:
    """The paper's Figure 3: RMSE against the noisy data, the noise-free data and the true factors, per method.

    Parameters
    ----------
    scores : mapping of str to dict, or results
        Method name → :func:`gppnmf_core.evaluate` output; or, with
        ``dataset``, the results themselves (a FitResult, a mapping name →
        FitResult or a sequence of them), scored by :func:`score_results`.
    dataset : Dataset, optional
        Needed when ``scores`` are results; its ``noise_var`` is then the
        default ``noise_var``.
    noise_var : float, optional
        σ²: a dashed line at the noise level σ over the "vs noisy data" group
        (what a perfect model reaches there).
    height : int, default 300

    Returns
    -------
    plotly.graph_objects.Figure
        One bar set per method, in the method's colour, values printed.
    """
    if dataset is not None:
        scores = score_results(scores, dataset)
        noise_var = dataset.noise_var if noise_var is None else noise_var
    elif isinstance(scores, FitResult) or (isinstance(scores, Mapping) and any(
            isinstance(v, FitResult) for v in scores.values())):
        raise TypeError("to plot results rather than scores, give the dataset too: plot_rmse(results, dataset)")
    return rmse_figure(dict(scores), height=height, noise_var=noise_var)


def plot_convergence(result: FitResult, *, height: int = 240) -> go.Figure:
    """The objective against iteration of a fit (log scale while it stays positive)."""
    return trace_figure(result.objective_trace, result.method, height=height)


def plot_bands(posterior, dataset: Dataset, factor: str = "D", *, slice_index: int | None = None,
               reference: np.ndarray | None = None, height: int | None = None) -> go.Figure:
    """Posterior medians with 90 % bands (:func:`gppnmf_core.sample_posterior`), as the page's "How sure?".

    Parameters
    ----------
    posterior : Posterior
    dataset : Dataset
        The data sampled from.
    factor : {"D", "H"}
        ``"D"``: the unit-norm signals with their bands on the feature axis;
        ``"H"``: on a grid the band width relative to the median, mapped; on an
        axis the amplitudes with their bands.
    slice_index : int, optional
        On a 3-D grid, the slice drawn.
    reference : ndarray of shape (K, M), optional
        Signals to put the components in the order of (a fit's D); by default
        the truth's, when known with this rank.
    height : int, optional

    Returns
    -------
    plotly.graph_objects.Figure
    """
    from ..metrics import match_components

    if factor not in ("D", "H"):
        raise ValueError(f"factor must be 'D' or 'H', got {factor!r}")
    rank = posterior.rank
    if reference is None and _truth(dataset, rank) is not None:
        reference = dataset.truth.D
    order = (np.asarray(match_components(posterior.D_map, reference)) if reference is not None
             and np.shape(reference) == posterior.D_map.shape else np.arange(rank))
    names = component_names(dataset, rank)
    if factor == "D":
        Q = posterior.quantiles("D", BAND_QUANTILES)[:, :, order]
        return band_figure(Q.transpose(0, 2, 1), dataset.rows, names=names, value_label="unit-norm signal",
                           title="GPP-NMF · D, signals with 90 % bands (unit norm)", height=height or 300)
    Q = posterior.quantiles("H", BAND_QUANTILES)[:, order, :]
    return uncertainty_map_figure(Q, dataset.cols, names=names, slice_index=slice_index, height=height or 260)


def plot_prior_check(dataset: Dataset, prior_D, prior_H, *, rank: int | None = None, noise_var: float | None = None,
                     random_state=0, height: int = 320) -> go.Figure:
    """The data X beside data simulated from the priors (D × H + noise), on one colour scale.

    A wrong scale, length scale or sparsity of the priors shows at a glance,
    before any fit.

    Parameters
    ----------
    dataset : Dataset
    prior_D, prior_H : GPPrior
        The priors of the signals (over the K features) and the amplitudes
        (over the L observations).
    rank : int, optional
        Components drawn; the data set's suggested ``rank`` by default.
    noise_var : float, optional
        σ² of the simulated noise; the data set's ``noise_var`` by default.
    random_state : None, int or numpy.random.Generator, default 0
    height : int, default 320

    Returns
    -------
    plotly.graph_objects.Figure
        Traces "X (the data)" and "simulated from the prior".
    """
    from .._validation import check_random_state

    rank = dataset.rank if rank is None else int(rank)
    noise_var = dataset.noise_var if noise_var is None else float(noise_var)
    rng = check_random_state(random_state)
    K, L = dataset.X.shape
    D = prior_D.sample(rank, size=K, random_state=rng).T
    H = prior_H.sample(rank, size=L, random_state=rng)
    simulated = D @ H + np.sqrt(noise_var) * rng.standard_normal((K, L))
    return prior_check_figure(dataset.X, simulated, dataset.rows, dataset.cols, height=height,
                              title=f"Prior check: the data X beside D H + noise from the prior (rank {rank})")


def plot_model_selection(selection, *, height: int | None = None) -> go.Figure:
    """A model choice (:func:`gppnmf_core.select_model`): paired CV differences ± SE and the log evidence per
    candidate, the chosen one marked."""
    names = [c.get("name") or f"rank {c.get('rank', row['rank'])}"
             for c, row in zip(selection.candidates, selection.table, strict=True)]
    return cv_figure(selection.table, names, selection.best_index, selection.evidence_index, height=height)
