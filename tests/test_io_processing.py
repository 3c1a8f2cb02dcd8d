"""The FID processing a spectroscopist expects, on synthetic MRSI made from the real 7 T FIDs and on 31P phantoms:
frequency alignment, phases that never invert a spectrum, first-order phase, dimensions 5-7, noise, rank."""

import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from bad_files import MRS_META, nifti_bytes, small_fids
from test_io import DWELL, N_T, SF, brain_signal

import gppnmf_core as gp
from gppnmf_core.dataset import Axis, Grid
from gppnmf_core.io import DataFormatError, ReadOptions, read_dataset, write_nifti_mrs
from gppnmf_core.io.coils import combine_coils

REAL = Path(__file__).parent / "data" / "real"
MRSI_GRID = (4, 4, 1)


@pytest.fixture(scope="module")
def real_repeats():
    """The 16 coil-combined repeats of the 7 T STEAM file, stored convention: (16, 4096), dwell, SF."""
    image = nib.load(REAL / "nmt_metab_raw.nii.gz")
    stored = np.asanyarray(image.dataobj)[0, 0, 0]  # (t, coil, repeat)
    combined = combine_coils(np.moveaxis(stored, 1, 2)[:, None])[:, 0]  # (t, repeat)
    return combined.T.astype(np.complex128), float(image.header["pixdim"][4]), 297.219948


def _mrsi(real_repeats, shifts_hz, phases, signs=None, noise=0.0, seed=0):
    """Repeats laid out on a 4x4 grid with known line shifts (Hz) and receiver phases (rad), in the stored sense."""
    fids, dwell, _ = real_repeats
    t = np.arange(fids.shape[1]) * dwell
    signs = np.ones(16) if signs is None else signs
    # The stored FID is the conjugate of the physical signal: a line moved up by f and turned by phi is
    # conj(s * exp(2j pi f t + 1j phi)) = stored * exp(-2j pi f t - 1j phi).
    voxels = signs[:, None] * fids * np.exp(-2j * np.pi * np.outer(shifts_hz, t) - 1j * phases[:, None])
    if noise:
        rng = np.random.default_rng(seed)
        voxels = voxels + noise * (rng.standard_normal(voxels.shape) + 1j * rng.standard_normal(voxels.shape))
    return write_nifti_mrs(voxels.reshape(*MRSI_GRID, -1), dwell, real_repeats[2], "1H")


def _naa(ds):
    """Index and value of the NAA maximum (1.9-2.1 ppm) of every spectrum."""
    ppm = ds.rows.values
    window = np.flatnonzero(np.abs(ppm - 2.0) <= 0.1)
    top = window[np.argmax(np.abs(ds.X[window]), axis=0)]
    return top, ds.X[top, np.arange(ds.X.shape[1])]


@pytest.fixture(scope="module")
def shifts_and_phases():
    rng = np.random.default_rng(1)
    shifts = rng.uniform(-6.0, 6.0, 16)  # Hz: 2 points of 2.93 Hz either way
    phases = np.radians(170.0) + rng.uniform(-np.radians(60.0), np.radians(60.0), 16)
    phases[5] = np.pi  # one voxel at 180°
    return shifts, phases


def test_mrsi_lines_are_aligned_and_upright(real_repeats, shifts_and_phases):
    shifts, phases = shifts_and_phases
    content = _mrsi(real_repeats, shifts, phases, noise=5e-7)
    ds = read_dataset(content, "mrsi.nii")
    assert ds.X.shape[1] == 16 and ds.cols == Grid(
        MRSI_GRID, names=("left-right", "posterior-anterior", "inferior-superior"), unit="voxel",
        affine=np.diag([10.0, 10.0, 10.0, 1.0]))  # the writer's qform and sform: 10 mm voxels along the scanner axes
    top, value = _naa(ds)
    assert np.all(value > 0)  # upright, the voxel at 180° too
    assert top.max() - top.min() <= 2  # every NAA line within ±1 point of the others
    ppm = ds.rows.values
    for centre in (3.03, 3.20):  # creatine and choline upright in every voxel as well
        window = np.flatnonzero(np.abs(ppm - centre) <= 0.05)
        assert np.all(ds.X[window].max(axis=0) > 0)
    raw = read_dataset(content, "mrsi.nii", ReadOptions(align="none"))
    raw_top, _ = _naa(raw)
    assert raw_top.max() - raw_top.min() >= 3  # without alignment the known shifts spread the lines
    assert "frequency alignment of each spectrum" in ds.description and "no frequency alignment" in raw.description


