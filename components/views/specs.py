"""Prior settings as the UI holds them, and their translation to core priors.

A UI spec for one factor is a small JSON-able dict::

    {"kernel": "rbf", "beta": 10.0, "link": "exponential", "scale": 1.0, "mirror": False}

``scale`` is the link's parameter: the rate λ of the exponential link or the
scale s of the rectified-Gaussian link. ``beta`` is in the units of the axis the
factor lives on (ppm, hours, index) or in grid steps (voxels, pixels).
"""

from __future__ import annotations

import json
import math

import numpy as np

import gppnmf_core as gp

#: Factors and what they are called on the page.
FACTORS = {"D": "D: signals (columns)", "H": "H: amplitudes (rows)"}

KERNEL_OPTIONS = {
    "rbf": "RBF  exp(−d²/β²)",
    "matern52": "Matérn 5/2",
    "matern32": "Matérn 3/2",
    "exponential": "Exponential  exp(−d/β)",
    "white": "White (independent points)",
}
LINK_OPTIONS = {"exponential": "Exponential (rate λ)", "rectified_gaussian": "Rectified Gaussian (scale s)"}
LINK_PARAM = {"exponential": "lam", "rectified_gaussian": "s"}


def shown(value, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages about values the browser sent."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def typed_number(value, name: str) -> float:
    """A number typed in a box: ``2``, ``0.3``, ``1e8``, or ``1,5`` with a decimal comma; ValueError naming ``name``.

    A comma is read as the decimal mark only when it is the one separator in the text (``1,5`` is 1.5);
    ``1,500.5`` or ``1,5,3`` are refused rather than guessed, so nothing is silently read as another number.
    """
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {shown(value)}")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name}: type a number" if value in (None, "") else
                         f"{name} must be a number, got {shown(value)}")
    text = value.strip().replace("\u2212", "-").replace(" ", "")
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name}: {shown(value)} is not a number (write e.g. 0.3, 1.5 or 1e8)") from None


def positive_number(value, name: str) -> float:
    """``value`` as a float when it is a finite number > 0; ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {shown(value)}")
    return float(value)


def typed_positive(value, name: str) -> float:
    """What a person typed in a box (see :func:`typed_number`) as a finite float > 0; ValueError naming ``name``."""
    number = typed_number(value, name)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a positive number, got {shown(value)}")
    return number


def checked_factor_ui(spec, factor: str) -> dict:
    """A factor's UI spec with every field checked: known kernel and link, positive β and scale, a bool mirror."""
    if not isinstance(spec, dict):
        raise ValueError(f"{factor}: expected an object with kernel, beta, link, scale and mirror")
    kernel, link = spec.get("kernel"), spec.get("link")
    if not isinstance(kernel, str) or kernel not in KERNEL_OPTIONS:
        raise ValueError(f"{factor}.kernel must be one of {sorted(KERNEL_OPTIONS)}, got {shown(kernel)}")
    if not isinstance(link, str) or link not in LINK_OPTIONS:
        raise ValueError(f"{factor}.link must be one of {sorted(LINK_OPTIONS)}, got {shown(link)}")
    mirror = spec.get("mirror", False)
    if not isinstance(mirror, bool):
        raise ValueError(f"{factor}.mirror must be true or false, got {shown(mirror)}")
    return {"kernel": kernel, "beta": positive_number(spec.get("beta"), f"{factor}.beta"), "link": link,
            "scale": positive_number(spec.get("scale"), f"{factor}.scale"), "mirror": mirror}


def checked_prior_specs(specs) -> dict:
    """The prior specs the page keeps (``prior-specs``), checked field by field: the browser may send anything.

    Returns ``{"dataset": str, "D": ui, "H": ui, "noise_var": float}``; ValueError with a message otherwise.
    """
    if not isinstance(specs, dict):
        raise ValueError(f"prior settings must be an object with dataset, D, H and noise_var, got {shown(specs)}")
    dataset = specs.get("dataset")
    if not isinstance(dataset, str):
        raise ValueError(f"prior settings name no data set (got {shown(dataset)})")
    return {"dataset": dataset, "D": checked_factor_ui(specs.get("D"), "D"),
            "H": checked_factor_ui(specs.get("H"), "H"),
            "noise_var": positive_number(specs.get("noise_var"), "noise variance σ²")}


