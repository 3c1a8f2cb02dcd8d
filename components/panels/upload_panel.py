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
import logging
import math
import os
import re
import struct
import subprocess
import sys
from dataclasses import fields

import numpy as np
from dash import Input, Output, State, callback, dcc, html, no_update

import gppnmf_core.io as gio
from components import ids
from components.panels.callback_context import triggered_id
from components.services import config, store
from components.services.data_source import digest_of, put_upload
from components.services.sessions import SessionError
from components.views.messages import notice, problem
from components.views.theme import HIDDEN, SHOWN
from gppnmf_core.io import DataFormatError, ReadOptions, max_bytes, read_dataset_isolated
from gppnmf_core.io.options import CHOICES

#: Largest file accepted, from GPPNMF_MAX_UPLOAD_MB (default 64 MiB).
MAX_UPLOAD_BYTES = int(float(os.environ.get("GPPNMF_MAX_UPLOAD_MB", "64")) * 2**20)
FORMATS = ".nii, .nii.gz (NIfTI-MRS), .npy, .npz, .csv, .tsv, .txt, .mat (v5)"

log = logging.getLogger(__name__)


def _choice(label: str, control_id: str, options: dict, value: str) -> html.Fieldset:
    """Radio buttons as a fieldset whose legend names the group (how screen readers announce radio groups)."""
    return html.Fieldset(className="field choice-group", children=[
        html.Legend(label),
        dcc.RadioItems(id=control_id, value=value, inline=True, className="choices",
                       options=[{"label": f" {v}", "value": k} for k, v in options.items()]),
    ])


def _number(label: str, control_id: str, **extra) -> html.Div:
    """A labelled number box (the label's htmlFor names the box); commits on Enter or leaving the box."""
    return html.Div(className="field", children=[
        html.Label(label, htmlFor=control_id),
        dcc.Input(id=control_id, type="number", debounce=True, className="number", **extra),
    ])


