"""Reading uploads: NIfTI-MRS round trip through the FID pipeline, and the plain-array formats."""

import gzip
import io
import json

import nibabel as nib
import numpy as np
import pytest
import scipy.io
from bad_files import MRS_META, nifti_bytes, npy_bytes, npz_bytes, small_fids

from gppnmf_core import datasets
from gppnmf_core.dataset import Axis, Dataset, Grid
from gppnmf_core.datasets.csi import ATP_J_HZ, GAMMA_31P_MHZ_PER_T, PEAKS_31P
from gppnmf_core.io import MAX_BYTES, DataFormatError, ReadOptions, read_dataset, write_nifti_mrs

SF = 25.85  # MHz, 31P at 1.5 T
DWELL = 1.0 / 2000.0
N_T = 1024
GRID = (4, 4, 2)
FULL = ReadOptions(crop="none")  # the whole spectral width (the default crops 31P to -20...10 ppm)
_LINES = {1: ((0.0, 1.0),), 2: ((-0.5, 0.5), (0.5, 0.5)), 3: ((-1.0, 0.25), (0.0, 0.5), (1.0, 0.25))}


def brain_signal(n_t=N_T, dwell=DWELL, sf=SF, extra_width_hz=0.0):
    """Ideal FID of the phantom's brain spectrum (complex exponentials with Lorentzian decay), shape (n_t,).

    Positive frequency = higher chemical shift: the physical convention *before* NIfTI-MRS storage.
    """
    t = np.arange(n_t) * dwell
    signal = np.zeros(n_t, dtype=complex)
    for peak in PEAKS_31P:
        for offset, weight in _LINES[peak.multiplicity]:
            freq = peak.ppm * sf + offset * ATP_J_HZ
            signal += peak.brain * weight * np.exp((2j * np.pi * freq - np.pi * (peak.linewidth_hz + extra_width_hz))
                                                   * t)
    return signal


def stored_fids(amplitudes=None, phases=None, seed=0):
    """FIDs on GRID in the NIfTI-MRS convention (the conjugate), with a zero-order phase per voxel.

    The default phases are a common receiver phase (2.5 rad) plus a random deviation of up to ±60° per voxel:
    a phase that differs from the data set's by more than 90° cannot be told from an inverted spectrum, which
    the reader keeps inverted (an inversion-recovery series keeps its signs).

    Returns
    -------
    fids : complex ndarray of shape (4, 4, 2, 1024)
    phases : ndarray of shape (4, 4, 2)
    """
    rng = np.random.default_rng(seed)
    if amplitudes is None:
        amplitudes = np.ones(GRID)
    if phases is None:
        phases = 2.5 + rng.uniform(-np.radians(60.0), np.radians(60.0), GRID)
    signal = amplitudes[..., None] * np.exp(1j * phases)[..., None] * brain_signal()[None, None, None, :]
    return np.conj(signal), phases


@pytest.fixture(scope="module")
def round_trip():
    amplitudes = 1.0 + np.arange(32.0).reshape(GRID)
    fids, phases = stored_fids(amplitudes=amplitudes)
    content = write_nifti_mrs(fids, DWELL, SF)
    return content, amplitudes, phases, read_dataset(content, "csi.nii", FULL)


def _index(ppm, value):
    return int(np.argmin(np.abs(ppm - value)))


def _local_max(ppm, spectrum, centre, half_width):
    window = np.abs(ppm - centre) <= half_width
    return ppm[np.flatnonzero(window)[np.argmax(spectrum[window])]]


# ------------------------------------------------------------------------------------------ NIfTI-MRS


