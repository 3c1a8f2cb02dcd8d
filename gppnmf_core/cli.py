"""The ``gppnmf`` command: read files, fit them, fit many at once, serve the app.

::

    gppnmf read FILE                                   what the reader sees: shape, axes, description
    gppnmf fit FILE... --settings S.json --out DIR     fit each file; results in DIR/<file stem>/
    gppnmf batch FILE... --out DIR --jobs N            the same, N files at a time in local processes
    gppnmf serve                                       start the dashboard (from a repository checkout)

Also ``python -m gppnmf_core ...``. Files are read as the app reads uploads,
by :func:`gppnmf_core.io.read_dataset_isolated` (a separate process with memory
and time limits), so a malformed file costs one line of error, not the run.

Per file, ``fit`` writes ``results.npz`` (``D_<method>`` of shape (K, M),
``H_<method>`` (M, L), ``objective_<method>``, the axes, and the settings,
read options and outcome of every fit as JSON), ``<method>_D.csv``,
``<method>_H.csv`` and ``summary.json``, and prints one progress line.
The exit status is 0 when every file was fitted, 1 when any failed, 2 for a
usage error.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

#: The ``format`` of a prior settings file as the app saves it ("Save settings").
SETTINGS_FORMAT = "gppnmf-studio-prior"
METHODS = ("gppnmf", "cnmf", "ls_nmf")
#: The link parameter of each link in the app's compact settings (``"scale"`` in its files).
_LINK_PARAMETER = {"exponential": "lam", "rectified_gaussian": "s"}


class UsageError(Exception):
    """A problem with the command line or a settings file (exit status 2)."""


# --------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------


def load_settings(path) -> dict:
    """Read a prior settings file: ``{"D": spec, "H": spec, "noise_var": float}``.

    The file is a JSON object with ``"format": "gppnmf-studio-prior"``,
    ``"version": 1``, the priors ``D`` and ``H`` and ``noise_var``. A prior is a
    core spec (:meth:`gppnmf_core.GPPrior.to_spec`: ``{"kernel": {...}, "link":
    {...}, "mirror_axis": ...}``) or the app's compact form (``{"kernel": "rbf",
    "beta": 10, "link": "exponential", "scale": 1, "mirror": false}``).

    Raises
    ------
    UsageError
        Naming the file and the field that is wrong.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"--settings {path}: cannot read a JSON file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != SETTINGS_FORMAT:
        raise UsageError(f"--settings {path}: not a prior settings file (expected \"format\": \"{SETTINGS_FORMAT}\", "
                         "as the app's 'Save settings' writes)")
    if doc.get("version") != 1:
        raise UsageError(f"--settings {path}: unsupported version {doc.get('version')!r} (this gppnmf reads 1)")
    settings = {}
    for factor in ("D", "H"):
        spec = doc.get(factor)
        if not isinstance(spec, dict):
            raise UsageError(f"--settings {path}: field {factor!r} must be a prior (an object), got {spec!r}")
        settings[factor] = _core_spec(spec, f"--settings {path}: {factor}")
    noise_var = doc.get("noise_var")
    if isinstance(noise_var, bool) or not isinstance(noise_var, (int, float)) or not np.isfinite(noise_var) \
            or noise_var <= 0:
        raise UsageError(f"--settings {path}: noise_var must be a positive number, got {noise_var!r}")
    settings["noise_var"] = float(noise_var)
    return settings


def _core_spec(spec: dict, where: str) -> dict:
    """A prior spec in the core's form (:meth:`GPPrior.to_spec`), from either form a settings file holds."""
    if isinstance(spec.get("link"), dict):
        return spec
    try:
        kernel, link = spec["kernel"], spec["link"]
        kernel_spec = {"name": kernel} if kernel == "white" else {"name": kernel, "beta": spec["beta"]}
        return {"kernel": kernel_spec, "link": {"name": link, _LINK_PARAMETER.get(link, "scale"): spec["scale"]},
                "mirror_axis": 0 if spec.get("mirror") else None}
    except (KeyError, TypeError) as exc:
        raise UsageError(f"{where}: incomplete prior, missing {exc}") from None