def _variable(label: str, control_id: str) -> html.Div:
    return html.Div(className="field variable", children=[
        html.Label(label, htmlFor=control_id),
        dcc.Dropdown(id=control_id, options=[], value=None, clearable=True, searchable=True,
                     placeholder="automatic", className="variable-picker"),
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
            html.P("Changing an option reads the stored file again.", className="hint"),
            html.Div(className="option-grid", children=[
                _choice("orientation", "read-orientation", {"auto": "auto", "features_first": "rows are spectra points",
                                                            "observations_first": "rows are voxels"}, "auto"),
                _choice("content", "read-kind", {"auto": "auto", "spectra": "spectra", "fid": "FIDs (time domain)"},
                        "auto"),
                html.Div(className="field", children=[
                    html.Label("voxel grid, e.g. 8,8,8", htmlFor="read-grid"),
                    dcc.Input(id="read-grid", type="text", debounce=True, className="text", placeholder="from file"),
                ]),
                html.Div(className="field", children=[
                    html.Label("ppm range (low, high)", htmlFor="read-ppm-low"),
                    html.Div(className="pair", children=[
                        dcc.Input(id="read-ppm-low", type="number", debounce=True, className="number",
                                  placeholder="low"),
                        html.Label("ppm range, high end", htmlFor="read-ppm-high", className="visually-hidden"),
                        dcc.Input(id="read-ppm-high", type="number", debounce=True, className="number",
                                  placeholder="high"),
                    ]),
                ]),
                _choice("crop (without a ppm range)", "read-crop",
                        {"auto": "nucleus default", "none": "none (full width)"}, "auto"),
                _number("line broadening (Hz)", "read-lb", value=0, min=0),
            ]),
            html.H4("Spectroscopy: FIDs and NIfTI-MRS", className="option-heading"),
            html.Div(className="number-row", children=[
                _number("reference (ppm)", "read-reference", placeholder="from file"),
                _number("spectrometer frequency (MHz)", "read-mhz", min=0, placeholder="from file"),
                _number("dwell time (µs)", "read-dwell", min=0, placeholder="from file"),
            ]),
            html.Div(className="option-grid", children=[
                _choice("FID convention", "read-conjugate",
                        {"auto": "auto", "yes": "conjugate (NIfTI-MRS)", "no": "as stored (mirrored)"}, "auto"),
                _choice("phase", "read-phase", {"auto": "auto", "zero_order": "zero-order", "none": "none"}, "auto"),
                _choice("frequency alignment", "read-align", {"auto": "auto", "none": "none"}, "auto"),
                _choice("residual water (4.2–5.2 ppm)", "read-water",
                        {"keep": "keep", "remove": "remove (HLSVD)"}, "keep"),
                _choice("dynamics (repeats, time points)", "read-dynamics",
                        {"average": "average", "keep": "keep as observations"}, "average"),
                html.Div(className="field", children=[
                    _choice("other dimensions (edit, user …)", "read-other-dims",
                            {"average": "average", "keep": "keep", "index": "one index"}, "average"),
                    html.Label("index (from 0)", htmlFor="read-other-index", className="sub-label"),
                    dcc.Input(id="read-other-index", type="number", value=0, min=0, step=1, debounce=True,
                              className="number"),
                ]),
            ]),
            html.Div(id="read-array-options", style=HIDDEN, children=[
                html.H4("Arrays in .mat and .npz files", className="option-heading"),
                html.Div(className="option-grid", children=[
                    _variable("data variable", "read-variable"),
                    _variable("axis variable", "read-axis-variable"),
                    _choice("axis unit", "read-axis-unit", {"auto": "auto", "ppm": "ppm", "Hz": "Hz"}, "auto"),
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
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataFormatError(f"{what} must be a number, got {str(value)[:40]!r}")
    return float(value)


def _word(value, what: str) -> str:
    """A radio button's value (None: "auto"); the reading option itself checks it is one of its words."""
    if value is None:
        return "auto"
    if not isinstance(value, str):
        raise DataFormatError(f"{what}: the page sent {str(value)[:40]!r}, which is not one of the choices")
    return value


def _name_or_none(value, what: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise DataFormatError(f"{what} must be the name of an array in the file, got {str(value)[:40]!r}")
    return value.strip()


#: Each reading control's id → the keyword of :func:`read_options` it feeds (the callback's inputs, in order).
READ_CONTROLS = {
    "read-orientation": "orientation", "read-kind": "kind", "read-grid": "grid_text",
    "read-ppm-low": "ppm_low", "read-ppm-high": "ppm_high", "read-crop": "crop", "read-lb": "line_broadening",
    "read-reference": "reference_ppm", "read-mhz": "spectrometer_mhz", "read-dwell": "dwell_us",
    "read-conjugate": "conjugate", "read-phase": "phase", "read-align": "align", "read-dynamics": "dynamics",
    "read-other-dims": "other_dims", "read-other-index": "other_index", "read-variable": "variable",
    "read-axis-variable": "axis_variable", "read-axis-unit": "axis_unit", "read-water": "water",
}


def read_options(orientation="auto", kind="auto", grid_text=None, ppm_low=None, ppm_high=None, line_broadening=0,
                 *, crop="auto", reference_ppm=None, spectrometer_mhz=None, dwell_us=None, conjugate="auto",
                 phase="auto", align="auto", dynamics="average", other_dims="average", other_index=0,
                 variable=None, axis_variable=None, axis_unit="auto", water="keep") -> ReadOptions:
    """The reading options from the panel's controls (their values as the page sends them).

    Parameters
    ----------
    orientation, kind, crop, conjugate, phase, align, dynamics, other_dims, axis_unit, water : str
        The radio buttons' values: the words of the :class:`~gppnmf_core.io.ReadOptions` field of the same
        name (None: the field's default).
    grid_text : str or None
        The voxel grid box, e.g. ``"8,8,8"`` → ``grid_shape``.
    ppm_low, ppm_high : float or None
        The ppm range boxes → ``ppm_range`` (both or neither; either order).
    line_broadening : float or None
        Hz → ``line_broadening_hz`` (None: 0).
    reference_ppm : float or None
        ppm → ``reference_ppm``.
    spectrometer_mhz : float or None
        MHz → ``spectrometer_mhz``.
    dwell_us : float or None
        The dwell time box, in **microseconds** → ``dwell_time_s`` (seconds).
    other_index : int or None
        0-based index along other dimensions → ``other_index`` (None: 0).
    variable, axis_variable : str or None
        Array names of a .mat or .npz file → ``variable``, ``axis_variable``.

    Returns
    -------
    ReadOptions

    Raises
    ------
    DataFormatError
        For anything a control cannot send (a forged value), with a message for the page.
    """
    ppm_low, ppm_high = _number_or_none(ppm_low, "ppm range"), _number_or_none(ppm_high, "ppm range")
    ppm = None
    if ppm_low is not None or ppm_high is not None:
        if ppm_low is None or ppm_high is None:
            raise DataFormatError("ppm range: give both ends, or neither")
        ppm = (min(ppm_low, ppm_high), max(ppm_low, ppm_high))
    dwell = _number_or_none(dwell_us, "dwell time (µs)")
    index = _number_or_none(other_index, "index along other dimensions")
    if index is not None and not index.is_integer():
        raise DataFormatError(f"index along other dimensions must be a whole number >= 0, got {index:g}")
    words = {name: _word(value, name.replace("_", " ")) for name, value in (
        ("orientation", orientation), ("kind", kind), ("crop", crop), ("conjugate", conjugate), ("phase", phase),
        ("align", align), ("axis_unit", axis_unit), ("water", water))}
    words["dynamics"] = "average" if dynamics is None else _word(dynamics, "dynamics")
    words["other_dims"] = "average" if other_dims is None else _word(other_dims, "other dimensions")
    try:
        return ReadOptions(
            **words,
            grid_shape=parse_grid(grid_text if isinstance(grid_text, (str, type(None))) else "?"),
            ppm_range=ppm, line_broadening_hz=_number_or_none(line_broadening, "line broadening") or 0.0,
            reference_ppm=_number_or_none(reference_ppm, "reference (ppm)"),
            spectrometer_mhz=_number_or_none(spectrometer_mhz, "spectrometer frequency (MHz)"),
            dwell_time_s=None if dwell is None else dwell * 1e-6,
            other_index=0 if index is None else int(index),
            variable=_name_or_none(variable, "data variable"),
            axis_variable=_name_or_none(axis_variable, "axis variable"),
        )
    except ValueError as exc:
        raise DataFormatError(_FIELD.sub(lambda m: FIELD_LABELS.get(m.group(1), m.group(1)), str(exc))) from None


#: What the page calls each ReadOptions field (messages name the control, not the field).
FIELD_LABELS = {"orientation": "orientation", "kind": "content", "grid_shape": "voxel grid",
                "ppm_range": "ppm range", "line_broadening_hz": "line broadening (Hz)", "phase": "phase",
                "reference_ppm": "reference (ppm)", "spectrometer_mhz": "spectrometer frequency (MHz)",
                "dwell_time_s": "dwell time", "crop": "crop", "align": "frequency alignment",
                "conjugate": "FID convention", "dynamics": "dynamics", "other_dims": "other dimensions",
                "other_index": "index along other dimensions", "variable": "data variable",
                "axis_variable": "axis variable", "axis_unit": "axis unit", "water": "residual water"}
_FIELD = re.compile(r"ReadOptions\.(\w+)")

_DEFAULTS = ReadOptions()


#: Units shown after a number in the summary of the options.
_UNITS = {"reference_ppm": "ppm", "spectrometer_mhz": "MHz", "line_broadening_hz": "Hz"}


def options_summary(options: ReadOptions) -> str:
    """The options that differ from the defaults, briefly, in the page's words; "" for none.

    E.g. ``"ppm range 1 to 4.2, spectrometer frequency 246.4 MHz, crop none"``.
    """
    parts = []
    for field in fields(ReadOptions):
        name, value = field.name, getattr(options, field.name)
        if value == getattr(_DEFAULTS, name):
            continue
        label = FIELD_LABELS.get(name, name).split(" (")[0]
        if name == "ppm_range":
            parts.append(f"ppm range {value[0]:g} to {value[1]:g}")
        elif name == "grid_shape":
            parts.append("voxel grid " + " × ".join(map(str, value)))
        elif name == "dwell_time_s":
            parts.append(f"dwell time {value * 1e6:g} µs")
        elif isinstance(value, float):
            parts.append(f"{label} {value:g} {_UNITS.get(name, '')}".rstrip())
        else:  # a choice's word reads better without its underscore; a variable's name is kept as it is
            parts.append(f"{label} {str(value).replace('_', '-') if name in CHOICES else value}")
    return ", ".join(parts)


def read_upload_isolated(data: bytes, filename: str, options: ReadOptions):
    """The core's reader in a limited process; a data set never larger than one session may keep."""
    limit = min(max_bytes(), config.SESSION_QUOTA_BYTES)
    return read_dataset_isolated(data, filename, options, max_data_bytes=limit,
                                 cpu_seconds=int(config.READ_TIMEOUT_S), wall_seconds=config.READ_TIMEOUT_S)


#: Files whose arrays have names to choose from.
ARRAY_CONTAINERS = (".mat", ".npz")
#: The most arrays a listing offers.
MAX_LISTED = 200

# The child of list_arrays_isolated: imports (trusted code), then limits itself like the reader process, then
# reads one request (4-byte length, JSON header, the file) and prints the arrays as JSON. Only its own, bounded,
# output reaches the server.
_LIST_CHILD = """
import json, struct, sys
import gppnmf_core.io as gio
from gppnmf_core.io.worker import limit_resources
limit_resources(int(sys.argv[1]), int(sys.argv[2]))
stdin = sys.stdin.buffer
(n,) = struct.unpack(">I", stdin.read(4))
header = json.loads(stdin.read(n))
try:
    found = gio.list_arrays(stdin.read(), header["filename"])
    out = [[str(name)[:127], [int(k) for k in tuple(shape)[:8]], str(dtype)[:24]]
           for name, shape, dtype in list(found)[:int(sys.argv[3])]]
    sys.stdout.write(json.dumps({"arrays": out}))
except gio.DataFormatError as exc:
    sys.stdout.write(json.dumps({"error": str(exc)[:2000]}))
"""


def _is_array_name(name: str) -> bool:
    """A variable name, or ``struct.field`` (MAT structs are listed one level deep)."""
    return 0 < len(name) <= 127 and all(part.isidentifier() for part in name.split("."))


def _listing_from_json(text: str) -> list[tuple[str, tuple[int, ...], str]] | None:
    """The child's answer, checked field by field; None when it is not a listing."""
    try:
        answer = json.loads(text)
        arrays = answer["arrays"]
    except (ValueError, KeyError, TypeError):
        return None
    out = []
    for entry in arrays if isinstance(arrays, list) else []:
        ok = (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str) and _is_array_name(entry[0])
              and isinstance(entry[1], list) and all(isinstance(k, int) and k >= 0 for k in entry[1])
              and isinstance(entry[2], str))
        if ok:
            out.append((entry[0], tuple(entry[1]), entry[2]))
    return out


def list_arrays_isolated(data: bytes, filename: str) -> list[tuple[str, tuple[int, ...], str]] | None:
    """The arrays of a .mat or .npz file as (name, shape, dtype), listed outside the server's process.

    The file is untrusted, so ``gppnmf_core.io.list_arrays`` runs in a child
    process that limits its own memory and CPU time first, as the reader
    process does, under a wall-clock limit (the core's own sandboxed
    ``list_arrays_isolated`` is used where it exists). None when the core has
    no ``list_arrays``, the file is not a .mat or .npz, or the child fails:
    the caller falls back to the names in the reader's messages
    (:func:`names_in_text`).
    """
    name = os.path.basename(str(filename or ""))
    if not name.lower().endswith(ARRAY_CONTAINERS):
        return None
    isolated = getattr(gio, "list_arrays_isolated", None)
    if callable(isolated):
        try:
            return [(str(n), tuple(s), str(d)) for n, s, d in list(isolated(data, name))[:MAX_LISTED]]
        except (DataFormatError, TypeError, ValueError):
            return None
    if not callable(getattr(gio, "list_arrays", None)):
        return None
    header = json.dumps({"filename": name}).encode()
    memory = 768 * 2**20 + 4 * len(data)
    try:
        done = subprocess.run([sys.executable, "-c", _LIST_CHILD, str(memory), str(int(config.READ_TIMEOUT_S)),
                               str(MAX_LISTED)],
                              input=struct.pack(">I", len(header)) + header + bytes(data), capture_output=True,
                              timeout=config.READ_TIMEOUT_S, close_fds=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    except (subprocess.TimeoutExpired, OSError):
        return None
    if done.returncode != 0:
        log.warning("array listing of %s ended with status %s", name, done.returncode)
        return None
    return _listing_from_json(done.stdout[:2**20].decode("utf-8", errors="replace"))


_LISTED_IN_ERROR = re.compile(r"(?:numeric arrays|variables|arrays)\s*\(([^()]*)\)")
_TAKEN = re.compile(r"(?:data array|variable) '([A-Za-z_][A-Za-z0-9_]*)'")
_ALSO = re.compile(r"; also ([A-Za-z0-9_, ]+)\.")


def names_in_text(text: str) -> list[str]:
    """Array names the reader mentions: "holds several numeric arrays (f, spectra)", "data array 'X' …; also
    ppm, grid_shape." — the fallback when arrays cannot be listed in a sandbox."""
    text = str(text or "")
    names = []
    for pattern in (_TAKEN, _LISTED_IN_ERROR, _ALSO):
        for found in pattern.findall(text):
            names += [n.strip() for n in found.split(",")]
    seen = dict.fromkeys(n for n in names if n.isidentifier() and len(n) <= 63)
    return list(seen)[:MAX_LISTED]


def variable_options(listing, text: str = "") -> list[dict]:
    """Dropdown options for the data and axis variables: the listed arrays with shape and type, else the names
    found in ``text`` (the reader's message or description)."""
    if listing:
        return [{"label": f"{n} — {' × '.join(map(str, s)) or 'scalar'} {d}", "value": n} for n, s, d in listing]
    return [{"label": n, "value": n} for n in names_in_text(text)]


@callback(
    Output("upload-token", "data"),
    Output("upload", "contents"),
    Output("upload-message", "children", allow_duplicate=True),
    Input("upload", "contents"),
    State("upload", "filename"),
    State(ids.SESSION_ID, "data"),
    prevent_initial_call=True,
)
def receive_upload(contents, filename, session_id):
    """Keep the uploaded bytes server-side for this session (and drop them from the page)."""
    if contents is None:
        return no_update, no_update, no_update
    filename = os.path.basename(str(filename or "upload"))[:200]
    try:
        store.delete(session_id, "upload-raw")  # a failed upload must never leave the previous file in its place
        store.take_rate_token(session_id, "upload", config.UPLOADS_PER_MINUTE)
        data = decode_upload(contents, filename)
        store.put(session_id, "upload-raw", {"bytes": np.frombuffer(data, dtype=np.uint8)}, {"filename": filename})
    except (DataFormatError, store.StoreError, SessionError) as exc:
        return None, None, problem(exc)
    return {"filename": filename, "digest": digest_of(data, "")}, None, notice(
        f"Received {filename} ({len(data):,} bytes).")


@callback(
    Output("read-array-options", "style"),
    Output("read-variable", "options"),
    Output("read-axis-variable", "options"),
    Output("read-variable", "value"),
    Output("read-axis-variable", "value"),
    Input("upload-token", "data"),
    State("read-variable", "value"),
    State("read-axis-variable", "value"),
    State(ids.SESSION_ID, "data"),
    prevent_initial_call=True,
)
def list_upload_arrays(token, variable, axis_variable, session_id):
    """A new file: the array options only for .mat and .npz files, with their arrays listed (in a sandbox);
    the previous file's choices are cleared (left alone when there are none, so nothing is read twice)."""
    cleared = tuple(no_update if value is None else None for value in (variable, axis_variable))
    stored = store.get(session_id, "upload-raw") if token else None
    if stored is None:
        return (HIDDEN, [], [], *cleared)
    arrays, meta = stored
    filename = meta["filename"]
    if not filename.lower().endswith(ARRAY_CONTAINERS):
        return (HIDDEN, [], [], *cleared)
    options = variable_options(list_arrays_isolated(arrays["bytes"].tobytes(), filename))
    return (SHOWN, options, options, *cleared)


@callback(
    Output(ids.DATASET_KEY, "data", allow_duplicate=True),
    Output(ids.DATASET_PICKER, "value"),
    Output("upload-message", "children", allow_duplicate=True),
    Output("read-variable", "options", allow_duplicate=True),
    Output("read-axis-variable", "options", allow_duplicate=True),
    Input("upload-token", "data"),
    *[Input(control, "value") for control in READ_CONTROLS],
    State("read-variable", "options"),
    State(ids.SESSION_ID, "data"),
    prevent_initial_call=True,
)
def read_upload(token, *values):
    """Read the session's uploaded file with the chosen options; select it, or explain what is wrong.

    A new file (the token changed) is read without the previous file's
    variable choices. When the arrays could not be listed, the names the
    reader mentions fill the variable dropdowns.
    """
    *controls, listed, session_id = values
    stored = store.get(session_id, "upload-raw") if token else None
    if stored is None:
        return no_update, no_update, no_update if not token else problem("The uploaded file has expired; upload "
                                                                          "it again."), no_update, no_update
    arrays, meta = stored
    data, filename = arrays["bytes"].tobytes(), meta["filename"]
    chosen = dict(zip(READ_CONTROLS.values(), controls, strict=True))
    if triggered_id() == "upload-token":
        chosen["variable"] = chosen["axis_variable"] = None
    names = no_update
    try:
        options = read_options(**chosen)
        dataset = read_upload_isolated(data, filename, options)
        key = put_upload(session_id, dataset, digest_of(data, json.dumps(options.__dict__, sort_keys=True,
                                                                         default=str)))
    except (DataFormatError, store.StoreError) as exc:
        if filename.lower().endswith(ARRAY_CONTAINERS) and not listed and names_in_text(str(exc)):
            names = variable_options(None, str(exc))
        return no_update, no_update, problem(exc), names, names
    if filename.lower().endswith(ARRAY_CONTAINERS) and not listed and names_in_text(dataset.description):
        names = variable_options(None, dataset.description)
    K, L = dataset.X.shape
    changed = options_summary(options)
    return key, None, notice(f"Read {filename}: {K} × {L}" + (f" ({changed})." if changed else ".")), names, names
