"""Grid.affine: the voxel-to-scanner affine of an upload, from the NIfTI-MRS header to the app's store.

Expected affines come from nibabel reading the same bytes (``image.affine``: sform when its code is set, else
qform) and expected axis names from the direction each affine column points in, worked out here; never from
the reader's own code.
"""

import dataclasses
import io
import json
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from bad_files import MRS_META, small_fids
from scipy.spatial.transform import Rotation

from gppnmf_core.dataset import Axis, Dataset, Grid
from gppnmf_core.io import DataFormatError, ReadOptions, read_dataset, write_nifti_mrs
from gppnmf_core.io.isolated import read_dataset_isolated
from gppnmf_core.io.record import dataset_from_bytes, dataset_from_record, dataset_to_bytes, dataset_to_record

REAL = Path(__file__).parent / "data" / "real"
DWELL, SF = 5e-4, 25.85
#: Name of an axis running towards each RAS letter (its low end first), as the views read names.
TOWARDS = {"R": "left-right", "L": "right-left", "A": "posterior-anterior", "P": "anterior-posterior",
           "S": "inferior-superior", "I": "superior-inferior"}


def expected_names(affine) -> tuple[str, ...]:
    """Each voxel axis named by the scanner axis its column points along most (RAS+), with its sign."""
    names = []
    for column in np.asarray(affine)[:3, :3].T:
        world = int(np.argmax(np.abs(column)))
        names.append(TOWARDS["RAS"[world] if column[world] > 0 else "LPI"[world]])
    return tuple(names)


def oblique_flipped() -> np.ndarray:
    """Voxel i runs towards P, j towards S (tilted 20° about x), k towards L; 3 × 4 × 5 mm voxels; a left-handed
    (flipped) frame."""
    columns = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, 1.0], [-1.0, 0.0, 0.0]]).T  # i → -y, j → +z, k → -x
    tilt = Rotation.from_euler("x", 20, degrees=True).as_matrix()
    affine = np.eye(4)
    affine[:3, :3] = tilt @ columns @ np.diag([3.0, 4.0, 5.0])
    affine[:3, 3] = [12.5, -40.25, 7.0]
    return affine


OBLIQUE_NAMES = ("anterior-posterior", "inferior-superior", "right-left")


def _fids(shape=(2, 3, 2), n_t=128, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n_t) * DWELL
    line = np.exp(-2j * np.pi * 100.0 * t - t / 0.02)
    amplitudes = 1.0 + rng.random(shape)
    noise = 1e-3 * (rng.standard_normal(shape + (n_t,)) + 1j * rng.standard_normal(shape + (n_t,)))
    return (amplitudes[..., None] * line + noise).astype(np.complex64)


def _nibabel_affine(content: bytes) -> np.ndarray:
    return nib.Nifti2Image.from_bytes(content).affine if content[4:7] == b"n+2" else \
        nib.Nifti1Image.from_bytes(content).affine


@pytest.fixture(scope="module")
def oblique():
    content = write_nifti_mrs(_fids(), DWELL, SF, affine=oblique_flipped())
    return content, read_dataset(content, "oblique.nii")


# ------------------------------------------------------------------------------------------ the Grid record


def test_grid_without_affine_is_as_before():
    grid = Grid((2, 3), names=("x", "y"))
    assert grid.affine is None and grid == Grid((2, 3), names=("x", "y"), unit="voxel")
    assert hash(grid) == hash(Grid((2, 3), names=("x", "y")))


def test_grid_affine_is_a_read_only_float64_copy():
    given = oblique_flipped()
    grid = Grid((2, 3, 2), affine=given)
    assert grid.affine.dtype == np.float64 and grid.affine.shape == (4, 4) and not grid.affine.flags.writeable
    given[0, 0] = 99.0  # the caller's array is not the grid's
    np.testing.assert_array_equal(grid.affine, oblique_flipped())
    with pytest.raises(ValueError):
        grid.affine[0, 0] = 1.0
    assert Grid((1,), affine=[[2, 0, 0, 1], [0, 2, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1]]).affine.dtype == np.float64


