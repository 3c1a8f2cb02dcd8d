"""Uploads: drag-and-drop a file, choose how it is read, get it or a clear message back.

The file travels once: its bytes are checked against the size limit and kept
in the session's server-side store; changing a reading option re-reads them
from there. Reading is the core's job, done in a separate process with memory,
CPU and time limits (``gppnmf_core.io.read_dataset_isolated``): a file that
crashes or exhausts its parser is refused with a message and the server goes
on. Every problem comes back as a message on the page.
"""

from __future__ import annotations

import base64
import binascii
import json
import os

import numpy as np
from dash import Input, Output, State, callback, dcc, html, no_update

from gppnmf_core.io import DataFormatError, ReadOptions, max_bytes, read_dataset_isolated

from . import services, store
from .data_source import digest_of, put_upload
from .messages import notice, problem
from .sessions import SessionError

#: Largest file accepted, from GPPNMF_MAX_UPLOAD_MB (default 64 MiB).
MAX_UPLOAD_BYTES = int(float(os.environ.get("GPPNMF_MAX_UPLOAD_MB", "64")) * 2**20)
FORMATS = ".nii, .nii.gz (NIfTI-MRS), .npy, .npz, .csv, .tsv, .txt, .mat (v5)"


def _choice(label: str, control_id: str, options: dict, value: str) -> html.Div:
    return html.Div(className="field", children=[
        html.Label(label),
        dcc.RadioItems(id=control_id, value=value, inline=True, className="choices",
                       options=[{"label": f" {v}", "value": k} for k, v in options.items()]),
    ])


def layout() -> html.Div:
    return html.Div(className="upload", children=[
        dcc.Upload(
            id="upload",
            className="upload-zone",
            max_size=MAX_UPLOAD_BYTES,
            multiple=False,
            children=html.Div(["Drop a file here or ", html.A("choose one")]),
        ),
        html.P(f"Up to {MAX_UPLOAD_BYTES / 2**20:.0f} MiB. {FORMATS}.", className="hint", id="upload-limit"),
        html.Details(className="upload-options", children=[
            html.Summary("How to read the file"),
            _choice("orientation", "read-orientation", {"auto": "auto", "features_first": "rows are spectra points",
                                                        "observations_first": "rows are voxels"}, "auto"),
            _choice("content", "read-kind", {"auto": "auto", "spectra": "spectra", "fid": "FIDs (time domain)"},
                    "auto"),
            html.Div(className="option-row", children=[
                html.Div(className="field", children=[
                    html.Label("voxel grid, e.g. 8,8,8", htmlFor="read-grid"),
                    dcc.Input(id="read-grid", type="text", debounce=True, className="text", placeholder="from file"),
                ]),
                html.Div(className="field", children=[
                    html.Label("ppm range", htmlFor="read-ppm-low"),
                    html.Div(className="pair", children=[
                        dcc.Input(id="read-ppm-low", type="number", debounce=True, className="number",
                                  placeholder="min"),
                        dcc.Input(id="read-ppm-high", type="number", debounce=True, className="number",
                                  placeholder="max"),
                    ]),
                ]),
                html.Div(className="field", children=[
                    html.Label("line broadening (Hz)", htmlFor="read-lb"),
                    dcc.Input(id="read-lb", type="number", value=0, min=0, debounce=True, className="number"),
                ]),
            ]),
        ]),
        html.Div(id="upload-message", className="message", role="alert"),
        dcc.Store(id="upload-token"),
    ])


def decode_upload(contents: str, filename: str) -> bytes:
    """Bytes of a dcc.Upload payload (a data URL), with the size limit checked again on the server."""
    if not isinstance(contents, str) or "," not in contents:
        raise DataFormatError(f"{filename}: the upload arrived incomplete; try again")
    encoded = contents.split(",", 1)[1]
    padding = min(2, len(encoded) - len(encoded.rstrip("=")))
    if len(encoded) * 3 // 4 - padding > MAX_UPLOAD_BYTES:  # the decoded size, exactly
        raise DataFormatError(f"{filename} is larger than the {MAX_UPLOAD_BYTES / 2**20:.0f} MiB limit")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise DataFormatError(f"{filename}: the upload arrived corrupted; try again") from None


