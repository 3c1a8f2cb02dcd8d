"""The ``gppnmf`` command: read files, fit them, fit many at once, serve the app.

::

    gppnmf read FILE                                   what the reader sees: shape, axes, description
    gppnmf fit FILE... --settings S.json --out DIR     fit each file; results in DIR/<file stem>/
    gppnmf batch FILE... --out DIR [--jobs N]          the same on the app's Celery workers (REDIS_URL set),
                                                       otherwise N files at a time in local processes
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
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

#: The ``format`` of a prior settings file as the app saves it ("Save settings", and results' settings.json).
SETTINGS_FORMAT = "gppnmf-studio-prior"
#: Version 2 holds core prior specs; version 1 (earlier app versions) the app's compact form, converted on reading.
SETTINGS_VERSION = 2
#: The fields a settings document may have: the two priors and σ², the units β was measured in, and — in a
#: results' settings.json — the data set's title and the job's settings (read as notes, not used).
SETTINGS_FIELDS = ("format", "version", "D", "H", "noise_var", "beta_units", "data", "job")
METHODS = ("gppnmf", "cnmf", "ls_nmf")
#: The link parameter of each link in version 1's compact settings (``"scale"`` in those files).
_COMPACT_LINK_PARAMETER = {"exponential": "lam", "rectified_gaussian": "s"}
_COMPACT_FIELDS = ("kernel", "beta", "link", "scale", "mirror")


class UsageError(Exception):
    """A problem with the command line or a settings file (exit status 2)."""


# --------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------


def load_settings(path) -> dict:
    """Read a prior settings file: ``{"D": spec, "H": spec, "noise_var": float}`` (see :func:`read_settings`).

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
    try:
        return read_settings(doc)
    except ValueError as exc:
        raise UsageError(f"--settings {path}: {exc}") from None


def read_settings(doc) -> dict:
    """The priors and σ² of a settings document (parsed JSON): ``{"D": spec, "H": spec, "noise_var": float}``.

    The document is a JSON object with ``"format": "gppnmf-studio-prior"``,
    ``"version"``, the priors ``D`` and ``H``, ``noise_var`` and optionally
    ``beta_units``, ``data`` and ``job`` (a results' settings.json has them).
    In version 2 — what the app writes — a prior is a core spec
    (:meth:`gppnmf_core.GPPrior.to_spec`, checked by
    :func:`gppnmf_core.priors.validate_prior_spec`) and is returned as it is.
    Version 1, written by earlier versions of the app, holds the app's compact
    form (``{"kernel": "rbf", "beta": 10, "link": "exponential", "scale": 1,
    "mirror": false}``; ``scale`` is the link's one parameter), converted here
    once to the core's spec (a core spec there is taken as it is).

    Raises
    ------
    ValueError
        Naming the field that is wrong, e.g. ``"H: prior spec: kernel.beta must
        be a positive number, got -1"``.
    """
    from .priors import validate_prior_spec

    if not isinstance(doc, dict) or doc.get("format") != SETTINGS_FORMAT:
        raise ValueError(f"not a prior settings file (expected \"format\": \"{SETTINGS_FORMAT}\", as the app's "
                         "'Save settings' and its results' settings.json write)")
    version = doc.get("version")
    if version not in (1, SETTINGS_VERSION) or isinstance(version, bool):
        raise ValueError(f"unsupported settings version {version!r} (this gppnmf reads 1 and {SETTINGS_VERSION})")
    unknown = sorted(str(key) for key in set(doc) - set(SETTINGS_FIELDS))
    if unknown:
        raise ValueError(f"unknown field(s) {unknown}; a settings file has {list(SETTINGS_FIELDS)}")
    settings = {}
    for factor in ("D", "H"):
        spec = doc.get(factor)
        if not isinstance(spec, dict):
            raise ValueError(f"field {factor!r} must be a prior (an object), got {_shown(spec)}")
        if version == 1 and not isinstance(spec.get("link"), dict):
            spec = spec_from_compact(spec, factor)
        try:
            validate_prior_spec(spec)
        except ValueError as exc:
            raise ValueError(f"{factor}: {exc}") from None
        settings[factor] = spec
    noise_var = doc.get("noise_var")
    if isinstance(noise_var, bool) or not isinstance(noise_var, (int, float)) or not np.isfinite(noise_var) \
            or noise_var <= 0:
        raise ValueError(f"noise_var must be a positive number, got {_shown(noise_var)}")
    settings["noise_var"] = float(noise_var)
    return settings