def test_round_trip_gives_a_dataset_with_a_descending_ppm_axis(round_trip):
    content, _, _, ds = round_trip
    assert isinstance(ds, Dataset)
    assert ds.X.shape == (N_T, 32) and ds.X.dtype == np.float64 and ds.X.flags.c_contiguous
    assert isinstance(ds.rows, Axis)
    assert (ds.rows.label, ds.rows.unit, ds.rows.reversed) == ("chemical shift", "ppm", True)
    ppm = ds.rows.values
    assert np.all(np.diff(ppm) < 0)
    spacing = 2000.0 / N_T / SF
    np.testing.assert_allclose(np.diff(ppm), -spacing, rtol=1e-12)
    np.testing.assert_allclose([ppm[0], ppm[-1]], [(N_T // 2 - 1) * spacing, -(N_T // 2) * spacing], rtol=1e-12)
    assert ppm[N_T // 2 - 1] == 0.0  # the centre of the spectrum is 0 ppm without a reference
    # the writer's qform and sform scale voxel indices to 10 mm along the scanner axes (RAS+)
    assert ds.cols == Grid((4, 4, 2), names=("left-right", "posterior-anterior", "inferior-superior"),
                           unit="voxel", affine=np.diag([10.0, 10.0, 10.0, 1.0]))
    assert (ds.name, ds.title, ds.truth, ds.rank, ds.presets) == ("upload", "csi.nii", None, 2, {})
    assert ds.noise_var > 0


def test_peaks_land_at_their_true_chemical_shift(round_trip):
    _, _, _, ds = round_trip
    ppm, spectrum = ds.rows.values, ds.X.mean(axis=1)
    spacing = ds.rows.spacing
    for name in ("PE", "Pi", "GPE", "GPC", "PCr", "beta-ATP"):
        peak = next(p for p in PEAKS_31P if p.name == name)
        found = _local_max(ppm, spectrum, peak.ppm, 0.3)
        assert abs(found - peak.ppm) <= spacing, (name, found)
    split = 0.5 * ATP_J_HZ / SF
    for name in ("gamma-ATP", "alpha-ATP"):  # doublets: the two lines straddle the centre
        centre = next(p.ppm for p in PEAKS_31P if p.name == name)
        upper = _local_max(ppm, spectrum, centre + split, 0.15)
        lower = _local_max(ppm, spectrum, centre - split, 0.15)
        assert abs(0.5 * (upper + lower) - centre) <= spacing, name
        assert abs((upper - lower) - 2 * split) <= 2 * spacing, name
    assert ppm[np.argmax(spectrum)] == 0.0  # PCr is the tallest line of the brain spectrum


def test_zero_order_phase_makes_absorption_lines(round_trip):
    content, _, phases, ds = round_trip
    ppm = ds.rows.values
    pcr = _index(ppm, 0.0)
    near_pcr = np.abs(ppm) < 0.5
    assert np.all(ds.X[pcr] > 0)
    assert np.all(ds.X[near_pcr].sum(axis=0) > 0)
    # Each phased column is the ideal absorption spectrum up to its amplitude.
    ideal = read_dataset(write_nifti_mrs(stored_fids(phases=np.zeros(GRID))[0], DWELL, SF), "ideal.nii",
                         ReadOptions(phase="none", crop="none")).X[:, 0]
    for column in ds.X.T:
        assert np.corrcoef(column, ideal)[0, 1] > 0.9999
    # Without correction the random phases leave some PCr lines negative.
    raw = read_dataset(content, "csi.nii", ReadOptions(phase="none", crop="none"))
    assert np.any(raw.X[pcr] < 0)
    assert "common phase of the data set" in ds.description and "no phase correction" in raw.description
    assert "per-spectrum zero-order refinement within ±90°" in ds.description


def test_voxels_are_flattened_in_c_order(round_trip):
    _, amplitudes, _, ds = round_trip
    pcr_map = ds.X[_index(ds.rows.values, 0.0)].reshape(ds.cols.shape)
    np.testing.assert_allclose(pcr_map / pcr_map[0, 0, 0], amplitudes / amplitudes[0, 0, 0], rtol=1e-4)
    # A single distinctive voxel lands in column ravel_multi_index(voxel, grid).
    amplitudes = np.ones(GRID)
    amplitudes[1, 2, 1] = 5.0
    ds = read_dataset(write_nifti_mrs(stored_fids(amplitudes)[0], DWELL, SF), "one.nii")
    column = int(np.argmax(ds.X[_index(ds.rows.values, 0.0)]))
    assert column == np.ravel_multi_index((1, 2, 1), GRID) == 13


def test_ppm_range_crops_to_the_phantom_window(round_trip):
    content, _, _, full = round_trip
    ds = read_dataset(content, "csi.nii", ReadOptions(ppm_range=(10.0, -20.0)))  # either order
    assert ds.X.shape == (397, 32)
    # With the phantom's exact frequency (17.235 MHz/T at 1.5 T) the axis is the phantom's.
    exact = write_nifti_mrs(small_fids((2, 1, 1, N_T)), DWELL, GAMMA_31P_MHZ_PER_T * 1.5)
    cropped = read_dataset(exact, "exact.nii", ReadOptions(ppm_range=(-20.0, 10.0)))
    np.testing.assert_allclose(cropped.rows.values, datasets.csi_phantom(random_state=0).rows.values, atol=1e-12)
    assert ds.rows.values.max() <= 10.0 and ds.rows.values.min() >= -20.0
    keep = (full.rows.values >= -20.0) & (full.rows.values <= 10.0)
    # The phase is chosen on the kept window (tails of the lines outside it shift it a little).
    for a, b in zip(ds.X.T, full.X[keep].T, strict=True):
        assert np.corrcoef(a, b)[0, 1] > 0.99


def _fwhm_hz(ppm, spectrum, centre):
    k = _index(ppm, centre)
    half = spectrum[k] / 2.0
    lo = k
    while spectrum[lo - 1] > half:
        lo -= 1
    hi = k
    while spectrum[hi + 1] > half:
        hi += 1
    return (ppm[lo] - ppm[hi]) * SF  # points above half height, as a width in Hz


def test_line_broadening_widens_the_lines(round_trip):
    content, _, _, ds = round_trip
    broad = read_dataset(content, "csi.nii", ReadOptions(line_broadening_hz=10.0, crop="none"))
    ppm = ds.rows.values
    sharp_width = _fwhm_hz(ppm, ds.X[:, 0], 0.0)
    broad_width = _fwhm_hz(ppm, broad.X[:, 0], 0.0)
    assert 6.0 <= sharp_width <= 12.0  # PCr is 10 Hz wide
    assert 14.0 <= broad_width <= 24.0  # 10 Hz + 10 Hz of broadening
    assert broad.X[_index(ppm, 0.0), 0] < 0.7 * ds.X[_index(ppm, 0.0), 0]
    assert "10 Hz exponential line broadening" in broad.description
    cropped = read_dataset(content, "csi.nii", ReadOptions(ppm_range=(-20, 10)))
    assert "cropped to -20 to 10 ppm, real part" in cropped.description
    default = read_dataset(content, "csi.nii")  # the default crop: the 31P metabolite range
    np.testing.assert_array_equal(default.rows.values, cropped.rows.values)
    assert "cropped to the 31P metabolite range -20 to 10 ppm" in default.description


def test_description_says_what_was_read_and_done(round_trip):
    _, _, _, ds = round_trip
    for fragment in ("NIfTI-MRS file (NIfTI-2, intent mrs_v0_3)", "4×4×2×1024 complex64", "Nucleus 31P at 25.85 MHz",
                     "conjugated (NIfTI-MRS convention)", "first point halved", "FFT",
                     "Dwell time 0.5 ms (spectral width 2000 Hz)",
                     "the NIfTI-MRS tools' default SpecFreqChemShift for 31P, 0 ppm, as the header has none",
                     "4×4×2 voxel grid", "Suggested noise variance"):
        assert fragment in ds.description, fragment


def test_reference_from_header_and_from_options():
    fids = small_fids((2, 2, 1, 128))
    with_ref = read_dataset(write_nifti_mrs(fids, DWELL, SF, reference_ppm=2.0), "ref.nii", FULL)
    plain = read_dataset(write_nifti_mrs(fids, DWELL, SF), "plain.nii", FULL)
    np.testing.assert_allclose(with_ref.rows.values, plain.rows.values + 2.0)
    assert "reference from the file: SpecFreqChemShift 2 ppm from the header" in with_ref.description
    override = read_dataset(write_nifti_mrs(fids, DWELL, SF, reference_ppm=2.0), "ref.nii",
                            ReadOptions(reference_ppm=-1.0, crop="none"))
    np.testing.assert_allclose(override.rows.values, plain.rows.values - 1.0)
    faster = read_dataset(write_nifti_mrs(fids, DWELL, SF), "sf.nii",
                          ReadOptions(spectrometer_mhz=2 * SF, crop="none"))
    np.testing.assert_allclose(faster.rows.values, plain.rows.values / 2)


def test_gzip_and_nifti1_read_like_nifti2(round_trip, tmp_path):
    content, _, _, ds = round_trip
    path = tmp_path / "csi.nii.gz"
    gz = write_nifti_mrs(stored_fids(amplitudes=1.0 + np.arange(32.0).reshape(GRID))[0], DWELL, SF, path_or_none=path)
    assert gz[:2] == b"\x1f\x8b" and path.read_bytes() == gz
    np.testing.assert_array_equal(read_dataset(gz, "csi.NII.GZ", FULL).X, ds.X)
    assert gzip.decompress(gz) == content
    fids = small_fids((2, 2, 1, 64))
    one = read_dataset(nifti_bytes(fids, MRS_META, version=1), "one.nii")
    two = read_dataset(nifti_bytes(fids, MRS_META, version=2), "two.nii")
    np.testing.assert_array_equal(one.X, two.X)


def test_repeated_acquisitions_are_averaged():
    fids = small_fids((2, 2, 1, 64))
    dynamics = np.stack([fids * s for s in (0.5, 1.0, 1.5)], axis=-1)[..., None, :]  # dims 5 (coil, 1) and 6 (dyn)
    averaged = read_dataset(nifti_bytes(dynamics, MRS_META), "dyn.nii")
    single = read_dataset(nifti_bytes(fids, MRS_META), "one.nii")
    np.testing.assert_allclose(averaged.X, single.X, rtol=1e-5, atol=1e-6 * np.abs(single.X).max())
    assert "Dimension 6 (DIM_DYN, 3 repeats) averaged" in averaged.description


def test_big_endian_complex128_and_millisecond_headers_read_alike():
    fids = small_fids((2, 2, 1, 64))
    reference = read_dataset(nifti_bytes(fids, MRS_META), "ref.nii")
    header = nib.Nifti2Header(endianness=">")
    header.set_data_dtype(np.complex64)
    image = nib.Nifti2Image(fids, np.eye(4), header=header)
    image.header.set_xyzt_units("mm", "msec")
    image.header.set_zooms((10.0, 10.0, 10.0, 1e3 * 5e-4))
    image.header.extensions.append(nib.nifti1.Nifti1Extension(44, json.dumps(MRS_META).encode()))
    content = image.to_bytes()
    assert content[:4] == b"\x00\x00\x02\x1c"  # big-endian NIfTI-2
    big = read_dataset(content, "big.nii")
    np.testing.assert_allclose(big.rows.values, reference.rows.values)
    np.testing.assert_array_equal(big.X, reference.X)
    double = read_dataset(nifti_bytes(fids.astype(np.complex128), MRS_META), "double.nii")
    np.testing.assert_allclose(double.X, reference.X, rtol=1e-6)


def test_write_nifti_mrs_writes_a_valid_header(tmp_path):
    fids = small_fids((2, 3, 1, 32))
    path = tmp_path / "out.nii"
    content = write_nifti_mrs(fids, DWELL, SF, "31P", path)
    image = nib.load(path)
    assert isinstance(image, nib.Nifti2Image)
    header = image.header
    assert header["intent_name"].item().startswith(b"mrs_v0_")
    assert header.get_data_dtype() == np.complex64 and image.shape == (2, 3, 1, 32)
    assert header["pixdim"][4] == pytest.approx(DWELL) and header.get_xyzt_units() == ("mm", "sec")
    (ext,) = [e for e in header.extensions if e.get_code() == 44]
    assert json.loads(ext.get_content()) == {"SpectrometerFrequency": [SF], "ResonantNucleus": ["31P"]}
    np.testing.assert_array_equal(np.asanyarray(image.dataobj), fids)
    assert path.read_bytes() == content
    with pytest.raises(ValueError, match="fids must be complex"):
        write_nifti_mrs(fids.real, DWELL, SF)
    with pytest.raises(ValueError, match="shape"):
        write_nifti_mrs(fids[0], DWELL, SF)
    with pytest.raises(ValueError, match="dwell_time"):
        write_nifti_mrs(fids, 0.0, SF)


# ---------------------------------------------------------------------------------------------- .npz


def test_npz_with_ppm_and_grid_like_the_app_uploads():
    csi = datasets.csi_phantom(random_state=0)
    ds = read_dataset(npz_bytes(X=csi.X, ppm=csi.rows.values, grid_shape=np.array(csi.cols.shape)), "my_csi.npz")
    np.testing.assert_array_equal(ds.X, csi.X)
    assert (ds.rows.label, ds.rows.unit, ds.rows.reversed) == ("chemical shift", "ppm", True)
    np.testing.assert_array_equal(ds.rows.values, csi.rows.values)
    assert isinstance(ds.cols, Grid) and ds.cols.shape == (8, 8, 8)
    assert "NumPy .npz archive; data array 'X'" in ds.description and "guessed" not in ds.description
    # noise estimate: the phantom's noise variance is 1e8
    assert 0.5e8 < ds.noise_var < 2e8


def test_npz_observations_first_is_detected_from_the_grid():
    csi = datasets.csi_phantom(random_state=0)
    ds = read_dataset(npz_bytes(compressed=True, spectra=csi.X.T, grid_shape=np.array([8, 8, 8])), "t.npz")
    np.testing.assert_array_equal(ds.X, csi.X)
    assert "transposed" in ds.description
    cropped = read_dataset(npz_bytes(X=csi.X, ppm=csi.rows.values), "c.npz", ReadOptions(ppm_range=(-5.0, 5.0)))
    assert cropped.rows.values.min() >= -5.0 and cropped.rows.values.max() <= 5.0
    np.testing.assert_array_equal(cropped.X, csi.X[np.abs(csi.rows.values) <= 5.0])


def test_npz_complex_fids_match_the_nifti_path(round_trip):
    _, amplitudes, phases, ds = round_trip
    fids = stored_fids(amplitudes=amplitudes, phases=phases)[0]
    content = npz_bytes(fid=fids.reshape(-1, N_T), grid_shape=np.array(GRID), dwell_time=np.array(DWELL),
                        spectrometer_mhz=np.array(SF))
    cropped = ReadOptions(ppm_range=(-20.0, 10.0))  # the same window for both (the .npz holds no nucleus)
    ds = read_dataset(round_trip[0], "csi.nii", cropped)
    from_npz = read_dataset(content, "fids.npz", cropped)
    np.testing.assert_allclose(from_npz.rows.values, ds.rows.values)
    np.testing.assert_allclose(from_npz.X, ds.X, rtol=1e-5, atol=1e-5 * np.abs(ds.X).max())
    assert from_npz.cols.shape == GRID
    assert "read as FIDs" in from_npz.description
    # Without acquisition parameters the axis falls back to Hz, then to a frequency index.
    hz = read_dataset(npz_bytes(fid=fids.reshape(-1, N_T), dwell_time=np.array(DWELL)), "hz.npz",
                      ReadOptions(orientation="observations_first"))
    assert (hz.rows.unit, hz.rows.reversed) == ("Hz", True)
    index = read_dataset(npy_bytes(fids.reshape(-1, N_T).T), "index.npy", ReadOptions(kind="fid"))
    assert index.rows.label == "frequency index"
    given = read_dataset(npy_bytes(fids.reshape(-1, N_T).T), "given.npy",
                         ReadOptions(dwell_time_s=DWELL, spectrometer_mhz=SF, grid_shape=GRID,
                                     ppm_range=(-20.0, 10.0)))
    np.testing.assert_allclose(given.X, ds.X, rtol=1e-5, atol=1e-5 * np.abs(ds.X).max())


# ---------------------------------------------------------------------------------------------- .npy


def test_npy_2d_orientation_guess_and_options():
    X = np.random.default_rng(1).random((50, 12))
    ds = read_dataset(npy_bytes(X), "x.npy")
    np.testing.assert_array_equal(ds.X, X)
    assert ds.rows == Axis(ds.rows.values, label="feature index") and ds.rows.size == 50
    assert ds.cols.label == "observation index" and ds.cols.size == 12
    assert "Orientation guessed" in ds.description and "observations first" in ds.description
    flipped = read_dataset(npy_bytes(X), "x.npy", ReadOptions(orientation="observations_first"))
    np.testing.assert_array_equal(flipped.X, X.T)
    gridded = read_dataset(npy_bytes(X), "x.npy", ReadOptions(grid_shape=(3, 4)))
    assert gridded.cols.shape == (3, 4) and "guessed" not in gridded.description
    transposed = read_dataset(npy_bytes(X.T), "x.npy", ReadOptions(grid_shape=(3, 4)))
    np.testing.assert_array_equal(transposed.X, X)
    integers = read_dataset(npy_bytes(np.arange(24, dtype=np.int16).reshape(6, 4)), "i.npy")
    assert integers.X.dtype == np.float64


def test_npy_with_more_dimensions_follows_the_nifti_like_layout():
    rng = np.random.default_rng(2)
    last = rng.random((4, 3, 2, 64))  # features last, like NIfTI
    ds = read_dataset(npy_bytes(last), "last.npy")
    assert ds.X.shape == (64, 24) and ds.cols.shape == (4, 3, 2)
    np.testing.assert_array_equal(ds.X[:, np.ravel_multi_index((1, 2, 1), (4, 3, 2))], last[1, 2, 1])
    assert "last axis (64 points, the longest)" in ds.description
    first = rng.random((64, 4, 3, 2))  # features first
    ds = read_dataset(npy_bytes(first), "first.npy")
    assert ds.X.shape == (64, 24) and ds.cols.shape == (4, 3, 2)
    np.testing.assert_array_equal(ds.X[:, np.ravel_multi_index((3, 0, 1), (4, 3, 2))], first[:, 3, 0, 1])
    fortran = read_dataset(npy_bytes(np.asfortranarray(last)), "f.npy")
    np.testing.assert_array_equal(fortran.X, read_dataset(npy_bytes(last), "c.npy").X)
    regridded = read_dataset(npy_bytes(last), "r.npy", ReadOptions(grid_shape=(6, 4)))
    assert regridded.cols.shape == (6, 4)


# ---------------------------------------------------------------------------------------------- text


def test_csv_with_a_ppm_column_and_a_header():
    ppm = np.linspace(10.0, -20.0, 40)
    X = np.random.default_rng(3).random((40, 5))
    lines = ["ppm,v1,v2,v3,v4,v5"] + [",".join(f"{v:.17g}" for v in (p, *row)) for p, row in zip(ppm, X, strict=True)]
    ds = read_dataset(("\n".join(lines) + "\n").encode(), "spectra.csv")
    np.testing.assert_array_equal(ds.X, X)
    assert (ds.rows.label, ds.rows.unit, ds.rows.reversed) == ("chemical shift", "ppm", True)
    np.testing.assert_array_equal(ds.rows.values, ppm)
    assert "The first column 'ppm' is strictly monotonic and was taken as the feature axis" in ds.description
    assert "comma-separated" in ds.description and "guessed" not in ds.description  # the axis fixes the rows
    cropped = read_dataset(("\n".join(lines)).encode(), "spectra.csv", ReadOptions(ppm_range=(-5, 5)))
    assert cropped.X.shape[0] == np.count_nonzero(np.abs(ppm) <= 5)


@pytest.mark.parametrize("sep", ["\t", ";", "  ", ","])
def test_text_delimiters_units_and_no_header(sep):
    X = np.arange(1.0, 31.0).reshape(10, 3) ** 1.5
    body = "\n".join(sep.join(f"{v:.17g}" for v in row) for row in X)
    plain = read_dataset((body + "\n").encode(), "plain.txt")
    np.testing.assert_array_equal(plain.X, X)
    assert plain.rows.label == "feature index"
    assert "no header row" in plain.description
    assert "was read as data because the file has no header row" in plain.description  # its first column is monotonic
    header = sep.join(["time(h)", "a", "b"]) + "\n"
    hours = "\n".join(sep.join(f"{v:.17g}" for v in (i, *row[:2])) for i, row in enumerate(X))
    timed = read_dataset((header + hours).encode(), "timed.tsv")
    assert (timed.rows.label, timed.rows.unit, timed.rows.reversed) == ("time", "h", False)
    np.testing.assert_array_equal(timed.X, X[:, :2])


def test_csv_rows_as_observations_bom_comments_and_trailing_delimiters():
    X = np.random.default_rng(4).random((6, 20))  # each row one spectrum
    text = "\ufeff# exported spectra\n" + "\n".join(",".join(f"{v:.17g}" for v in row) + "," for row in X)
    ds = read_dataset(text.encode("utf-8"), "rows.csv", ReadOptions(orientation="observations_first",
                                                                     grid_shape=(2, 3)))
    np.testing.assert_array_equal(ds.X, X.T)
    assert ds.cols.shape == (2, 3)


# ---------------------------------------------------------------------------------------------- .mat


def test_mat_v5_and_v4(tmp_path):
    csi = datasets.csi_phantom(random_state=0)
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"spectra": csi.X, "ppm": csi.rows.values, "grid_shape": np.array([8, 8, 8]),
                              "note": "brain"}, do_compression=True)
    ds = read_dataset(buffer.getvalue(), "csi.mat")
    np.testing.assert_array_equal(ds.X, csi.X)
    np.testing.assert_array_equal(ds.rows.values, csi.rows.values)
    assert ds.cols.shape == (8, 8, 8) and "variable 'spectra'" in ds.description
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"M": np.arange(12.0).reshape(4, 3) + 1}, format="4")
    v4 = read_dataset(buffer.getvalue(), "old.MAT")
    np.testing.assert_array_equal(v4.X, np.arange(12.0).reshape(4, 3) + 1)


