"""Prior specs as the page holds them, and what its controls can show of them.

The page, the job request, stored results and the settings files all hold the
core's prior spec (:meth:`gppnmf_core.GPPrior.to_spec`), one per factor::

    {"kernel": {"name": "rbf", "beta": 10.0}, "link": {"name": "exponential", "lam": 1.0},
     "mirror_axis": None, "structure": "auto", "sqrt_method": "eig"}

β is in the units of the axis the factor lives on (ppm, hours, index) or in grid
steps (voxels, pixels). The prior designer's controls show part of a spec: one
kernel of :data:`KERNEL_OPTIONS` and its β, one link of :data:`LINK_OPTIONS`
and its parameter (the box named ``scale``), and mirror symmetry across grid
axis 0. :func:`controls_of` is what they show of a spec, :func:`spec_from_controls`
the spec they stand for, and :func:`unshown` what of a spec they cannot show
(a periodic kernel's period, per-axis kernels, a gamma link, ...): such a spec
is kept as it is, never replaced by the nearest one the controls can show.
"""

from __future__ import annotations

import math

import numpy as np

import gppnmf_core as gp

#: Factors and what they are called on the page.
FACTORS = {"D": "D: signals (columns)", "H": "H: amplitudes (rows)"}

KERNEL_OPTIONS = {
    "rbf": "RBF  exp(−d²/β²)",
    "matern52": "Matérn 5/2",
    "matern32": "Matérn 3/2",
    "exponential": "Exponential, Matérn ν = 1/2  exp(−d/β)",
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


#: What the controls show of a factor's prior: kernel name, β, link name, the link's parameter, mirror (axis 0).
CONTROL_FIELDS = ("kernel", "beta", "link", "scale", "mirror")


def canonical_spec(spec, factor: str) -> dict:
    """A factor's prior spec checked (:func:`gppnmf_core.priors.validate_prior_spec`) and written as the core
    writes it: every parameter and field present (a list of per-axis kernels stays a list).

    ValueError starting with the factor, e.g. ``"D: prior spec: kernel.beta must be a positive number, got -1"``.
    """
    try:
        gp.validate_prior_spec(spec)
    except ValueError as exc:
        text = str(exc)  # the core quotes the value whole: a forged one may be megabytes
        raise ValueError(f"{factor}: {text if len(text) <= 240 else text[:239] + '…'}") from None
    kernel = spec["kernel"]
    kernels = [gp.kernel_from_spec(k).to_spec() for k in (kernel if isinstance(kernel, list) else [kernel])]
    return {"kernel": kernels if isinstance(kernel, list) else kernels[0],
            "link": gp.link_from_spec(spec["link"]).to_spec(), "mirror_axis": spec.get("mirror_axis"),
            "structure": spec.get("structure", "auto"), "sqrt_method": spec.get("sqrt_method", "eig")}


def checked_prior_specs(specs) -> dict:
    """The prior specs the page keeps (``prior-specs``), checked field by field: the browser may send anything.

    Returns ``{"dataset": str, "D": spec, "H": spec, "noise_var": float}`` with canonical specs
    (:func:`canonical_spec`); ValueError with a message otherwise.
    """
    if not isinstance(specs, dict):
        raise ValueError(f"prior settings must be an object with dataset, D, H and noise_var, got {shown(specs)}")
    dataset = specs.get("dataset")
    if not isinstance(dataset, str):
        raise ValueError(f"prior settings name no data set (got {shown(dataset)})")
    return {"dataset": dataset, "D": canonical_spec(specs.get("D"), "D"), "H": canonical_spec(specs.get("H"), "H"),
            "noise_var": positive_number(specs.get("noise_var"), "noise variance σ²")}


def controls_of(spec: dict) -> dict:
    """What the controls show of a (valid) spec: the first axis's kernel and β, the link and its parameter,
    mirror across axis 0. Where a control cannot show a setting it shows the nearest it can: an RBF kernel with
    the same β for a periodic one, an exponential link of the same mean for a gamma link (see :func:`unshown`).
    """
    kernel = spec["kernel"][0] if isinstance(spec["kernel"], list) else spec["kernel"]
    kernel = gp.kernel_from_spec(kernel)
    link = gp.link_from_spec(spec["link"])
    if link.name in LINK_PARAM:
        link_name, param = link.name, link.params()[LINK_PARAM[link.name]]
    else:
        link_name, param = "exponential", 1.0 / link.mean()
    return {"kernel": kernel.name if kernel.name in KERNEL_OPTIONS else "rbf",
            "beta": float(kernel.params().get("beta", 1.0)), "link": link_name, "scale": float(param),
            "mirror": spec.get("mirror_axis") == 0}


def spec_from_controls(controls: dict) -> dict:
    """The (canonical) spec that controls showing ``controls`` (:data:`CONTROL_FIELDS`, numbers checked) stand for."""
    kernel = controls["kernel"]
    return {"kernel": {"name": kernel} if kernel == "white" else {"name": kernel, "beta": controls["beta"]},
            "link": {"name": controls["link"], LINK_PARAM[controls["link"]]: controls["scale"]},
            "mirror_axis": 0 if controls["mirror"] else None, "structure": "auto", "sqrt_method": "eig"}


def unshown(spec: dict) -> list[str]:
    """What of a canonical spec the controls cannot show (empty when they show all of it), in words."""
    near = spec_from_controls(controls_of(spec))
    found = [f"{field} {_setting_text(spec[field])}" for field in ("kernel", "link") if spec[field] != near[field]]
    found += [f"{field} {spec[field]}" for field in ("mirror_axis", "structure", "sqrt_method")
              if spec[field] != near[field]]
    return found


#: How parameters are written in words.
PARAM_SYMBOLS = {"beta": "β", "lam": "λ", "theta": "θ"}


def _setting_text(setting, what: str = "") -> str:
    """A kernel or link spec in words: "rbf β 0.3", or with ``what="kernel"`` "rbf kernel β 0.3".

    A list of kernel specs (one per grid axis) reads "per axis [rbf β 2 | periodic β 1 period 5]".
    """
    if isinstance(setting, list):
        return " ".join(part for part in (f"{what}s" if what else "", "per axis [" + " | ".join(
            _setting_text(s) for s in setting) + "]") if part)
    params = " ".join(f"{PARAM_SYMBOLS.get(k, k)} {v:g}" for k, v in setting.items()
                      if k != "name" and isinstance(v, (int, float)))
    return " ".join(part for part in (setting.get("name", "?"), what, params) if part)


def spec_text(spec) -> str:
    """A factor's prior spec in words, for provenance and history.

    E.g. "rbf kernel β 2, exponential link λ 0.0002, mirror axis 0": the words
    kernel and link keep an exponential kernel apart from an exponential link.
    """
    try:
        spec = canonical_spec(spec, "prior")
    except ValueError:
        return "(settings this version cannot read)"
    parts = [_setting_text(spec["kernel"], "kernel"), _setting_text(spec["link"], "link")]
    if spec["mirror_axis"] is not None:
        parts.append(f"mirror axis {spec['mirror_axis']}")
    parts += [spec[field] for field, default in (("structure", "auto"), ("sqrt_method", "eig"))
              if spec[field] != default]
    return ", ".join(parts)


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


def prior_for(spec: dict, where, factor: str) -> gp.GPPrior:
    """The core prior of a spec on the axis or grid ``where`` the factor lives on; errors name the factor."""
    try:
        if isinstance(where, gp.Grid):
            return gp.GPPrior.from_spec(spec, grid=where.shape)
        if isinstance(spec, dict) and spec.get("mirror_axis") is not None:
            raise ValueError("mirror symmetry needs a factor on a grid")
        return gp.GPPrior.from_spec(spec, coords=where.values)
    except (TypeError, KeyError) as exc:
        raise ValueError(f"prior for {factor}: incomplete setting ({exc})") from None
    except ValueError as exc:
        raise ValueError(f"prior for {factor}: {exc}") from None


def default_spec(dataset: gp.Dataset, factor: str) -> dict:
    """Settings to start from: the data set's first preset, else a smooth exponential prior."""
    if dataset.presets:
        preset = next(iter(dataset.presets.values()))
        return (preset.prior_D if factor == "D" else preset.prior_H).to_spec()
    where = factor_axis(dataset, factor)
    spacing = where.spacing if isinstance(where, gp.Axis) else 1.0
    typical = np.sqrt(max(mean_abs(dataset.X), 1e-12) / dataset.rank)
    return spec_from_controls({"kernel": "rbf", "beta": 5 * spacing, "link": "exponential", "scale": 1.0 / typical,
                               "mirror": False})


def ui_from_prior(prior: gp.GPPrior) -> dict:
    """Old name of ``prior.to_spec()``, kept for tests and benchmarks that still call it (issue 11)."""
    return prior.to_spec()


#: Old names, kept for tests and benchmarks that still call them (issue 11).
prior_from_ui, default_ui = prior_for, default_spec


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