def _shown(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def spec_from_compact(compact: dict, factor: str) -> dict:
    """The core spec of a prior in version 1's compact form; ValueError naming ``factor`` and the field."""
    unknown = sorted(str(key) for key in set(compact) - set(_COMPACT_FIELDS))
    if unknown:
        raise ValueError(f"{factor}: unknown field(s) {unknown} in a version 1 prior (its fields are "
                         f"{list(_COMPACT_FIELDS)})")
    kernel, link, mirror = compact.get("kernel"), compact.get("link"), compact.get("mirror", False)
    if not isinstance(kernel, str):
        raise ValueError(f"{factor}.kernel must be a kernel name, got {_shown(kernel)}")
    if link not in _COMPACT_LINK_PARAMETER:
        raise ValueError(f"{factor}.link must be one of {sorted(_COMPACT_LINK_PARAMETER)}, got {_shown(link)}")
    if not isinstance(mirror, bool):
        raise ValueError(f"{factor}.mirror must be true or false, got {_shown(mirror)}")
    for field in ("beta", "scale") if kernel != "white" else ("scale",):
        if field not in compact:
            raise ValueError(f"{factor}.{field} is missing")
    kernel_spec = {"name": kernel} if kernel == "white" else {"name": kernel, "beta": compact["beta"]}
    return {"kernel": kernel_spec, "link": {"name": link, _COMPACT_LINK_PARAMETER[link]: compact["scale"]},
            "mirror_axis": 0 if mirror else None}


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
        The same code (:func:`gppnmf_core.batch.fit_record`) runs on the Celery workers.
    """
    from .batch import fit_record, stem, write_results

    path = Path(path)
    arrays, summary = fit_record(path.read_bytes(), str(path), settings=settings, read_options=read_options,
                                 rank=rank, methods=methods, max_iter=max_iter, random_state=random_state)
    write_results(Path(out_dir) / stem(path), arrays, summary)
    return summary


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
    from .batch import stem

    stems = [stem(f) for f in args.files]
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
    url = os.environ.get("REDIS_URL") or None
    if args.celery and not url:
        raise UsageError("--celery needs REDIS_URL (redis://:<password>@host:6379/0, the app's workers' Redis)")
    if args.shared_fs and (args.local or not url):
        raise UsageError("--shared-fs is for Celery workers (REDIS_URL); local processes read the files anyway")
    if url and not args.local:
        from .batch import run_on_celery

        try:
            failed = run_on_celery(files, args.out, kwargs, url=url, shared_fs=args.shared_fs, max_mb=args.max_mb,
                                   timeout_s=args.timeout, queue=args.queue,
                                   progress=lambda line: print(line, flush=True))
        except ImportError as exc:
            raise UsageError(str(exc)) from None
        return 1 if failed else 0
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
        "batch", help="fit many files on the app's Celery workers (REDIS_URL) or in parallel local processes",
        description="Fit many files; results and progress lines as for `gppnmf fit`, in the order files finish. "
                    "With REDIS_URL set (or --celery) each file goes to the Celery workers the app uses (task "
                    "gppnmf.batch_fit, JSON messages: the file's bytes, at most --max-mb each, or with --shared-fs "
                    "its path, which the workers read below GPPNMF_BATCH_SHARED_ROOT); the results come back and "
                    "are written here. Without REDIS_URL (or with --local), --jobs local processes.")
    fit_arguments(batch)
    batch.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) // 2),
                       help="local processes: files fitted at once (default: half the CPU cores)")
    where = batch.add_mutually_exclusive_group()
    where.add_argument("--celery", action="store_true", help="use the Celery workers (an error without REDIS_URL)")
    where.add_argument("--local", action="store_true", help="local processes even when REDIS_URL is set")
    batch.add_argument("--shared-fs", action="store_true", help="Celery: send paths, not bytes (the workers see "
                       "the same files, below their GPPNMF_BATCH_SHARED_ROOT)")
    batch.add_argument("--max-mb", type=float, default=None, help="Celery: largest file sent as bytes "
                       "(default GPPNMF_BATCH_MAX_MB or 64)")
    batch.add_argument("--timeout", type=float, default=3600.0, help="Celery: seconds one file may run on a worker, "
                       "and the longest wait for the next answer (default 3600)")
    batch.add_argument("--queue", default=None, help="Celery queue (default GPPNMF_BATCH_QUEUE or the default queue "
                       "the app's workers consume)")
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
    for name in ("max_mb", "timeout"):
        value = getattr(args, name, None)
        if value is not None and not value > 0:
            parser.error(f"--{name.replace('_', '-')} must be a positive number, got {value}")
    try:
        return args.run(args)
    except UsageError as exc:
        print(f"gppnmf {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