def test_mat_complex_fids_go_through_the_pipeline(round_trip):
    _, amplitudes, phases, ds = round_trip
    fids = stored_fids(amplitudes=amplitudes, phases=phases)[0]
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"fid": fids.reshape(-1, N_T).T, "dwell_time": DWELL, "spectrometer_mhz": SF,
                              "grid_shape": np.array(GRID)})
    cropped = ReadOptions(ppm_range=(-20.0, 10.0))  # the same window for both (the .mat holds no nucleus)
    ds = read_dataset(round_trip[0], "csi.nii", cropped)
    from_mat = read_dataset(buffer.getvalue(), "fid.mat", cropped)
    np.testing.assert_allclose(from_mat.X, ds.X, rtol=1e-5, atol=1e-5 * np.abs(ds.X).max())


# ----------------------------------------------------------------------------------- options and limits


@pytest.mark.parametrize("kwargs, field", [
    ({"orientation": "sideways"}, "orientation"),
    ({"kind": "image"}, "kind"),
    ({"phase": "first"}, "phase"),
    ({"grid_shape": (8, 0)}, "grid_shape"),
    ({"grid_shape": 8}, "grid_shape"),
    ({"ppm_range": (1.0, 1.0)}, "ppm_range"),
    ({"ppm_range": (1.0,)}, "ppm_range"),
    ({"line_broadening_hz": -1.0}, "line_broadening_hz"),
    ({"reference_ppm": float("nan")}, "reference_ppm"),
    ({"spectrometer_mhz": 0.0}, "spectrometer_mhz"),
    ({"dwell_time_s": -1e-3}, "dwell_time_s"),
])
def test_invalid_options_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=f"ReadOptions.{field}"):
        ReadOptions(**kwargs)