def test_alignment_finds_the_known_shifts(real_repeats, shifts_and_phases):
    from gppnmf_core.io.fid import fids_to_spectra

    shifts, phases = shifts_and_phases
    fids, dwell, sf = real_repeats
    t = np.arange(fids.shape[1]) * dwell
    stored = (fids * np.exp(-2j * np.pi * np.outer(shifts, t) - 1j * phases[:, None])).T
    result = fids_to_spectra(stored, "x", dwell=dwell, sf=sf, reference=4.65, nucleus="1H")
    own = fids_to_spectra(fids.T, "x", dwell=dwell, sf=sf, reference=4.65, nucleus="1H")  # the repeats' own drift
    found = result.shifts_hz - own.shifts_hz  # up to a common offset: where the data set's mean lies
    # Single repeats are noisy and their residual water varies: within 1.2 Hz (0.4 of a 2.93 Hz point).
    np.testing.assert_allclose(found - found.mean(), shifts - shifts.mean(), atol=1.2)


def test_alignment_is_exact_on_noise_free_lines():
    from gppnmf_core.io.fid import fids_to_spectra

    shifts = np.random.default_rng(0).uniform(-6.0, 6.0, 8)
    t = np.arange(N_T) * DWELL
    stored = (np.conj(brain_signal())[None, :] * np.exp(-2j * np.pi * np.outer(shifts, t))).T
    result = fids_to_spectra(stored, "x", dwell=DWELL, sf=SF, reference=0.0, nucleus="31P")
    np.testing.assert_allclose(result.shifts_hz - result.shifts_hz.mean(), shifts - shifts.mean(), atol=0.05)


def test_inversion_recovery_signs_are_kept(real_repeats):
    rng = np.random.default_rng(2)
    # Half the voxels inverted (weaker: partly recovered), as in an inversion-recovery series.
    signs = np.where(np.arange(16) % 2 == 0, 1.0, -0.8)
    phases = np.radians(40.0) + rng.uniform(-np.radians(30.0), np.radians(30.0), 16)
    ds = read_dataset(_mrsi(real_repeats, rng.uniform(-3, 3, 16), phases, signs=signs), "ir.nii")
    _, value = _naa(ds)
    np.testing.assert_array_equal(np.sign(value), np.sign(signs))
    assert "no spectrum is inverted" in ds.description
    # Most voxels inverted: the signs relative to each other are kept; the majority of the energy is upright.
    signs = -np.ones(16)
    signs[:3] = 1.0
    _, value = _naa(read_dataset(_mrsi(real_repeats, np.zeros(16), phases, signs=signs), "ir2.nii"))
    np.testing.assert_array_equal(np.sign(value), -signs)


def test_gppnmf_on_the_synthetic_mrsi_finds_the_metabolite_spectrum(real_repeats, shifts_and_phases):
    shifts, phases = shifts_and_phases
    amplitudes = np.linspace(0.5, 1.5, 16)
    fids, dwell, sf = real_repeats
    scaled = (fids * amplitudes[:, None], dwell, sf)
    ds = read_dataset(_mrsi(scaled, shifts, phases, noise=5e-7), "mrsi.nii")
    reference = read_dataset((REAL / "nmt_metab_raw.nii.gz").read_bytes(), "metab.nii.gz").X[:, 0]
    X = ds.X / np.abs(ds.X).max()
    prior_D = gp.GPPrior(gp.RBF(beta=0.02), gp.RectifiedGaussianLink(s=0.3), coords=ds.rows.values)
    prior_H = gp.GPPrior(gp.RBF(beta=1.0), gp.ExponentialLink(lam=1.0))
    result = gp.fit_gppnmf(X, 1, prior_D, prior_H, noise_var=ds.noise_var / np.abs(ds.X).max() ** 2,
                           random_state=0, max_iter=300)
    correlation = np.corrcoef(result.D[:, 0], reference)[0, 1]
    assert correlation >= 0.95, correlation
    assert np.corrcoef(result.H[0], amplitudes)[0, 1] >= 0.95