def row_bands(X: np.ndarray, max_entries: int = 2**20):
    """``X`` in bands of whole rows of at most about ``max_entries`` values: no temporary as large as ``X``."""
    step = max(1, max_entries // max(1, X.shape[1]))
    for start in range(0, X.shape[0], step):
        yield X[start: start + step]


def mean_abs(X: np.ndarray) -> float:
    """Mean of ``|X|``, computed band by band."""
    return sum(float(np.abs(band).sum()) for band in row_bands(X)) / max(1, X.size)


def variance(X: np.ndarray) -> float:
    """Variance of every entry of ``X`` (two passes, band by band)."""
    mean = sum(float(band.sum()) for band in row_bands(X)) / max(1, X.size)
    return sum(float(np.square(band - mean).sum()) for band in row_bands(X)) / max(1, X.size)


def factor_axis(dataset: gp.Dataset, factor: str):
    """Where a factor lives: the rows of X for D, the columns for H."""
    return dataset.rows if factor == "D" else dataset.cols


def beta_unit(dataset: gp.Dataset, factor: str) -> str:
    where = factor_axis(dataset, factor)
    return where.unit or "index steps"


def ui_from_prior(prior: gp.GPPrior) -> dict:
    """The UI spec of a core prior (first kernel's β; the link's one parameter)."""
    kernel = prior.kernels[0]
    link_spec = prior.link.to_spec()
    name = link_spec.pop("name")
    return {
        "kernel": kernel.name,
        "beta": getattr(kernel, "beta", 1.0),
        "link": name,
        "scale": float(next(iter(link_spec.values()))),
        "mirror": prior.mirror_axis is not None,
    }


def prior_from_ui(ui: dict, where, factor: str) -> gp.GPPrior:
    """Build the core prior for a UI spec; errors name the factor and the setting."""
    try:
        kernel_spec = {"name": ui["kernel"]} if ui["kernel"] == "white" else {"name": ui["kernel"], "beta": ui["beta"]}
        kernel = gp.kernel_from_spec(kernel_spec)
        link = gp.link_from_spec({"name": ui["link"], LINK_PARAM.get(ui["link"], "scale"): ui["scale"]})
        if isinstance(where, gp.Grid):
            return gp.GPPrior(kernel, link, grid=where.shape, mirror_axis=0 if ui.get("mirror") else None)
        if ui.get("mirror"):
            raise ValueError("mirror symmetry needs a factor on a grid")
        return gp.GPPrior(kernel, link, coords=where.values)
    except (TypeError, KeyError) as exc:
        raise ValueError(f"prior for {factor}: incomplete setting ({exc})") from None
    except ValueError as exc:
        raise ValueError(f"prior for {factor}: {exc}") from None


def ui_key(ui: dict) -> str:
    """A canonical string of a UI spec, for cache keys."""
    return json.dumps(ui, sort_keys=True)


def default_ui(dataset: gp.Dataset, factor: str) -> dict:
    """Settings to start from: the data set's first preset, else a smooth exponential prior."""
    if dataset.presets:
        preset = next(iter(dataset.presets.values()))
        return ui_from_prior(preset.prior_D if factor == "D" else preset.prior_H)
    where = factor_axis(dataset, factor)
    spacing = where.spacing if isinstance(where, gp.Axis) else 1.0
    typical = np.sqrt(max(mean_abs(dataset.X), 1e-12) / dataset.rank)
    return {"kernel": "rbf", "beta": 5 * spacing, "link": "exponential", "scale": 1.0 / typical, "mirror": False}


def log_range(center: float, decades: float = 3.0) -> tuple[float, float]:
    """Slider bounds in log10 units, ``decades`` either side of ``center``."""
    c = float(np.log10(center))
    return float(np.floor(c - decades)), float(np.ceil(c + decades))


def beta_range(dataset: gp.Dataset, factor: str) -> tuple[float, float]:
    """log10 bounds for β: from a fraction of the point spacing to beyond the extent."""
    where = factor_axis(dataset, factor)
    if isinstance(where, gp.Axis):
        extent = float(np.ptp(where.values)) or 1.0
        return float(np.floor(np.log10(where.spacing / 4))), float(np.ceil(np.log10(extent * 2)))
    return -1.0, float(np.ceil(np.log10(2 * max(where.shape))))


def noise_range(dataset: gp.Dataset) -> tuple[float, float]:
    """log10 bounds for the noise variance around the data's variance."""
    return log_range(max(variance(dataset.X), 1e-12), decades=4.0)