def _prior(spec: dict, where, factor: str):
    """The core prior of ``spec`` on the axis or grid ``where`` the factor lives on."""
    from . import GPPrior, Grid

    try:
        if isinstance(where, Grid):
            return GPPrior.from_spec(spec, grid=where.shape)
        if spec.get("mirror_axis") is not None:
            raise ValueError("mirror symmetry needs a factor on a grid")
        return GPPrior.from_spec(spec, coords=where.values)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"prior for {factor}: {exc}") from None


def load_read_options(path):
    """``ReadOptions`` from a JSON object of its fields (``None``: the defaults)."""
    from .io import ReadOptions

    if path is None:
        return ReadOptions()
    try:
        fields = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"--read-options {path}: cannot read a JSON file ({exc})") from None
    if not isinstance(fields, dict):
        raise UsageError(f"--read-options {path}: expected a JSON object of ReadOptions fields")
    for key in ("grid_shape", "ppm_range"):
        if isinstance(fields.get(key), list):
            fields[key] = tuple(fields[key])
    try:
        return ReadOptions(**fields)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"--read-options {path}: {exc}") from None


# --------------------------------------------------------------------------------------
# Reading and fitting one file
# --------------------------------------------------------------------------------------


def read_file(path, options=None):
    """The :class:`~gppnmf_core.Dataset` of one file, read in an isolated process."""
    from .io import read_dataset_isolated

    path = Path(path)
    return read_dataset_isolated(path.read_bytes(), path.name, options)


def describe(dataset) -> str:
    """What the reader sees: shape, the two axes and the description."""
    from . import Grid

    def axis(where) -> str:
        if isinstance(where, Grid):
            names = f" ({', '.join(where.names)})" if where.names else ""
            return f"grid {' x '.join(map(str, where.shape))}{names}, unit {where.unit}"
        values = where.values
        unit = f" {where.unit}" if where.unit else ""
        return f"{where.label}: {values.size} points, {values[0]:g} to {values[-1]:g}{unit}"

    K, L = dataset.X.shape
    lines = [f"{dataset.title or dataset.name}", f"X: {K} x {L} (features x observations), float64",
             f"rows (features):      {axis(dataset.rows)}", f"columns (observations): {axis(dataset.cols)}",
             f"suggested rank {dataset.rank}, noise variance {dataset.noise_var:.4g}"]
    if dataset.description:
        lines.append(dataset.description)
    return "\n".join(lines)


def fit_file(path, out_dir, *, settings: dict | None, read_options=None, rank: int | None = None,
             methods=("gppnmf",), max_iter: int = 1000, random_state: int | None = 0) -> dict:
    """Read one file, fit it with each of ``methods`` and write the results into ``out_dir/<stem>/``.

    Parameters
    ----------
    path : str or Path
        The data file (any format :func:`gppnmf_core.io.read_dataset` reads).
    out_dir : str or Path
        Results go into its subfolder named after the file (``csi.nii.gz`` -> ``csi``).
    settings : dict or None
        From :func:`load_settings`; needed for ``"gppnmf"``.
    read_options : ReadOptions, optional
    rank : int, optional
        Number of components; default the data set's suggested rank.
    methods : sequence of {"gppnmf", "cnmf", "ls_nmf"}
    max_iter : int
    random_state : int or None
        One seed for every fit of this file (recorded in the results).

    Returns
    -------
    dict
        A JSON-able summary: file, shape, rank and per method the objective,
        iterations, convergence and run time (also written as ``summary.json``).
    """
    from . import cnmf, fit_gppnmf, ls_nmf

    path = Path(path)
    dataset = read_file(path, read_options)
    rank = dataset.rank if rank is None else rank
    target = Path(out_dir) / _stem(path)
    target.mkdir(parents=True, exist_ok=True)
    results = {}
    for method in methods:
        if method == "gppnmf":
            if settings is None:
                raise UsageError("gppnmf needs --settings (a prior settings file saved by the app)")
            prior_D = _prior(settings["D"], dataset.rows, "D")
            prior_H = _prior(settings["H"], dataset.cols, "H")
            results[method] = fit_gppnmf(dataset.X, rank, prior_D, prior_H, settings["noise_var"],
                                         max_iter=max_iter, random_state=random_state)
        elif method == "cnmf":
            results[method] = cnmf(dataset.X, rank, max_iter=max_iter, random_state=random_state)
        else:
            results[method] = ls_nmf(dataset.X, rank, max_iter=max_iter, random_state=random_state)
    read_settings = _json_safe(dataclasses.asdict(read_options)) if read_options is not None else "defaults"
    summary = {
        "file": str(path), "shape": list(dataset.X.shape), "rank": rank,
        "read_options": read_settings,
        "fits": {m: {"objective": r.objective, "n_iter": r.n_iter, "nfev": r.nfev, "converged": r.converged,
                     "runtime_s": r.runtime, "message": r.message, "settings": r.settings}
                 for m, r in results.items()},
    }
    _write_results(target, dataset, results, summary)
    return summary


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".gz"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _json_safe(value):
    return json.loads(json.dumps(value, default=lambda v: list(v) if isinstance(v, tuple) else str(v)))


