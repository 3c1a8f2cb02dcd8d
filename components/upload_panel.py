"""Uploads: drag-and-drop a file, choose how it is read, get it or a clear message back.

The file travels once: its bytes are checked against the size limit and kept
in the session's server-side store; changing a reading option re-reads them
from there. Reading is the core's job (``gppnmf_core.io.read_dataset``), which
raises ``DataFormatError`` with a message meant for the page.
"""

from __future__ import annotations

import base64
import binascii
import json
import os

import numpy as np
from dash import Input, Output, State, callback, dcc, html, no_update

from gppnmf_core.io import DataFormatError, ReadOptions, read_dataset

from . import store
from .data_source import digest_of, put_upload
from .messages import notice, problem

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
    if len(encoded) * 3 // 4 > MAX_UPLOAD_BYTES:
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


def read_options(orientation, kind, grid_text, ppm_low, ppm_high, line_broadening) -> ReadOptions:
    ppm = None
    if ppm_low is not None or ppm_high is not None:
        if ppm_low is None or ppm_high is None:
            raise DataFormatError("ppm range: give both ends, or neither")
        ppm = (float(min(ppm_low, ppm_high)), float(max(ppm_low, ppm_high)))
    return ReadOptions(orientation=orientation or "auto", kind=kind or "auto", grid_shape=parse_grid(grid_text),
                       ppm_range=ppm, line_broadening_hz=float(line_broadening or 0.0))


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
    filename = os.path.basename(str(filename or "upload"))
    try:
        data = decode_upload(contents, filename)
    except DataFormatError as exc:
        return no_update, None, problem(exc)
    store.put(session_id, "upload-raw", {"bytes": np.frombuffer(data, dtype=np.uint8)}, {"filename": filename})
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
        dataset = read_dataset(data, filename, options)
    except (DataFormatError, ValueError) as exc:
        return no_update, no_update, problem(exc)
    key = put_upload(session_id, dataset, digest_of(data, json.dumps(options.__dict__, sort_keys=True, default=str)))
    K, L = dataset.X.shape
    return key, None, notice(f"Read {filename}: {K} × {L}.")
