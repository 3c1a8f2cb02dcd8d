"""Fitting one file into a results folder, and ``gppnmf batch`` on Celery workers.

One code path for every way a file is fitted: :func:`fit_record` reads a file's
bytes, fits it and returns the arrays and the summary that
:func:`write_results` puts into ``DIR/<stem>/`` (``results.npz``, CSV, ``summary.json``).
``gppnmf fit`` and ``gppnmf batch --local`` run both in this process (or a local
process pool); ``gppnmf batch`` on Celery runs :func:`fit_record` on a worker,
sends the arrays back and writes them here.

**The Celery task** (:data:`BATCH_TASK`, the function :func:`run_request`) is
defined here, in the library, and needs nothing of the dashboard: celery is an
optional extra (``pip install gppnmf-studio[scale]``), imported only when a
Celery app is made. The app's workers register it next to the job task
(``components.services.config.make_celery_app`` calls :func:`register_tasks`),
so ``gppnmf batch`` with ``REDIS_URL`` uses the very workers the app uses; a lab
without the dashboard runs ``celery -A gppnmf_core.batch_worker worker``.

**Messages are JSON only** (never pickle): a request holds the settings, the
read options and either the file's **bytes** (base64) or, with ``--shared-fs``,
its absolute **path**. Bytes are the default because they work everywhere (the
workers may be other machines that see none of the client's disks); they are
bounded by ``--max-mb`` (``GPPNMF_BATCH_MAX_MB``, default 64 MiB per file) and
the client keeps at most ``GPPNMF_BATCH_INFLIGHT_MB`` (default 256 MiB) of file
bytes queued at once, so a batch of large files never floods Redis. For big
files on a lab's shared filesystem, ``--shared-fs`` sends only paths; a worker
reads a path only below a directory its operator named in
``GPPNMF_BATCH_SHARED_ROOT`` (``os.pathsep``-separated) and refuses any other,
so a message cannot make a worker read an arbitrary file. The answer carries
the factor matrices as base64 of their float64 bytes: bit for bit what the
worker computed, written by the client, so the results folder needs no shared
disk either.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import socket
import sys
import time
from pathlib import Path

import numpy as np

#: The Celery task name of one batch file (registered by :func:`register_tasks`).
BATCH_TASK = "gppnmf.batch_fit"
#: Largest file sent through the broker (MiB); bigger ones need ``--shared-fs``.
MAX_MB_ENV = "GPPNMF_BATCH_MAX_MB"
#: File bytes queued on the broker at once (MiB), all files together.
INFLIGHT_MB_ENV = "GPPNMF_BATCH_INFLIGHT_MB"
#: Directories (``os.pathsep``-separated) below which a worker reads ``--shared-fs`` paths.
SHARED_ROOT_ENV = "GPPNMF_BATCH_SHARED_ROOT"
#: The queue batch files go to (default: Celery's default queue, which the app's workers consume).
QUEUE_ENV = "GPPNMF_BATCH_QUEUE"
DEFAULT_MAX_MB = 64.0
DEFAULT_INFLIGHT_MB = 256.0
REQUEST_VERSION = 1


def _env_mb(name: str, default: float) -> float:
    value = os.environ.get(name)
    try:
        return float(value) if value else default
    except ValueError:
        raise ValueError(f"environment variable {name} must be a number of MiB, got {value!r}") from None


# --------------------------------------------------------------------------------------
# One file: fit, arrays, summary, writing
# --------------------------------------------------------------------------------------


def stem(path) -> str:
    """The results folder's name of a file (``csi.nii.gz`` -> ``csi``)."""
    name = Path(path).name
    for suffix in (".nii.gz", ".gz"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


def _json_safe(value):
    return json.loads(json.dumps(value, default=lambda v: list(v) if isinstance(v, tuple) else str(v)))


def _axis_values(where) -> np.ndarray:
    from . import Axis

    return where.values if isinstance(where, Axis) else np.arange(where.size, dtype=np.float64)


def fit_record(data: bytes, file: str, *, settings: dict | None, read_options=None, rank: int | None = None,
               methods=("gppnmf",), max_iter: int = 1000, random_state: int | None = 0) -> tuple[dict, dict]:
    """Read a file's bytes and fit them with each of ``methods``: ``(arrays, summary)`` for :func:`write_results`.

    ``file`` is the name the summary records (the path as given); its last part gives the format.
    ``arrays`` holds the axes, ``D_<method>``, ``H_<method>`` and ``objective_<method>``; ``summary``
    is JSON-able (shape, rank, read options, and per method objective, iterations, convergence,
    run time, message and the fit's settings). Raises what the reader or a fit raises.
    """
    from . import Grid, cnmf, fit_gppnmf, ls_nmf
    from .cli import UsageError, _prior
    from .io import read_dataset_isolated

    dataset = read_dataset_isolated(data, Path(file).name, read_options)
    rank = dataset.rank if rank is None else rank
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
        "file": str(file), "shape": list(dataset.X.shape), "rank": rank,
        "read_options": read_settings,
        "fits": {m: {"objective": r.objective, "n_iter": r.n_iter, "nfev": r.nfev, "converged": r.converged,
                     "runtime_s": r.runtime, "message": r.message, "settings": r.settings}
                 for m, r in results.items()},
    }
    arrays = {"feature_axis": _axis_values(dataset.rows), "observation_axis": _axis_values(dataset.cols)}
    if isinstance(dataset.cols, Grid):
        arrays["grid_shape"] = np.asarray(dataset.cols.shape)
        if dataset.cols.affine is not None:  # voxel index → scanner mm, from the file's header
            arrays["grid_affine"] = np.asarray(dataset.cols.affine)
    for method, res in results.items():
        arrays[f"D_{method}"], arrays[f"H_{method}"] = res.D, res.H
        arrays[f"objective_{method}"] = res.objective_trace
    return arrays, _json_safe(summary)