def test_first_order_phase_from_the_header_or_estimated():
    delay = 1e-3  # the acquisition starts 1 ms after the FID began: its first 2 points are lost
    late = np.conj(brain_signal(N_T + 2)[2:])  # stored sense
    fids = np.broadcast_to(late, (2, 1, 1, N_T)) * np.array([1.0, 2.0])[:, None, None, None]
    ideal = read_dataset(write_nifti_mrs(np.broadcast_to(np.conj(brain_signal()), (2, 1, 1, N_T)).copy(), DWELL, SF),
                         "ideal.nii").X[:, 0]
    known = read_dataset(write_nifti_mrs(fids.copy(), DWELL, SF, header={"AcquisitionStartTime": delay}), "k.nii")
    assert "first order from AcquisitionStartTime 1 ms" in known.description
    assert np.corrcoef(known.X[:, 0], ideal)[0, 1] > 0.97  # the 2 lost points leave a broad baseline
    found = read_dataset(write_nifti_mrs(fids.copy(), DWELL, SF), "e.nii")
    estimated = float(re.search(r"first order estimated as a delay of ([-0-9.e]+) ms", found.description).group(1))
    assert abs(estimated - 1.0) <= 0.1  # within a fifth of the 0.5 ms dwell time
    assert np.corrcoef(found.X[:, 0], ideal)[0, 1] > 0.97
    zero = read_dataset(write_nifti_mrs(fids.copy(), DWELL, SF), "z.nii", ReadOptions(phase="zero_order"))
    assert np.corrcoef(zero.X[:, 0], ideal)[0, 1] < 0.8  # a zero-order phase alone leaves lines dispersive


def test_conjugate_option_mirrors_the_spectrum():
    fids = np.broadcast_to(np.conj(brain_signal()), (2, 1, 1, N_T)).copy()
    content = write_nifti_mrs(fids, DWELL, SF)
    options = dict(crop="none", align="none", phase="none")
    normal = read_dataset(content, "n.nii", ReadOptions(**options))
    mirrored = read_dataset(write_nifti_mrs(np.conj(fids), DWELL, SF), "m.nii", ReadOptions(conjugate="no", **options))
    np.testing.assert_allclose(mirrored.X, normal.X, rtol=1e-5, atol=1e-5 * np.abs(normal.X).max())
    assert "not conjugated (as the options ask)" in mirrored.description


def _edit_file(n_edit=2, n_dyn=3):
    """2x1x1 voxels, 64 points, DIM_DYN repeats and a DIM_EDIT dimension whose entries differ in amplitude."""
    base = small_fids((2, 1, 1, 64))
    data = base[..., None, None, None] * np.ones((1, n_dyn, 1))[None, None, None, None]
    data = np.repeat(data, n_edit, axis=6) * np.arange(1.0, n_edit + 1)
    meta = {**MRS_META, "dim_5": "DIM_COIL", "dim_6": "DIM_DYN", "dim_7": "DIM_EDIT",
            "dim_6_header": {"AcquisitionTime": {"start": 0.0, "increment": 2.5}}}
    return nifti_bytes(data.astype(np.complex64), meta)


def test_other_dimensions_averaged_kept_or_indexed():
    content = _edit_file()
    averaged = read_dataset(content, "e.nii", ReadOptions(crop="none"))
    assert averaged.X.shape[1] == 2 and "Dimension 7 (DIM_EDIT, 2 entries) averaged" in averaged.description
    kept = read_dataset(content, "e.nii", ReadOptions(crop="none", other_dims="keep"))
    assert kept.X.shape[1] == 4 and isinstance(kept.cols, Grid) and kept.cols.shape == (2, 1, 1, 2)
    assert kept.cols.names[-1] == "edit" and "kept as observations" in kept.description
    first = read_dataset(content, "e.nii", ReadOptions(crop="none", other_dims="index", other_index=1))
    assert first.X.shape[1] == 2 and "entry 1 selected" in first.description
    ratio = np.abs(first.X).max() / np.abs(read_dataset(content, "e.nii", ReadOptions(
        crop="none", other_dims="index", other_index=0)).X).max()
    assert ratio == pytest.approx(2.0, rel=1e-3)
    with pytest.raises(DataFormatError, match=r"e\.nii: other_index 2 is beyond dimension 7"):
        read_dataset(content, "e.nii", ReadOptions(other_dims="index", other_index=2))
    both = read_dataset(content, "e.nii", ReadOptions(crop="none", dynamics="keep", other_dims="keep"))
    assert both.cols.shape == (2, 1, 1, 3, 2) and both.X.shape[1] == 12