def test_grids_compare_and_hash_by_value_with_their_affine():
    a = Grid((2, 3, 2), names=OBLIQUE_NAMES, affine=oblique_flipped())
    b = Grid((2, 3, 2), names=OBLIQUE_NAMES, affine=oblique_flipped().tolist())
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != Grid((2, 3, 2), names=OBLIQUE_NAMES)
    assert a != Grid((2, 3, 2), names=OBLIQUE_NAMES, affine=np.diag([1.0, 2.0, 3.0, 1.0]))
    negative_zero = np.diag([1.0, 1.0, 1.0, 1.0])
    negative_zero[0, 1] = -0.0
    assert Grid((1,), affine=negative_zero) == Grid((1,), affine=np.eye(4))
    assert hash(Grid((1,), affine=negative_zero)) == hash(Grid((1,), affine=np.eye(4)))
    assert dataclasses.replace(a, names=()) == Grid((2, 3, 2), affine=a.affine)


@pytest.mark.parametrize("bad, words", [
    (np.eye(3), "shape (4, 4)"),
    (np.ones(16), "shape (4, 4)"),
    ([["a"] * 4] * 4, "4 x 4 array of numbers"),
    (np.where(np.eye(4) > 0, np.nan, 0.0), "finite"),
    (np.where(np.eye(4) > 0, np.inf, 0.0), "finite"),
    (np.zeros((4, 4)), "last row"),
    (np.diag([1.0, 1.0, 1.0, 2.0]), "last row"),
    (np.diag([1.0, 0.0, 1.0, 1.0]), "invertible"),
    (np.array([[1.0, 2, 3, 0], [2, 4, 6, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), "invertible"),
])
def test_a_bad_affine_is_refused_naming_the_argument(bad, words):
    with pytest.raises(ValueError, match="affine") as error:
        Grid((2, 2, 2), affine=bad)
    assert words in str(error.value)


# ------------------------------------------------------------------------------------------ NIfTI-MRS


def test_an_oblique_flipped_affine_is_read_as_written(oblique):
    content, ds = oblique
    assert isinstance(ds.cols, Grid) and ds.cols.shape == (2, 3, 2)
    np.testing.assert_array_equal(ds.cols.affine, oblique_flipped())  # NIfTI-2 keeps the sform in float64
    np.testing.assert_array_equal(ds.cols.affine, _nibabel_affine(content))
    assert nib.aff2axcodes(ds.cols.affine) == ("P", "S", "L")
    assert ds.cols.names == OBLIQUE_NAMES == expected_names(oblique_flipped())
    assert "oblique: up to 20°" in ds.description and "right-left" in ds.description


def test_the_views_read_the_orientation_of_the_names(oblique):
    figures = pytest.importorskip("components.views.figures")
    nifti_maps = pytest.importorskip("components.views.nifti_maps")
    _, ds = oblique
    assert [figures.direction_letters(n) for n in ds.cols.names] == [("A", "P"), ("I", "S"), ("R", "L")]
    assert figures.orientation_labels(ds.cols) == {"left": "A", "right": "P", "top": "I", "bottom": "S"}
    affine, code, note = nifti_maps.grid_affine(ds.cols)
    np.testing.assert_array_equal(affine, oblique_flipped())
    assert code == nifti_maps.SCANNER and "header" in note


def test_nifti1_files_give_nibabels_affine():
    affine = oblique_flipped()
    image = nib.Nifti1Image(small_fids((2, 2, 1, 64)), affine)
    image.header.set_xyzt_units("mm", "sec")
    image.header.set_zooms((3.0, 4.0, 5.0, DWELL))
    image.set_sform(affine, code="scanner")
    image.header["intent_name"] = b"mrs_v0_3"
    image.header.extensions.append(nib.nifti1.Nifti1Extension(44, json.dumps(MRS_META).encode()))
    content = image.to_bytes()
    ds = read_dataset(content, "one.nii")
    np.testing.assert_array_equal(ds.cols.affine, _nibabel_affine(content))  # the float32 sform, as nibabel has it
    np.testing.assert_allclose(ds.cols.affine, affine, atol=1e-5)
    assert ds.cols.names == OBLIQUE_NAMES


def _with_codes(sform_code: int, qform_code: int, sform=None, qform=None, units="mm") -> bytes:
    image = nib.Nifti2Image(small_fids((2, 2, 1, 64)), np.eye(4))
    header = image.header
    header.set_xyzt_units(units, "sec")
    header.set_zooms((10.0, 10.0, 10.0, DWELL))  # before the qform, which sets the voxel sizes of its own
    if qform is not None:
        header.set_qform(qform, code=qform_code)
    if sform is not None:
        header.set_sform(sform, code=sform_code)
    header["sform_code"], header["qform_code"] = sform_code, qform_code
    header["intent_name"] = b"mrs_v0_3"
    header.extensions.append(nib.nifti1.Nifti1Extension(44, json.dumps(MRS_META).encode()))
    image.update_header = lambda: None  # keep the codes and transforms exactly as set
    return image.to_bytes()


def test_without_sform_or_qform_codes_no_orientation_is_invented():
    content = _with_codes(0, 0, sform=oblique_flipped(), qform=oblique_flipped())
    header = nib.Nifti2Header.from_fileobj(io.BytesIO(content))
    assert (int(header["sform_code"]), int(header["qform_code"])) == (0, 0)
    ds = read_dataset(content, "plain.nii")
    assert ds.cols == Grid((2, 2, 1), names=("x", "y", "z"), unit="voxel")
    assert ds.cols.affine is None and "no orientation" in ds.description


def test_the_qform_is_used_when_only_it_is_coded():
    qform = np.diag([-4.0, 4.0, 6.0, 1.0])
    qform[:3, 3] = [1.0, 2.0, 3.0]
    content = _with_codes(0, 1, sform=oblique_flipped(), qform=qform)
    ds = read_dataset(content, "q.nii")
    np.testing.assert_allclose(ds.cols.affine, qform, atol=1e-12)
    np.testing.assert_allclose(ds.cols.affine, _nibabel_affine(content), atol=1e-12)
    assert ds.cols.names == ("right-left", "posterior-anterior", "inferior-superior")
    assert "from the qform" in ds.description


def test_the_sform_wins_over_the_qform():
    content = _with_codes(1, 1, sform=oblique_flipped(), qform=np.diag([-4.0, 4.0, 6.0, 1.0]))
    ds = read_dataset(content, "s.nii")
    np.testing.assert_array_equal(ds.cols.affine, oblique_flipped())
    np.testing.assert_array_equal(ds.cols.affine, _nibabel_affine(content))


def test_a_singular_sform_falls_back_to_the_qform_with_a_note():
    singular = np.diag([1.0, 0.0, 1.0, 1.0])
    content = _with_codes(2, 1, sform=singular, qform=np.diag([4.0, 4.0, 6.0, 1.0]))
    ds = read_dataset(content, "damaged.nii")
    np.testing.assert_allclose(ds.cols.affine, np.diag([4.0, 4.0, 6.0, 1.0]), atol=1e-12)
    assert "sform (code 2) is not a usable affine" in ds.description
    only = read_dataset(_with_codes(2, 0, sform=singular), "only.nii")
    assert only.cols.affine is None and only.cols.names == ("x", "y", "z")


def test_coordinates_in_metres_are_converted_to_mm():
    affine = np.diag([0.003, 0.004, 0.005, 1.0])
    affine[:3, 3] = [0.1, -0.2, 0.3]
    ds = read_dataset(_with_codes(1, 0, sform=affine, units="meter"), "m.nii")
    expected = affine.copy()
    expected[:3] *= 1000.0
    np.testing.assert_allclose(ds.cols.affine, expected, rtol=1e-12)
    assert "converted to mm" in ds.description


def test_kept_repeats_follow_the_voxel_axes_under_the_same_affine():
    fids = np.stack([_fids((2, 1, 1), seed=s) for s in range(3)], axis=-1)  # (2, 1, 1, n_t, 3 repeats)
    content = write_nifti_mrs(fids, DWELL, SF, dim_tags=("DIM_DYN",), affine=oblique_flipped())
    kept = read_dataset(content, "dyn.nii", ReadOptions(dynamics="keep"))
    assert kept.cols.shape == (2, 1, 1, 3) and kept.cols.names == OBLIQUE_NAMES + ("dyn",)
    np.testing.assert_array_equal(kept.cols.affine, oblique_flipped())
    averaged = read_dataset(content, "dyn.nii")
    assert averaged.cols.shape == (2, 1, 1) and averaged.cols.names == OBLIQUE_NAMES


def test_a_single_voxel_series_kept_in_time_has_no_affine():
    fids = np.stack([_fids((1, 1, 1), seed=s) for s in range(3)], axis=-1)
    content = write_nifti_mrs(fids, DWELL, SF, dim_tags=("DIM_DYN",), affine=oblique_flipped())
    kept = read_dataset(content, "dyn.nii", ReadOptions(dynamics="keep"))
    assert isinstance(kept.cols, Axis)  # the observations are repeats, not places


def test_grid_shape_option_keeps_the_affine_only_for_the_files_own_grid(oblique):
    content, ds = oblique
    same = read_dataset(content, "oblique.nii", ReadOptions(grid_shape=(2, 3, 2)))
    assert same.cols == ds.cols
    other = read_dataset(content, "oblique.nii", ReadOptions(grid_shape=(3, 4)))
    assert other.cols == Grid((3, 4), names=("x", "y"), unit="voxel")
    assert "was dropped" in other.description


# ------------------------------------------------------------------------------------------ real files


@pytest.mark.parametrize("name", ["nmt_metab_raw.nii.gz", "nmt_wref_raw.nii.gz"])
def test_real_single_voxel_files_give_a_1x1x1_grid_with_nibabels_affine(name):
    image = nib.load(REAL / name)
    assert image.shape[:3] == (1, 1, 1)  # the real NIfTI-MRS files are single-voxel
    ds = read_dataset((REAL / name).read_bytes(), name)
    assert isinstance(ds.cols, Grid) and ds.cols.shape == (1, 1, 1)
    np.testing.assert_array_equal(ds.cols.affine, image.affine)
    assert int(image.header["sform_code"]) > 0
    assert nib.aff2axcodes(ds.cols.affine) == nib.aff2axcodes(image.affine) == ("R", "P", "I")
    assert ds.cols.names == ("left-right", "anterior-posterior", "superior-inferior") == expected_names(image.affine)


def test_a_real_rda_file_keeps_the_affine_spec2nii_writes():
    pytest.importorskip("spec2nii")
    from gppnmf_core.io.vendor import convert_vendor

    name = "suspect_SVS_30.rda"
    data = (REAL / name).read_bytes()
    converted = convert_vendor(data, name, ".rda", ReadOptions())
    expected = _nibabel_affine(converted.nifti)
    ds = read_dataset(data, name)
    np.testing.assert_array_equal(ds.cols.affine, expected)
    assert ds.cols.names == expected_names(expected)


# ------------------------------------------------------------------------------------------ record and store


def test_record_round_trip_keeps_the_affine(oblique):
    _, ds = oblique
    back = dataset_from_bytes(dataset_to_bytes(ds), max_bytes=2**30)
    assert back.cols == ds.cols
    np.testing.assert_array_equal(back.cols.affine, oblique_flipped())
    arrays, meta = dataset_to_record(ds)
    meta = json.loads(json.dumps(meta))
    assert dataset_from_record(arrays, meta).cols == ds.cols
    del meta["cols"]["affine"]  # a record written before grids had an affine
    assert dataset_from_record(arrays, meta).cols.affine is None


@pytest.mark.parametrize("affine", [
    [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]],
    [["1", 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
    [[True, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
    [[float("nan"), 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
    [[0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
    "eye",
    {"a": 1},
])
def test_a_forged_affine_in_the_readers_answer_is_refused(oblique, affine):
    _, ds = oblique
    blob = dataset_to_bytes(ds)
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(members["meta.json"])
    meta["cols"]["affine"] = affine
    members["meta.json"] = json.dumps(meta).encode()
    forged = io.BytesIO()
    with zipfile.ZipFile(forged, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    with pytest.raises(DataFormatError, match="affine"):
        dataset_from_bytes(forged.getvalue(), max_bytes=2**30)


def test_the_isolated_reader_hands_the_affine_over(oblique):
    content, ds = oblique
    isolated = read_dataset_isolated(content, "oblique.nii")
    assert isolated.cols == ds.cols
    np.testing.assert_array_equal(isolated.cols.affine, oblique_flipped())


def test_the_apps_store_keeps_the_affine(oblique, tmp_path, monkeypatch):
    data_source = pytest.importorskip("components.services.data_source")
    from components.services import store
    from components.services.store_backends import FileBackend

    _, ds = oblique
    spec = json.loads(json.dumps(data_source._axis_to_json(ds.cols)))
    assert data_source._axis_from_json(spec, np.empty(0)) == ds.cols
    del spec["affine"]  # an entry stored before grids had an affine
    assert data_source._axis_from_json(spec, np.empty(0)).affine is None
    plain = Grid((2, 2), names=("x", "y"))
    assert data_source._axis_from_json(json.loads(json.dumps(data_source._axis_to_json(plain))), None) == plain

    monkeypatch.setattr(store, "_backend", FileBackend(data_source.config.private_directory(tmp_path / "s")))
    monkeypatch.setattr(data_source, "_cache", data_source._UploadCache(4, 64 * 2**20))
    token = store.new_session_id()
    key = data_source.put_upload(token, ds, data_source.digest_of(b"oblique", "affine"))
    loaded = data_source.load_dataset(key, token)
    assert isinstance(loaded, Dataset) and loaded.cols == ds.cols
    np.testing.assert_array_equal(loaded.cols.affine, oblique_flipped())


# ------------------------------------------------------------------------------------------ properties


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@st.composite
def affines(draw):
    """Scanner affines: a signed permutation of the axes, tilted by up to 25°, anisotropic voxels, any shift."""
    order = draw(st.permutations([0, 1, 2]))
    signs = draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=3, max_size=3))
    axes = np.zeros((3, 3))
    for i, (world, sign) in enumerate(zip(order, signs, strict=True)):
        axes[world, i] = sign
    rotvec = np.array(draw(st.lists(st.floats(-1.0, 1.0), min_size=3, max_size=3)))
    norm = float(np.linalg.norm(rotvec))
    tilt = Rotation.from_rotvec(rotvec / norm * np.radians(25.0) * min(norm, 1.0) if norm > 0 else rotvec)
    sizes = draw(st.lists(st.floats(0.5, 30.0), min_size=3, max_size=3))
    affine = np.eye(4)
    affine[:3, :3] = tilt.as_matrix() @ axes @ np.diag(sizes)
    affine[:3, 3] = draw(st.lists(st.floats(-200.0, 200.0), min_size=3, max_size=3))
    return affine


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(affine=affines(), shape=st.tuples(st.integers(1, 3), st.integers(1, 2), st.integers(1, 2)))
def test_any_scanner_affine_survives_reading_and_storage(affine, shape):
    if int(np.prod(shape)) < 2:
        shape = (2,) + shape[1:]
    content = write_nifti_mrs(_fids(shape, n_t=64), DWELL, SF, affine=affine)
    ds = read_dataset(content, "any.nii")
    np.testing.assert_array_equal(ds.cols.affine, _nibabel_affine(content))
    np.testing.assert_array_equal(ds.cols.affine, affine + 0.0)
    assert ds.cols.names == expected_names(affine)
    assert tuple(TOWARDS[c] for c in nib.aff2axcodes(affine)) == ds.cols.names
    assert dataset_from_bytes(dataset_to_bytes(ds), max_bytes=2**30).cols == ds.cols


@pytest.mark.parametrize("field, value", [("srow_x", np.nan), ("srow_y", np.inf), ("quatern_b", np.nan)])
def test_a_damaged_transform_gives_no_orientation_and_says_so(field, value):
    content = bytearray(_with_codes(1 if field.startswith("srow") else 0, 0 if field.startswith("srow") else 1,
                                    sform=np.diag([2.0, 2.0, 2.0, 1.0]), qform=np.diag([2.0, 2.0, 2.0, 1.0])))
    offset = nib.Nifti2Header.template_dtype.fields[field][1]
    content[offset: offset + 8] = np.float64(value).tobytes()
    ds = read_dataset(bytes(content), "damaged.nii")
    assert ds.cols.affine is None and ds.cols.names == ("x", "y", "z")
    assert "not a usable affine" in ds.description and "no usable orientation" in ds.description


def test_batch_results_keep_the_grid_affine():
    from gppnmf_core.batch import fit_record

    content = write_nifti_mrs(_fids(), DWELL, SF, affine=oblique_flipped())
    arrays, _ = fit_record(content, "oblique.nii", settings=None, rank=1, methods=("cnmf",), max_iter=20)
    np.testing.assert_allclose(arrays["grid_affine"], oblique_flipped())