def write_results(target, arrays: dict, summary: dict) -> None:
    """Write results.npz (``arrays`` and the summary as JSON), the CSV of D and H per method, summary.json."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    for method in summary["fits"]:
        D, H = arrays[f"D_{method}"], arrays[f"H_{method}"]
        components = [f"component_{m + 1}" for m in range(D.shape[1])]
        _write_csv(target / f"{method}_D.csv", ["feature"] + components,
                   np.column_stack([arrays["feature_axis"], D]).tolist())
        _write_csv(target / f"{method}_H.csv", ["component"] + [f"{v:g}" for v in arrays["observation_axis"]],
                   [[name, *row] for name, row in zip(components, H.tolist(), strict=True)])
    np.savez_compressed(target / "results.npz", **arrays, summary_json=np.asarray(json.dumps(summary, sort_keys=True)))
    (target / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True), encoding="utf-8")


def _write_csv(path: Path, header, rows) -> None:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


# --------------------------------------------------------------------------------------
# JSON messages
# --------------------------------------------------------------------------------------


def encode_arrays(arrays: dict) -> dict:
    """Arrays as JSON: dtype, shape and base64 of the bytes (exact, unlike decimal floats)."""
    out = {}
    for name, value in arrays.items():
        value = np.ascontiguousarray(value)
        if value.dtype.kind not in "fiub":
            raise TypeError(f"array {name!r} of dtype {value.dtype} cannot be sent")
        out[name] = {"dtype": value.dtype.str, "shape": list(value.shape),
                     "data": base64.b64encode(value.tobytes()).decode("ascii")}
    return out


def decode_arrays(encoded: dict) -> dict:
    """What :func:`encode_arrays` made (checked: a numeric dtype and a size matching the shape)."""
    out = {}
    for name, item in encoded.items():
        dtype = np.dtype(item["dtype"])
        if dtype.kind not in "fiub":
            raise ValueError(f"array {name!r}: dtype {dtype} is not numeric")
        shape = tuple(int(n) for n in item["shape"])
        raw = base64.b64decode(item["data"], validate=True)
        if len(raw) != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"array {name!r}: {len(raw)} bytes do not make shape {shape} of {dtype}")
        out[name] = np.frombuffer(raw, dtype=dtype).reshape(shape)
    return out


def make_request(path, *, settings, read_options, rank, methods, max_iter, random_state,
                 shared_fs: bool = False, max_bytes: int | None = None) -> tuple[dict, int]:
    """The JSON request for one file and the bytes it carries; ValueError when the file cannot be sent."""
    request = {"version": REQUEST_VERSION, "file": str(path), "settings": settings,
               "read_options": _json_safe(dataclasses.asdict(read_options)) if read_options is not None else None,
               "rank": rank, "methods": list(methods), "max_iter": max_iter, "random_state": random_state}
    if shared_fs:
        request["path"] = str(Path(path).resolve())
        return request, 0
    size = Path(path).stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise ValueError(f"{size / 2**20:.1f} MiB is more than the {max_bytes / 2**20:g} MiB a file may send "
                         f"through the broker (--max-mb, {MAX_MB_ENV}); put the files where the workers can "
                         f"read them and use --shared-fs")
    request["data"] = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return request, size


def _shared_roots() -> list[Path]:
    return [Path(p).resolve() for p in os.environ.get(SHARED_ROOT_ENV, "").split(os.pathsep) if p.strip()]


def _request_bytes(request: dict) -> bytes:
    if "data" in request:
        return base64.b64decode(request["data"], validate=True)
    path = Path(str(request["path"])).resolve()
    roots = _shared_roots()
    if not roots:
        raise PermissionError(f"this worker reads no paths (--shared-fs): its operator has not set {SHARED_ROOT_ENV}; "
                              "send the files' bytes instead (without --shared-fs)")
    if not any(path.is_relative_to(root) for root in roots):
        raise PermissionError(f"{path} is not below the directories this worker reads ({SHARED_ROOT_ENV})")
    return path.read_bytes()


def run_request(request: dict) -> dict:
    """The batch task: fit one file's request; JSON ``{"file", "arrays", "summary", "seconds", "worker"}``.

    A problem with the file or its settings is an answer (``{"file", "error"}``), not an exception: the
    client prints it on that file's line and the others go on.
    """
    from .io import ReadOptions

    start = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    file = str(request.get("file", "?"))
    try:
        if request.get("version") != REQUEST_VERSION:
            raise ValueError(f"request version {request.get('version')!r}, this worker reads {REQUEST_VERSION}")
        options = request.get("read_options")
        if options is not None:
            options = ReadOptions(**options)
        arrays, summary = fit_record(_request_bytes(request), file, settings=request["settings"],
                                     read_options=options, rank=request["rank"], methods=tuple(request["methods"]),
                                     max_iter=request["max_iter"], random_state=request["random_state"])
    except Exception as exc:  # noqa: BLE001 - one bad file is that file's answer
        return {"file": file, "error": f"{type(exc).__name__}: {exc}", "seconds": time.perf_counter() - start,
                "worker": worker}
    return {"file": file, "arrays": encode_arrays(arrays), "summary": summary,
            "seconds": time.perf_counter() - start, "worker": worker}


# --------------------------------------------------------------------------------------
# Celery (optional: imported only here, when used)
# --------------------------------------------------------------------------------------


def configure_json(celery_app) -> None:
    """JSON only, never pickle: a message or a result in Redis is data, not code to run."""
    celery_app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"],
                           result_accept_content=["json"], broker_connection_retry_on_startup=True)


def register_tasks(celery_app) -> None:
    """Register :data:`BATCH_TASK` on ``celery_app`` (a worker's app; its serialisation must be JSON-only)."""
    celery_app.task(name=BATCH_TASK)(run_request)


def make_celery(url: str, name: str = "gppnmf-batch"):
    """A JSON-only Celery app on ``url`` (broker and result backend) with the batch task registered."""
    try:
        from celery import Celery
    except ImportError:
        raise ImportError("gppnmf batch on Celery needs celery and redis: pip install 'gppnmf-studio[scale]'") \
            from None
    celery_app = Celery(name, broker=url, backend=url)
    configure_json(celery_app)
    register_tasks(celery_app)
    return celery_app


def _where(url: str) -> str:
    """``host:port/db`` of a Redis URL, without its password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}{parts.path or ''}"


def _workers_with_task(celery_app, timeout: float) -> tuple[int, int]:
    """(workers that answered, those that have the batch task) within ``timeout`` seconds."""
    replies = celery_app.control.inspect(timeout=timeout).registered() or {}
    having = [w for w, tasks in replies.items() if any(str(t).split(" ")[0] == BATCH_TASK for t in tasks)]
    return len(replies), len(having)


def run_on_celery(files: list[str], out, kwargs: dict, *, url: str, shared_fs: bool = False,
                  max_mb: float | None = None, timeout_s: float = 3600.0, queue: str | None = None,
                  progress=print, poll_s: float = 0.25, check_workers_s: float = 3.0) -> int:
    """Send each file to the Celery workers on ``url``; write each answer into ``out/<stem>/``.

    ``kwargs`` are :func:`fit_record`'s options. One line per file as it finishes (``progress``);
    a file that cannot be sent, fails on its worker, or has no answer within ``timeout_s`` seconds
    of the last answer (the task is also given ``timeout_s`` as its hard time limit) fails alone with
    a line that says why. Returns the number of failed files (every file counts as failed when no
    worker with the batch task answers).
    """
    from .cli import _progress_line

    max_bytes = int(_env_mb(MAX_MB_ENV, DEFAULT_MAX_MB) * 2**20) if max_mb is None else int(max_mb * 2**20)
    inflight_limit = max(int(_env_mb(INFLIGHT_MB_ENV, DEFAULT_INFLIGHT_MB) * 2**20), max_bytes)
    queue = queue or os.environ.get(QUEUE_ENV) or None
    celery_app = make_celery(url, "gppnmf-batch-client")
    total, done, failed = len(files), 0, 0
    try:
        try:
            with celery_app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=2, interval_start=0.5, interval_step=0.5, timeout=5)
        except Exception as exc:  # noqa: BLE001 - kombu raises its own OperationalError kinds
            print(f"gppnmf batch: cannot reach Redis at redis://{_where(url)} ({type(exc).__name__}: {exc}); "
                  "check REDIS_URL, or run without it (--local)", file=sys.stderr)
            return total
        answered, having = _workers_with_task(celery_app, check_workers_s)
        if not having:
            why = (f"no Celery worker answered on redis://{_where(url)} within {check_workers_s:g} s" if not answered
                   else f"{answered} worker(s) answered but none has the task {BATCH_TASK} (update them)")
            print(f"gppnmf batch: {why}; start one with `celery -A app:celery_app worker` (the app's) or "
                  "`celery -A gppnmf_core.batch_worker worker`, or run without REDIS_URL (--local)", file=sys.stderr)
            return total
        progress(f"gppnmf batch: {total} file(s) to {having} worker(s) on redis://{_where(url)}"
                 f"{' (paths, --shared-fs)' if shared_fs else ''}")
        waiting = list(files)
        pending: dict = {}  # AsyncResult -> (file, bytes queued)
        inflight = 0
        last_news = time.monotonic()

        def finish(file: str, summary=None, error=None, seconds=0.0):
            nonlocal done, failed, last_news
            done += 1
            failed += error is not None
            last_news = time.monotonic()
            progress(_progress_line(done, total, file, summary, error, seconds))

        while waiting or pending:
            while waiting and (not pending or inflight + _queued_size(waiting[0], shared_fs) <= inflight_limit):
                file = waiting.pop(0)
                try:
                    request, size = make_request(file, shared_fs=shared_fs, max_bytes=max_bytes, **kwargs)
                except (OSError, ValueError) as exc:
                    finish(file, error=f"not sent: {exc}")
                    continue
                result = celery_app.send_task(BATCH_TASK, args=[request], queue=queue, time_limit=timeout_s)
                del request
                pending[result] = (file, size)
                inflight += size
            for result in [r for r in pending if r.ready()]:
                file, size = pending.pop(result)
                inflight -= size
                try:
                    answer = result.get(timeout=10, propagate=False)
                    if result.failed():
                        finish(file, error=f"the worker failed: {type(answer).__name__}: {answer}")
                    elif "error" in answer:
                        finish(file, error=answer["error"], seconds=answer.get("seconds", 0.0))
                    else:
                        write_results(Path(out) / stem(file), decode_arrays(answer["arrays"]), answer["summary"])
                        finish(file, answer["summary"], seconds=answer["seconds"])
                except Exception as exc:  # noqa: BLE001 - a bad answer or a full disk fails this file only
                    finish(file, error=f"{type(exc).__name__}: {exc}")
                finally:
                    result.forget()
            if pending and time.monotonic() - last_news > timeout_s:
                for result, (file, _) in list(pending.items()):
                    result.revoke(terminate=True)
                    finish(file, error=f"no answer from the workers within {timeout_s:g} s (task revoked)")
                pending.clear()
                inflight = 0
            elif pending:
                time.sleep(poll_s)
    finally:
        celery_app.close()
    return failed


def _queued_size(file: str, shared_fs: bool) -> int:
    if shared_fs:
        return 0
    try:
        return Path(file).stat().st_size
    except OSError:
        return 0
