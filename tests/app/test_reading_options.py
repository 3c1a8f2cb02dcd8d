"""'How to read the file': every control maps to its ReadOptions field; forged values get a message.

Callbacks are called as plain functions with a session's stored upload; the
reader runs in its isolated process as on the server.
"""

import json
import sys
import textwrap

import numpy as np
import pytest

import app  # noqa: F401 - registers every callback and binds the cache
from components.panels import upload_panel
from components.services import store
from components.services.data_source import load_dataset
from gppnmf_core.io import DataFormatError, ReadOptions, write_nifti_mrs

MHZ, DWELL = 123.2, 2.5e-4  # 1H at 2.9 T, spectral width 4000 Hz (32.5 ppm)


def _walk(node):
    yield node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children] if children is not None else []:
        if hasattr(child, "to_plotly_json"):
            yield from _walk(child)


def _components():
    return list(_walk(upload_panel.layout()))


def _defaults() -> dict:
    """Each control's value as the page starts, keyed by the read_options keyword it feeds."""
    by_id = {getattr(c, "id", None): c for c in _components()}
    return {name: getattr(by_id[control], "value", None) for control, name in upload_panel.READ_CONTROLS.items()}


def _nifti_1h(nx=2, ny=2, n=1024) -> bytes:
    """A small 1H NIfTI-MRS file: NAA, creatine and choline singlets in every voxel, water referenced at 4.65."""
    t = np.arange(n) * DWELL
    fid = np.zeros(n, complex)
    for ppm, area in ((2.01, 3.0), (3.03, 2.0), (3.20, 1.5)):
        fid += area * np.exp(-2j * np.pi * (ppm - 4.65) * MHZ * t) * np.exp(-np.pi * 4.0 * t)
    amplitude = np.linspace(1.0, 2.0, nx * ny).reshape(nx, ny, 1, 1)
    return write_nifti_mrs(amplitude * fid, DWELL, MHZ, "1H", reference_ppm=4.65)


def _session_with(data: bytes, filename: str) -> tuple[str, dict]:
    session = store.new_session_id()
    store.put(session, "upload-raw", {"bytes": np.frombuffer(data, dtype=np.uint8)}, {"filename": filename})
    return session, {"filename": filename, "digest": "x"}


def _read(session, token, listed=None, **changes):
    values = {**_defaults(), **changes}
    return upload_panel.read_upload(token, *[values[name] for name in upload_panel.READ_CONTROLS.values()],
                                    listed, session)


def test_the_page_starts_with_the_default_reading_options():
    assert upload_panel.read_options(**_defaults()) == ReadOptions()


def test_every_control_is_on_the_page_with_a_label_tied_to_it():
    components = _components()
    ids = {getattr(c, "id", None) for c in components}
    assert set(upload_panel.READ_CONTROLS) <= ids
    label_targets = {c.htmlFor for c in components if type(c).__name__ == "Label" and getattr(c, "htmlFor", None)}
    assert label_targets <= ids  # no label points at nothing
    radios = {c.id for c in components if type(c).__name__ == "RadioItems"}
    for control in set(upload_panel.READ_CONTROLS) - radios:
        assert control in label_targets, f"{control} has no <label for=…>"
    fieldsets = [c for c in components if type(c).__name__ == "Fieldset"]
    grouped = {c.id for f in fieldsets for c in _walk(f) if type(c).__name__ == "RadioItems"}
    assert grouped == radios and all(type(f.children[0]).__name__ == "Legend" for f in fieldsets)
    headings = [c.children for c in components if type(c).__name__ == "H4"]
    assert any("Spectroscopy" in h for h in headings) and any(".mat" in h for h in headings)


@pytest.mark.parametrize("keyword, value, field, expected", [
    ("orientation", "observations_first", "orientation", "observations_first"),
    ("kind", "fid", "kind", "fid"),
    ("grid_text", "8, 8, 8", "grid_shape", (8, 8, 8)),
    ("line_broadening", 5, "line_broadening_hz", 5.0),
    ("crop", "none", "crop", "none"),
    ("reference_ppm", 4.65, "reference_ppm", 4.65),
    ("spectrometer_mhz", 297.2, "spectrometer_mhz", 297.2),
    ("dwell_us", 83.3, "dwell_time_s", pytest.approx(83.3e-6)),
    ("conjugate", "no", "conjugate", "no"),
    ("conjugate", "yes", "conjugate", "yes"),
    ("phase", "zero_order", "phase", "zero_order"),
    ("phase", "none", "phase", "none"),
    ("align", "none", "align", "none"),
    ("dynamics", "keep", "dynamics", "keep"),
    ("other_dims", "keep", "other_dims", "keep"),
    ("other_dims", "index", "other_dims", "index"),
    ("other_index", 3, "other_index", 3),
    ("other_index", 2.0, "other_index", 2),
    ("variable", "spectra_dynamic", "variable", "spectra_dynamic"),
    ("axis_variable", " f ", "axis_variable", "f"),
    ("axis_unit", "Hz", "axis_unit", "Hz"),
    ("axis_unit", "ppm", "axis_unit", "ppm"),
])
def test_each_control_sets_its_reading_option(keyword, value, field, expected):
    options = upload_panel.read_options(**{**_defaults(), keyword: value})
    assert getattr(options, field) == expected
    others = {f: getattr(options, f) for f in ReadOptions.__dataclass_fields__ if f != field}
    assert others == {f: getattr(ReadOptions(), f) for f in others}  # nothing else moved