def parse_grid(text) -> tuple[int, ...] | None:
    """``"8, 8, 8"`` → (8, 8, 8); empty → None; anything else → DataFormatError."""
    if text is None or not str(text).strip():
        return None
    parts = [p for p in str(text).replace("×", ",").replace("x", ",").split(",") if p.strip()]
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise DataFormatError(f"voxel grid {text!r}: give whole numbers separated by commas, e.g. 8,8,8") from None
    if not shape or any(n < 1 for n in shape):
        raise DataFormatError(f"voxel grid {text!r}: every size must be at least 1")
    return shape


def _number_or_none(value, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataFormatError(f"{what} must be a number, got {str(value)[:40]!r}")
    return float(value)


def read_options(orientation, kind, grid_text, ppm_low, ppm_high, line_broadening) -> ReadOptions:
    """The reading options from the panel's controls; DataFormatError for anything a control cannot send."""
    ppm_low, ppm_high = _number_or_none(ppm_low, "ppm range"), _number_or_none(ppm_high, "ppm range")
    ppm = None
    if ppm_low is not None or ppm_high is not None:
        if ppm_low is None or ppm_high is None:
            raise DataFormatError("ppm range: give both ends, or neither")
        ppm = (min(ppm_low, ppm_high), max(ppm_low, ppm_high))
    try:
        return ReadOptions(orientation=orientation or "auto", kind=kind or "auto",
                           grid_shape=parse_grid(grid_text if isinstance(grid_text, (str, type(None))) else "?"),
                           ppm_range=ppm, line_broadening_hz=_number_or_none(line_broadening, "line broadening") or 0.0)
    except ValueError as exc:
        raise DataFormatError(str(exc).replace("ReadOptions.", "reading option ")) from None


def read_upload_isolated(data: bytes, filename: str, options: ReadOptions):
    """The core's reader in a limited process; a data set never larger than one session may keep."""
    limit = min(max_bytes(), services.SESSION_QUOTA_BYTES)
    return read_dataset_isolated(data, filename, options, max_data_bytes=limit,
                                 cpu_seconds=int(services.READ_TIMEOUT_S), wall_seconds=services.READ_TIMEOUT_S)


@callback(
    Output("upload-token", "data"),
    Output("upload", "contents"),
    Output("upload-message", "children", allow_duplicate=True),
    Input("upload", "contents"),
    State("upload", "filename"),
    State("session-id", "data"),
    prevent_initial_call=True,
)
def receive_upload(contents, filename, session_id):
    """Keep the uploaded bytes server-side for this session (and drop them from the page)."""
    if contents is None:
        return no_update, no_update, no_update
    filename = os.path.basename(str(filename or "upload"))[:200]
    try:
        store.delete(session_id, "upload-raw")  # a failed upload must never leave the previous file in its place
        store.take_rate_token(session_id, "upload", services.UPLOADS_PER_MINUTE)
        data = decode_upload(contents, filename)
        store.put(session_id, "upload-raw", {"bytes": np.frombuffer(data, dtype=np.uint8)}, {"filename": filename})
    except (DataFormatError, store.StoreError, SessionError) as exc:
        return None, None, problem(exc)
    return {"filename": filename, "digest": digest_of(data, "")}, None, notice(
        f"Received {filename} ({len(data):,} bytes).")


@callback(
    Output("dataset-key", "data", allow_duplicate=True),
    Output("dataset-picker", "value"),
    Output("upload-message", "children", allow_duplicate=True),
    Input("upload-token", "data"),
    Input("read-orientation", "value"),
    Input("read-kind", "value"),
    Input("read-grid", "value"),
    Input("read-ppm-low", "value"),
    Input("read-ppm-high", "value"),
    Input("read-lb", "value"),
    State("session-id", "data"),
    prevent_initial_call=True,
)
def read_upload(token, orientation, kind, grid_text, ppm_low, ppm_high, line_broadening, session_id):
    """Read the session's uploaded file with the chosen options; select it, or explain what is wrong."""
    stored = store.get(session_id, "upload-raw") if token else None
    if stored is None:
        return no_update, no_update, no_update if not token else problem("The uploaded file has expired; upload "
                                                                          "it again.")
    arrays, meta = stored
    data, filename = arrays["bytes"].tobytes(), meta["filename"]
    try:
        options = read_options(orientation, kind, grid_text, ppm_low, ppm_high, line_broadening)
        dataset = read_upload_isolated(data, filename, options)
        key = put_upload(session_id, dataset, digest_of(data, json.dumps(options.__dict__, sort_keys=True,
                                                                         default=str)))
    except (DataFormatError, store.StoreError) as exc:
        return no_update, no_update, problem(exc)
    K, L = dataset.X.shape
    return key, None, notice(f"Read {filename}: {K} × {L}.")
