"""What users take home: results as .npz or as CSV files in a .zip, prior settings as JSON.

Pure functions from stored results to bytes, and a strict parser for prior
settings coming back (a JSON file a user uploads is untrusted input).

A settings document (version 2) holds the core's prior spec of each factor
(:meth:`gppnmf_core.GPPrior.to_spec`), σ² and the units β was measured in; the
settings.json of downloaded results is the same document with the data set's
title and the job's settings added, so it loads as prior settings too (in the
page and in ``gppnmf fit --settings``). The one reader of the format is
:func:`gppnmf_core.cli.read_settings`; version 1 files, written by earlier
versions in the page's compact form, are converted there once.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile

import numpy as np

import gppnmf_core as gp
from components.views.specs import beta_unit, canonical_spec
from components.views.theme import METHOD_LABELS, RMSE_GROUPS
from gppnmf_core.cli import SETTINGS_FORMAT as PRIOR_FORMAT
from gppnmf_core.cli import SETTINGS_VERSION, read_settings

MAX_PRIOR_BYTES = 64 * 1024
#: Brackets a settings file nests at most ({"D": {...}} is 2); deeper files are refused before parsing.
MAX_PRIOR_DEPTH = 8


def settings_document(specs: dict, units: dict | None = None, **notes) -> dict:
    """A settings document of the priors ``{"D": spec, "H": spec, "noise_var": float}`` (more keys are ignored).

    ``units`` ({"D": "ppm", "H": "voxel"}) records what β was measured in, so that loading the file onto data with
    other units can say so; ``notes`` (``data``, ``job``) go in as they are.
    """
    doc = {"format": PRIOR_FORMAT, "version": SETTINGS_VERSION, "D": specs["D"], "H": specs["H"],
           "noise_var": specs["noise_var"], **notes}
    if units:
        doc["beta_units"] = units
    return doc


def prior_settings_json(specs: dict, units: dict | None = None) -> str:
    """The current prior settings as a JSON document that :func:`parse_prior_settings` reads back."""
    return json.dumps(settings_document(specs, units), indent=2, sort_keys=True)


def results_settings(settings: dict, dataset: gp.Dataset) -> dict:
    """A stored result's settings as its downloads write them: the settings document of the priors it was computed
    with, plus the data set's title and the job's settings (just those two where the run had no priors)."""
    notes = {key: settings[key] for key in ("data", "job") if key in settings}
    priors = settings.get("priors")
    if not isinstance(priors, dict) or not all(key in priors for key in ("D", "H", "noise_var")):
        return notes
    return settings_document(priors, {f: beta_unit(dataset, f) for f in ("D", "H")}, **notes)


def nesting_depth(data: bytes) -> int:
    """The deepest nesting of ``[`` and ``{`` in ``data``, counted without parsing (brackets in strings count too:
    a settings file has none, and counting them only errs towards refusing)."""
    depth = deepest = 0
    for byte in data:
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth = max(0, depth - 1)
    return deepest


def parse_prior_settings(data: bytes) -> dict:
    """Validate an uploaded settings file; returns {"D": spec, "H": spec, "noise_var": ..., "beta_units": ...}.

    The specs are canonical (:func:`components.views.specs.canonical_spec`). Raises ValueError with a message for
    the page when the file is too large, not JSON, not a settings file of this tool, or holds an invalid value
    (naming the field).
    """
    if len(data) > MAX_PRIOR_BYTES:
        raise ValueError(f"a settings file is a few hundred bytes; this one has {len(data):,}")
    depth = nesting_depth(data)
    if depth > MAX_PRIOR_DEPTH:
        raise ValueError(f"not a prior settings file: its JSON is nested {depth} levels deep (a settings file "
                         f"has {MAX_PRIOR_DEPTH} at most)")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a JSON file ({str(exc)[:120]})") from None
    except RecursionError:
        raise ValueError("not a prior settings file: its JSON is nested too deeply") from None
    settings = read_settings(doc)
    units = doc.get("beta_units", {})
    if not isinstance(units, dict) or not all(isinstance(units.get(f, ""), str) for f in ("D", "H")):
        raise ValueError("beta_units must map D and H to unit names")
    return {"D": canonical_spec(settings["D"], "D"), "H": canonical_spec(settings["H"], "H"),
            "noise_var": settings["noise_var"], "beta_units": {f: units[f][:40] for f in ("D", "H") if f in units}}


def _axis_values(where) -> np.ndarray:
    return where.values if isinstance(where, gp.Axis) else np.arange(where.size, dtype=float)


def _axis_name(where) -> str:
    if isinstance(where, gp.Axis):
        return f"{where.label} ({where.unit})" if where.unit and where.unit != where.label else where.label
    return "grid index (C order: " + " × ".join(map(str, where.shape)) + ")"


def results_npz(arrays: dict, meta: dict, dataset: gp.Dataset) -> bytes:
    """All results in one .npz: D_<method>, H_<method>, objective_<method>, axes, settings and metrics as JSON."""
    out = {"feature_axis": _axis_values(dataset.rows), "observation_axis": _axis_values(dataset.cols)}
    if isinstance(dataset.cols, gp.Grid):
        out["grid_shape"] = np.asarray(dataset.cols.shape)
    for method in meta["methods"]:
        out[f"D_{method}"] = arrays[f"{method}.D"]
        out[f"H_{method}"] = arrays[f"{method}.H"]
        out[f"objective_{method}"] = arrays[f"{method}.trace"]
    out["settings_json"] = np.asarray(json.dumps(results_settings(meta.get("settings", {}), dataset), sort_keys=True))
    out["metrics_json"] = np.asarray(json.dumps({"scores": meta["scores"], "fits": meta["fits"]}, sort_keys=True))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **out)
    return buffer.getvalue()


def _csv(header: list, rows) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue()


def results_zip(arrays: dict, meta: dict, dataset: gp.Dataset) -> bytes:
    """The results as CSV files (one D and one H per method, metrics, convergence) plus settings.json
    (:func:`results_settings`)."""
    rank = meta["rank"]
    components = [f"component_{m + 1}" for m in range(rank)]
    rows_axis, cols_axis = _axis_values(dataset.rows), _axis_values(dataset.cols)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", (
            "GPP-NMF Studio results: X (K x L) ~ D (K x M) H (M x L).\n"
            f"Rows of <method>_D.csv: {_axis_name(dataset.rows)}; columns: components.\n"
            f"Rows of <method>_H.csv: components; columns: {_axis_name(dataset.cols)}.\n"
            "Components are matched and scaled across methods (to the truth when it is known).\n"))
        archive.writestr("settings.json", json.dumps(results_settings(meta.get("settings", {}), dataset), indent=2,
                                                     sort_keys=True))
        metric_rows = [[METHOD_LABELS.get(m, m)] + [meta["scores"][m].get(g, "") for g in RMSE_GROUPS]
                       + [meta["fits"][m]["objective"], meta["fits"][m]["n_iter"], meta["fits"][m]["converged"],
                          meta["fits"][m]["runtime"]] for m in meta["methods"]]
        archive.writestr("metrics.csv", _csv(["method", *RMSE_GROUPS, "objective", "iterations", "converged",
                                              "runtime_s"], metric_rows))
        for method in meta["methods"]:
            D, H = arrays[f"{method}.D"], arrays[f"{method}.H"]
            archive.writestr(f"{method}_D.csv", _csv([_axis_name(dataset.rows), *components],
                                                    np.column_stack([rows_axis, D]).tolist()))
            archive.writestr(f"{method}_H.csv", _csv(["component", *[f"{v:g}" for v in cols_axis]],
                                                    [[c, *row] for c, row in zip(components, H.tolist(),
                                                                                  strict=True)]))
            trace = arrays[f"{method}.trace"]
            archive.writestr(f"{method}_objective.csv", _csv(["iteration", "objective"],
                                                            [[i, v] for i, v in enumerate(trace.tolist())]))
    return buffer.getvalue()