def test_options_are_normalised():
    options = ReadOptions(grid_shape=[8, 8, 8], ppm_range=(10, -20), line_broadening_hz=2)
    assert options.grid_shape == (8, 8, 8) and options.ppm_range == (-20.0, 10.0)
    assert options.line_broadening_hz == 2.0
    with pytest.raises(ValueError, match="ReadOptions"):
        read_dataset(b"1,2\n3,4\n", "a.csv", {"orientation": "auto"})


def test_size_limit_from_the_environment(monkeypatch):
    assert MAX_BYTES == 512 * 2**20
    content = npy_bytes(np.ones((64, 64)))
    monkeypatch.setenv("GPPNMF_MAX_DATA_BYTES", "4096")
    with pytest.raises(DataFormatError, match=r"ones\.npy: the file is too large \(32\.1 KiB\), more than the 4 KiB"):
        read_dataset(content, "ones.npy")
    monkeypatch.setenv("GPPNMF_MAX_DATA_BYTES", "lots")
    with pytest.raises(ValueError, match="GPPNMF_MAX_DATA_BYTES"):
        read_dataset(content, "ones.npy")


def test_bytes_like_input_and_paths_in_names():
    content = npy_bytes(np.arange(1.0, 13.0).reshape(4, 3))
    for data in (content, bytearray(content), memoryview(content)):
        ds = read_dataset(data, "C:\\Users\\me\\data.NPY")
        assert ds.title == "data.NPY"


def test_noise_estimate_is_robust_to_peaks():
    rng = np.random.default_rng(5)
    ppm = np.linspace(10, -20, 400)
    peaks = 50.0 * np.exp(-0.5 * (ppm[:, None] / 0.2) ** 2) * rng.random(64)
    ds = read_dataset(npy_bytes(peaks + 2.0 * rng.standard_normal((400, 64))), "noisy.npy")
    assert ds.noise_var == pytest.approx(4.0, rel=0.1)