def test_the_ppm_range_takes_both_ends_in_either_order():
    assert upload_panel.read_options(ppm_low=4.2, ppm_high=0.2).ppm_range == (0.2, 4.2)
    with pytest.raises(DataFormatError, match="both ends"):
        upload_panel.read_options(ppm_low=1.0)


def test_empty_boxes_mean_from_the_file():
    options = upload_panel.read_options(reference_ppm=None, spectrometer_mhz="", dwell_us=None, variable="",
                                        other_index=None, line_broadening=None)
    assert options == ReadOptions()


@pytest.mark.parametrize("keyword, value, said", [
    ("crop", "sometimes", "crop must be one of"),
    ("phase", ["auto"], "phase"),
    ("dynamics", "discard", "dynamics must be one of"),
    ("other_dims", 7, "other dimensions"),
    ("axis_unit", "furlong", "axis unit must be one of"),
    ("conjugate", True, "conjugate"),
    ("dwell_us", "83.3", "dwell time"),
    ("dwell_us", -5, "dwell time"),
    ("dwell_us", float("inf"), "dwell time"),
    ("spectrometer_mhz", 0, "spectrometer frequency"),
    ("reference_ppm", {"ppm": 4.65}, "reference"),
    ("other_index", -1, "index along other dimensions"),
    ("other_index", 1.5, "index along other dimensions"),
    ("variable", "__import__('os')", "data variable"),
    ("axis_variable", ["f"], "axis variable"),
    ("grid_text", 8, "voxel grid"),
    ("line_broadening", "lots", "line broadening"),
])
def test_forged_control_values_are_answered_with_a_message(keyword, value, said):
    with pytest.raises(DataFormatError, match=said):
        upload_panel.read_options(**{**_defaults(), keyword: value})
    session, token = _session_with(_nifti_1h(), "forged.nii")
    key, picker, message, *_ = _read(session, token, **{keyword: value})
    assert key is upload_panel.no_update and message.className == "error" and said.split()[0] in message.children


def test_changing_an_option_reads_the_stored_file_again():
    session, token = _session_with(_nifti_1h(), "svs.nii")
    key, picker, message, *_ = _read(session, token, crop="none")
    full = load_dataset(key, session)
    assert message.children == f"Read svs.nii: {full.X.shape[0]} × 4 (crop none)." and picker is None
    key2, _, message2, *_ = _read(session, token, ppm_low=4.2, ppm_high=1.0)
    cropped = load_dataset(key2, session)
    assert key2 != key and cropped.X.shape[1] == 4 and cropped.X.shape[0] < full.X.shape[0] / 4
    assert cropped.rows.values.max() <= 4.2 and cropped.rows.values.min() >= 1.0
    assert message2.children == f"Read svs.nii: {cropped.X.shape[0]} × 4 (ppm range 1 to 4.2)."
    key3, _, message3, *_ = _read(session, token, crop="none", spectrometer_mhz=MHZ * 2)  # replaces the header's
    spread = load_dataset(key3, session).rows.values
    assert np.ptp(spread) == pytest.approx(np.ptp(full.rows.values) / 2, rel=0.01)
    assert "(spectrometer frequency 246.4 MHz, crop none)" in message3.children


def test_an_expired_upload_is_explained():
    session = store.new_session_id()
    _, _, message, *_ = _read(session, {"filename": "gone.nii", "digest": "x"})
    assert "expired" in message.children


def _two_arrays_npz() -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, f=np.linspace(-500, 500, 64), spectra_dynamic=np.random.default_rng(0).random((64, 8)))
    return buffer.getvalue()


