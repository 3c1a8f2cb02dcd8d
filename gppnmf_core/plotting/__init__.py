"""Figures of data, fits and priors, as plotly figures: the studio's own figure builders, for a notebook.

Needs plotly (``pip install gppnmf-studio[plot]``); ``import gppnmf_core`` never imports it, and neither does
this package until a figure is asked for (:mod:`~gppnmf_core.plotting.theme`, the colours and names, and
:mod:`~gppnmf_core.plotting.alignment`, fits matched and scored as the page shows them, are plain NumPy).

In a notebook, one call per figure, from a fit and its data set:

>>> import gppnmf_core as gp
>>> toy = gp.datasets.paper_toy(random_state=0)
>>> pD = gp.GPPrior(gp.RBF(beta=10.0), gp.RectifiedGaussianLink(s=1.0))
>>> pH = gp.GPPrior(gp.RBF(beta=10.0), gp.ExponentialLink(lam=1.0))
>>> res = gp.fit_gppnmf(toy.X, rank=2, prior_D=pD, prior_H=pH, noise_var=25.0, random_state=0)
>>> fig = gp.plotting.plot_factors(res, toy)        # the signals D, the truth dashed
>>> fig = gp.plotting.plot_maps(res, toy)           # the amplitudes H (maps on a grid)
>>> fig = gp.plotting.plot_factorization(res, toy)  # X ≈ D × H
>>> fig = gp.plotting.plot_rmse({"gppnmf": res, "cnmf": gp.cnmf(toy.X, 2, random_state=0)}, toy)

:func:`plot_data`, :func:`plot_convergence`, :func:`plot_bands` (a
:class:`~gppnmf_core.Posterior`), :func:`plot_prior_check` (priors before a fit) and
:func:`plot_model_selection` (a :class:`~gppnmf_core.ModelSelection`) complete the set. The builders
underneath take arrays and an :class:`~gppnmf_core.Axis` or :class:`~gppnmf_core.Grid`:
:func:`factor_figure` (lines on an axis, image tiles and slices on a grid, orientation labels, shared colour
scales), :func:`matrix_heatmap`, :func:`factorization_figure`, :func:`prior_check_figure`,
:func:`rmse_figure`, :func:`band_figure`, ...
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

#: Public names by the submodule that defines them; each is imported (with plotly) on first use.
_EXPORTS = {
    "notebook": ("factorization_view", "plot_bands", "plot_convergence", "plot_data", "plot_factorization",
                 "plot_factors", "plot_maps", "plot_model_selection", "plot_prior_check", "plot_rmse"),
    "alignment": ("align_results", "component_names", "score_results"),
    "factors": ("data_heatmap", "direction_letters", "factor_figure", "histogram_figure", "inspector_figure",
                "matrix_heatmap", "nucleus_of", "orientation_labels", "peak_labels", "shared_zranges"),
    "model": ("factorization_caption", "factorization_figure", "prior_check_figure", "teaching_columns"),
    "scores": ("rmse_figure", "trace_figure"),
    "uncertainty": ("band_figure", "cv_figure", "diagnostics_summary", "relative_width", "uncertainty_map_figure"),
    "_common": ("axis_title", "described", "figure_summary"),
}
_SUBMODULES = ("alignment", "factors", "model", "notebook", "scores", "theme", "uncertainty")
_LAZY = {name: (module, name) for module, names in _EXPORTS.items() for name in names}
_LAZY.update({module: (module, None) for module in _SUBMODULES})

if TYPE_CHECKING:
    from . import alignment, factors, model, notebook, scores, theme, uncertainty  # noqa: F401
    from ._common import axis_title, described, figure_summary  # noqa: F401
    from .alignment import align_results, component_names, score_results  # noqa: F401
    from .factors import (  # noqa: F401
        data_heatmap,
        direction_letters,
        factor_figure,
        histogram_figure,
        inspector_figure,
        matrix_heatmap,
        nucleus_of,
        orientation_labels,
        peak_labels,
        shared_zranges,
    )
    from .model import factorization_caption, factorization_figure, prior_check_figure, teaching_columns  # noqa: F401
    from .notebook import (  # noqa: F401
        factorization_view,
        plot_bands,
        plot_convergence,
        plot_data,
        plot_factorization,
        plot_factors,
        plot_maps,
        plot_model_selection,
        plot_prior_check,
        plot_rmse,
    )
    from .scores import rmse_figure, trace_figure  # noqa: F401
    from .uncertainty import (  # noqa: F401
        band_figure,
        cv_figure,
        diagnostics_summary,
        relative_width,
        uncertainty_map_figure,
    )


def _plotly_missing() -> ImportError:
    return ImportError("gppnmf_core.plotting needs plotly: pip install 'gppnmf-studio[plot]' (or pip install plotly)")


def __getattr__(name: str):
    """Import a figure builder (and plotly) on first use (PEP 562) and keep it in the module."""
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    try:
        module = importlib.import_module(f"{__name__}.{module_name}")
    except ImportError as exc:
        if exc.name is not None and exc.name.split(".")[0] == "plotly":
            raise _plotly_missing() from exc
        raise
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = sorted(_LAZY)