def test_kept_repeats_of_one_voxel_get_the_time_axis_of_the_header():
    base = small_fids((1, 1, 1, 64))
    data = np.repeat(base[..., None, None], 4, axis=5)  # dims 5 (coil, 1) and 6 (repeats, 4)
    meta = {**MRS_META, "dim_6_header": {"AcquisitionTime": [0.0, 3.0, 6.0, 9.0]}}
    ds = read_dataset(nifti_bytes(data, meta), "dyn.nii", ReadOptions(dynamics="keep", crop="none"))
    assert isinstance(ds.cols, Axis) and (ds.cols.label, ds.cols.unit) == ("time", "s")
    np.testing.assert_array_equal(ds.cols.values, [0.0, 3.0, 6.0, 9.0])
    assert "time from dim_N_header 'AcquisitionTime' (s)" in ds.description


def test_coils_are_combined_in_phase():
    rng = np.random.default_rng(3)
    signal = np.conj(brain_signal())
    sensitivities = rng.uniform(0.5, 2.0, 4) * np.exp(1j * rng.uniform(0, 2 * np.pi, 4))
    coils = signal[None, None, None, :, None] * sensitivities  # (1, 1, 1, t, coil)
    noise = 0.05 * (rng.standard_normal(coils.shape) + 1j * rng.standard_normal(coils.shape))
    ds = read_dataset(nifti_bytes((coils + noise).astype(np.complex64), MRS_META), "coils.nii")
    single = read_dataset(nifti_bytes(np.conj(brain_signal())[None, None, None].astype(np.complex64) * 1.0, MRS_META),
                          "one.nii")
    assert ds.X.shape == single.X.shape == (single.rows.size, 1)
    assert np.corrcoef(ds.X[:, 0], single.X[:, 0])[0, 1] > 0.99
    gain = np.sum(np.abs(sensitivities) ** 2) / np.sum(np.abs(sensitivities))  # equal noise: a weighted mean
    assert np.abs(ds.X).max() == pytest.approx(gain * np.abs(single.X).max(), rel=0.05)


def test_noise_suggestion_on_white_noise_with_and_without_broadening():
    rng = np.random.default_rng(4)
    sigma = 0.3
    fids = np.broadcast_to(np.conj(brain_signal(2048, DWELL / 2)), (4, 4, 1, 2048))
    noisy = fids + sigma * (rng.standard_normal(fids.shape) + 1j * rng.standard_normal(fids.shape))
    content = write_nifti_mrs(noisy.astype(np.complex64), DWELL / 2, SF)
    for lb in (0.0, 10.0):
        ds = read_dataset(content, "n.nii", ReadOptions(line_broadening_hz=lb))
        weights = np.exp(-np.pi * lb * np.arange(2048) * DWELL / 2)
        weights[0] *= 0.5
        expected = sigma**2 * np.sum(weights**2)  # the real part of the transform of white noise
        assert ds.noise_var == pytest.approx(expected, rel=0.1), lb
        assert "signal-free points" in ds.description


def test_suggested_rank_never_exceeds_what_the_data_allow():
    one = read_dataset(nifti_bytes(small_fids((1, 1, 1, 64)), MRS_META), "one.nii")
    assert one.X.shape[1] == 1 and one.rank == 1
    assert "a decomposition needs several observations" in one.description
    two = read_dataset(nifti_bytes(small_fids((2, 1, 1, 64)), MRS_META), "two.nii")
    assert two.rank == 2