def _axis_values(where) -> np.ndarray:
    from . import Axis

    return where.values if isinstance(where, Axis) else np.arange(where.size, dtype=np.float64)


def _write_results(target: Path, dataset, results: dict, summary: dict) -> None:
    from . import Grid

    arrays = {"feature_axis": _axis_values(dataset.rows), "observation_axis": _axis_values(dataset.cols)}
    if isinstance(dataset.cols, Grid):
        arrays["grid_shape"] = np.asarray(dataset.cols.shape)
    for method, res in results.items():
        arrays[f"D_{method}"], arrays[f"H_{method}"] = res.D, res.H
        arrays[f"objective_{method}"] = res.objective_trace
        components = [f"component_{m + 1}" for m in range(res.rank)]
        _write_csv(target / f"{method}_D.csv", ["feature"] + components,
                   np.column_stack([arrays["feature_axis"], res.D]))
        _write_csv(target / f"{method}_H.csv", ["component"] + [f"{v:g}" for v in arrays["observation_axis"]],
                   [[name, *row] for name, row in zip(components, res.H.tolist(), strict=True)])
    arrays["summary_json"] = np.asarray(json.dumps(summary, sort_keys=True))
    np.savez_compressed(target / "results.npz", **arrays)
    (target / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True), encoding="utf-8")


def _write_csv(path: Path, header, rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows.tolist() if isinstance(rows, np.ndarray) else rows)


# --------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------


def _cmd_read(args) -> int:
    from .io import DataFormatError

    options = load_read_options(args.read_options)
    status = 0
    for name in args.files:
        try:
            print(f"{name}\n{describe(read_file(name, options))}\n")
        except (OSError, DataFormatError) as exc:
            print(f"{name}: cannot be read: {exc}", file=sys.stderr)
            status = 1
    return status


def _fit_jobs(args) -> tuple[dict, list]:
    settings = load_settings(args.settings) if args.settings else None
    methods = tuple(args.methods.split(","))
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise UsageError(f"--methods: each must be one of {', '.join(METHODS)}, got {args.methods!r}")
    if "gppnmf" in methods and settings is None:
        raise UsageError("--settings is needed for the gppnmf method (or choose --methods cnmf,ls_nmf)")
    stems = [_stem(Path(f)) for f in args.files]
    twins = sorted({s for s in stems if stems.count(s) > 1})
    if twins:
        raise UsageError(f"files with the same name would share a results folder: {', '.join(twins)}")
    kwargs = dict(settings=settings, read_options=load_read_options(args.read_options), rank=args.rank,
                  methods=methods, max_iter=args.max_iter, random_state=args.random_state)
    return kwargs, list(args.files)


def _progress_line(done: int, total: int, name: str, summary: dict | None, error: str | None, seconds: float) -> str:
    head = f"[{done}/{total}] {name}"
    if error is not None:
        return f"{head}: FAILED: {error}"
    fits = ", ".join(f"{m} objective {f['objective']:.6g} "
                     f"({f['n_iter']} it{'' if f['converged'] else ', not converged'})"
                     for m, f in summary["fits"].items())
    return f"{head}: {summary['shape'][0]}x{summary['shape'][1]}, rank {summary['rank']}: {fits} [{seconds:.1f} s]"


def _run_one(path, out, kwargs):
    start = time.perf_counter()
    try:
        return fit_file(path, out, **kwargs), None, time.perf_counter() - start
    except Exception as exc:  # one bad file never stops the others; the line says why
        return None, f"{type(exc).__name__}: {exc}", time.perf_counter() - start