def test_array_options_show_only_for_mat_and_npz_files():
    for name, data, shown in (("two.npz", _two_arrays_npz(), True), ("svs.nii", _nifti_1h(), False)):
        session, token = _session_with(data, name)
        style, options, axis_options, value, axis_value = upload_panel.list_upload_arrays(token, "old", None,
                                                                                          session)
        assert (style == upload_panel.SHOWN) is shown
        assert value is None and axis_value is upload_panel.no_update  # the previous file's choice cleared
        if not shown:
            assert options == axis_options == []


def test_variables_named_in_the_readers_message_fill_the_dropdowns():
    session, token = _session_with(_two_arrays_npz(), "two.npz")
    key, _, message, options, axis_options = _read(session, token, listed=[])
    assert message.className == "error" and "spectra_dynamic" in message.children
    if key is upload_panel.no_update:  # today's reader refuses a file without a usual data name
        assert [o["value"] for o in options] == ["f", "spectra_dynamic"] and axis_options == options
    assert upload_panel.names_in_text("data array 'X' of shape 3 × 4 (float64); also ppm, grid_shape.") == [
        "X", "ppm", "grid_shape"]
    assert upload_panel.names_in_text("nothing here") == []


def test_a_forged_listing_from_the_child_is_dropped_entry_by_entry():
    text = json.dumps({"arrays": [["X", [3, 4], "float64"], ["bad name", [1], "f8"], ["ppm", [-1], "f8"],
                                  ["f", [64], "float64"], "junk", ["s.data", [2], "double"], ["s..x", [2], "f8"]]})
    assert upload_panel._listing_from_json(text) == [("X", (3, 4), "float64"), ("f", (64,), "float64"),
                                                     ("s.data", (2,), "double")]
    assert upload_panel._listing_from_json("not json") is None
    options = upload_panel.variable_options([("X", (3, 4), "float64")])
    assert options == [{"label": "X — 3 × 4 float64", "value": "X"}]


def test_arrays_are_listed_in_a_limited_child_process(tmp_path, monkeypatch):
    """With a core ``list_arrays``, the listing runs in a child that limits itself first, never in the server."""
    import gppnmf_core.io as gio

    def forbidden(*_):
        raise AssertionError("list_arrays ran in the server's own process")

    monkeypatch.setattr(gio, "list_arrays", forbidden, raising=False)
    monkeypatch.delattr(gio, "list_arrays_isolated", raising=False)
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent("""
        import resource
        import gppnmf_core.io as gio

        def list_arrays(data, filename):
            soft, _ = resource.getrlimit(resource.RLIMIT_AS)
            assert soft != resource.RLIM_INFINITY, "the child did not limit itself"
            return [("spectra_dynamic", (2048, 64), "float64"), ("f", (2048,), "float64"), ("bad name", (), "?"),
                    ("seen_" + filename.replace(".", "_"), (), "?")]

        gio.list_arrays = list_arrays
    """))
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}:{':'.join(p for p in sys.path if p)}")
    listing = upload_panel.list_arrays_isolated(b"PK\x03\x04 anything", "../../kidney.npz")
    assert listing == [("spectra_dynamic", (2048, 64), "float64"), ("f", (2048,), "float64"),
                       ("seen_kidney_npz", (), "?")]  # the name without its path; "bad name" dropped
    assert upload_panel.list_arrays_isolated(b"abc", "x.csv") is None  # not a container


def test_without_list_arrays_in_the_core_nothing_is_run(monkeypatch):
    import gppnmf_core.io as gio

    monkeypatch.delattr(gio, "list_arrays", raising=False)
    monkeypatch.delattr(gio, "list_arrays_isolated", raising=False)
    assert upload_panel.list_arrays_isolated(_two_arrays_npz(), "two.npz") is None


def test_a_real_matlab_file_lists_its_variables_in_the_sandbox():
    from pathlib import Path

    path = Path(__file__).parents[1] / "data" / "real" / "larson_ratkidney_rat1_shot1.mat"
    session, token = _session_with(path.read_bytes(), path.name)
    style, options, axis_options, *_ = upload_panel.list_upload_arrays(token, None, None, session)
    assert style == upload_panel.SHOWN and options == axis_options
    assert {"label": "spectra_dynamic — 2048 × 64 double", "value": "spectra_dynamic"} in options


def test_the_message_names_the_options_in_the_pages_words():
    options = upload_panel.read_options(variable="spectra_dynamic", phase="zero_order", dwell_us=83.3,
                                        reference_ppm=4.65, grid_text="8,8,8")
    assert upload_panel.options_summary(options) == ("voxel grid 8 × 8 × 8, phase zero-order, reference 4.65 ppm, "
                                                     "dwell time 83.3 µs, data variable spectra_dynamic")
    assert upload_panel.options_summary(ReadOptions()) == ""