def _cmd_fit(args) -> int:
    kwargs, files = _fit_jobs(args)
    failed = 0
    for i, name in enumerate(files, 1):
        summary, error, seconds = _run_one(name, args.out, kwargs)
        failed += error is not None
        print(_progress_line(i, len(files), name, summary, error, seconds), flush=True)
    return 1 if failed else 0


def _cmd_batch(args) -> int:
    kwargs, files = _fit_jobs(args)
    failed = done = 0
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(_run_one, name, args.out, kwargs): name for name in files}
        for future in as_completed(futures):
            summary, error, seconds = future.result()
            done += 1
            failed += error is not None
            print(_progress_line(done, len(files), futures[future], summary, error, seconds), flush=True)
    return 1 if failed else 0


def _cmd_serve(args) -> int:
    # The Dash app (app.py, components/) lives in a repository checkout, not in the installed package:
    # serve the one in the current directory.
    checkout = Path.cwd()
    if (checkout / "app.py").is_file() and (checkout / "components").is_dir() and str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    try:
        import app
        if not hasattr(app, "main") or not hasattr(app, "server"):
            raise ImportError(f"the module 'app' at {getattr(app, '__file__', '?')} is not GPP-NMF Studio's")
    except ImportError as exc:
        print("gppnmf serve: the dashboard is not available here "
              f"({exc}). It runs from a checkout of the GPP-NMF Studio repository: "
              "`pip install -e .[app]` there, then run `gppnmf serve` (or `python app.py`) in that directory.",
              file=sys.stderr)
        return 1
    app.main(["--host", args.host, "--port", str(args.port)] + (["--debug"] if args.debug else []))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``gppnmf`` argument parser."""
    from . import __version__

    parser = argparse.ArgumentParser(prog="gppnmf", description="GPP-NMF Studio from the command line: read data "
                                     "files, decompose them with GPP-NMF, CNMF or LS-NMF, serve the dashboard.")
    parser.add_argument("--version", action="version", version=f"gppnmf {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    read = commands.add_parser("read", help="print what the reader sees in each file (shape, axes, description)")
    read.add_argument("files", nargs="+", metavar="FILE")
    read.add_argument("--read-options", metavar="JSON", help="a JSON object of ReadOptions fields, "
                      "e.g. {\"orientation\": \"observations_first\", \"grid_shape\": [8, 8, 8]}")
    read.set_defaults(run=_cmd_read)

    def fit_arguments(sub):
        sub.add_argument("files", nargs="+", metavar="FILE")
        sub.add_argument("--out", required=True, metavar="DIR", help="results go into DIR/<file stem>/")
        sub.add_argument("--settings", metavar="JSON", help="prior settings as the app saves them "
                         "(\"format\": \"gppnmf-studio-prior\"); needed for gppnmf")
        sub.add_argument("--methods", default="gppnmf", help="comma-separated: gppnmf, cnmf, ls_nmf "
                         "(default gppnmf)")
        sub.add_argument("--rank", type=int, default=None, help="components (default: the reader's suggestion)")
        sub.add_argument("--max-iter", type=int, default=1000)
        sub.add_argument("--random-state", type=int, default=0, help="seed of every fit (default 0)")
        sub.add_argument("--read-options", metavar="JSON", help="a JSON object of ReadOptions fields")

    fit = commands.add_parser("fit", help="fit each file in turn; results as .npz and CSV, one line per file")
    fit_arguments(fit)
    fit.set_defaults(run=_cmd_fit)

    batch = commands.add_parser(
        "batch", help="fit many files in parallel local processes",
        description="Fit many files, --jobs at a time, in local processes (concurrent.futures); results and "
                    "progress lines as for `gppnmf fit`, in the order files finish. Sending the files to the "
                    "app's Celery workers over Redis (REDIS_URL) is the next step and not done yet.")
    fit_arguments(batch)
    batch.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) // 2),
                       help="files fitted at once (default: half the CPU cores)")
    batch.set_defaults(run=_cmd_batch)

    serve = commands.add_parser("serve", help="start the dashboard (from a repository checkout)")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8050")))
    serve.add_argument("--debug", action="store_true")
    serve.set_defaults(run=_cmd_serve)
    return parser


def main(argv=None) -> int:
    """Run ``gppnmf`` with ``argv`` (default ``sys.argv[1:]``); the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("rank", "max_iter", "jobs"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    try:
        return args.run(args)
    except UsageError as exc:
        print(f"gppnmf {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
