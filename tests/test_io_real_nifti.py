"""Real NIfTI-MRS files (tests/data/real, see SOURCES.md): the standard's ppm axis, coils, repeats, phase, noise.

The expected values are computed here from the header fields and the standard's formula (and with the
installed nifti-mrs package's ``Axes``), never with the reader's own code.
"""

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from gppnmf_core.dataset import Axis
from gppnmf_core.io import ReadOptions, read_dataset
from gppnmf_core.io.assemble import noise_var_from_differences
from gppnmf_core.io.coils import combine_coils
from gppnmf_core.io.fid import fids_to_spectra

REAL = Path(__file__).parent / "data" / "real"
METAB = "nmt_metab_raw.nii.gz"
WREF = "nmt_wref_raw.nii.gz"
FULL = ReadOptions(crop="none")


def _content(name):
    return (REAL / name).read_bytes()


def _header(name):
    image = nib.load(REAL / name)
    (ext,) = [e for e in image.header.extensions if e.get_code() == 44]
    return image, json.loads(ext.get_content())


@pytest.fixture(scope="module")
def metab():
    return read_dataset(_content(METAB), METAB)


@pytest.fixture(scope="module")
def metab_full():
    return read_dataset(_content(METAB), METAB, FULL)


def _peak(ppm, x, centre, half_width=0.05):
    window = np.flatnonzero(np.abs(ppm - centre) <= half_width)
    k = window[np.argmax(x[window])]
    return k, ppm[k]


def _magnitude(name, options):
    """|S| of the processed spectra (rows as read_dataset gives them), free of any phase correction.

    The coil combination references every file to the phase of its first FID point, so a copy of the file
    turned by 90° reads the same; the real and imaginary parts are taken instead from the pipeline run on the
    coil-combined FIDs and on the same FIDs turned by 90°, both with phase="none" (everything else in it
    depends on magnitudes or relative phases only).
    """
    image, meta = _header(name)
    stored = np.asanyarray(image.dataobj)[0, 0, 0]  # (t, coil, repeat)
    combined = combine_coils(np.moveaxis(stored, 1, 2)[:, None])  # (t, 1, repeat)
    common = dict(dwell=float(image.header["pixdim"][4]), sf=meta["SpectrometerFrequency"][0], reference=4.65,
                  n_average=combined.shape[2], nucleus="1H", crop=options.crop, ppm_range=options.ppm_range,
                  line_broadening_hz=options.line_broadening_hz, phase="none")
    real = fids_to_spectra(combined, name, **common).X
    imag = fids_to_spectra(combined * np.complex64(1j), name, **common).X
    return np.hypot(real, imag)


def test_ppm_axis_is_the_nifti_mrs_tools_axis_without_options(metab_full):
    image, meta = _header(METAB)
    n, dwell, sf = image.shape[3], float(image.header["pixdim"][4]), meta["SpectrometerFrequency"][0]
    assert "SpecFreqChemShift" not in meta and meta["ResonantNucleus"] == ["1H"]
    expected = np.fft.fftshift(np.fft.fftfreq(n, dwell)) / sf + 4.65  # the standard: f / SF + SpecFreqChemShift
    np.testing.assert_allclose(np.sort(metab_full.rows.values), expected, rtol=0, atol=1e-6)
    from nifti_mrs.axes import Axes  # the NIfTI-MRS tools' own axis, from the same header fields

    tools = Axes(n, meta["ResonantNucleus"][0], sf, dwell).ppmAxisShift
    np.testing.assert_allclose(np.sort(metab_full.rows.values), np.sort(tools), rtol=0, atol=1e-6)
    assert metab_full.rows.unit == "ppm" and metab_full.rows.reversed
    assert "the NIfTI-MRS tools' default SpecFreqChemShift for 1H, 4.65 ppm" in metab_full.description


def test_reference_options_override_and_header_keys_are_used(tmp_path):
    image, meta = _header(WREF)
    base = read_dataset(_content(WREF), WREF, FULL)
    moved = read_dataset(_content(WREF), WREF, ReadOptions(crop="none", reference_ppm=4.7))
    np.testing.assert_allclose(moved.rows.values, base.rows.values + 0.05, atol=1e-9)
    assert "reference from the options" in moved.description
    data = np.asanyarray(image.dataobj)
    edited = nib.Nifti2Image(data, image.affine, header=image.header)
    edited.header.extensions.clear()
    edited.header.extensions.append(nib.nifti1.Nifti1Extension(
        44, json.dumps({**meta, "SpecFreqChemShift": 4.7, "RxOffset": -0.1}).encode()))
    path = tmp_path / "w.nii"
    nib.save(edited, path)
    shifted = read_dataset(path.read_bytes(), "w.nii", FULL)
    np.testing.assert_allclose(shifted.rows.values, base.rows.values + 0.05 - 0.1, atol=1e-9)
    assert "SpecFreqChemShift 4.7 ppm + RxOffset -0.1 ppm from the header" in shifted.description


def test_default_processing_shows_upright_naa_creatine_and_choline(metab):
    assert metab.X.shape == (metab.rows.size, 1)  # 4 coils combined, 16 repeats averaged
    ppm, x = metab.rows.values, metab.X[:, 0]
    assert ppm.max() <= 4.3 + 1e-9 and ppm.min() >= 0.2 - 1e-9  # the default 1H crop
    for name, centre in (("NAA", 2.01), ("creatine", 3.03), ("choline", 3.20)):
        k, found = _peak(ppm, x, centre, 0.06)
        assert abs(found - centre) <= 0.03, (name, found)
        assert x[k] > 0 and x[k] >= x[k - 1] and x[k] >= x[k + 1], name  # a positive local maximum
        near = np.abs(ppm - found) <= 0.08
        assert x[near].min() > -0.1 * x[k], name  # no dispersive negative lobe
    for fragment in ("Dimension 5 (DIM_COIL, 4 coils) combined, weighted by each coil's signal over its noise "
                     "variance after phase alignment on the first FID point", "Dimension 6 (DIM_DYN, 16 repeats) "
                     "averaged", "the 16 repeats of each observation aligned to their mean",
                     "common phase of the data set", "cropped to the 1H metabolite range 0.2 to 4.3 ppm"):
        assert fragment in metab.description, fragment


@pytest.mark.parametrize("options", [ReadOptions(), FULL], ids=["default", "no crop"])
def test_lines_are_absorption_the_real_part_dominates(options):
    ds = read_dataset(_content(METAB), METAB, options)
    magnitude = _magnitude(METAB, options)[:, 0]
    ppm, x = ds.rows.values, ds.X[:, 0]
    for centre in (2.01, 3.03, 3.20):
        k, _ = _peak(ppm, x, centre, 0.06)
        assert x[k] > 0.9 * magnitude[k], (centre, x[k], magnitude[k])  # phase error below 25°


def test_one_spectrum_suggests_one_component_and_says_why(metab):
    assert metab.rank == 1
    assert "a decomposition needs several observations" in metab.description
    assert "1 component: both can be changed" in metab.description


def test_repeats_kept_as_a_time_series():
    ds = read_dataset(_content(METAB), METAB, ReadOptions(dynamics="keep"))
    assert ds.X.shape == (ds.rows.size, 16)
    assert isinstance(ds.cols, Axis) and (ds.cols.label, ds.cols.unit) == ("time", "s")
    np.testing.assert_allclose(ds.cols.values, 5.0 * np.arange(16))  # RepetitionTime 5 s
    assert ds.rank == 2
    assert "Dimension 6 (DIM_DYN, 16 repeats) kept as observations" in ds.description
    assert "time of each repeat from RepetitionTime 5 s" in ds.description
    ppm = ds.rows.values
    for column in ds.X.T:  # every repeat upright, NAA where the average has it
        k, found = _peak(ppm, column, 2.01, 0.06)
        assert column[k] > 0 and abs(found - 2.01) <= 0.03


def test_water_reference_has_water_at_4_65_to_4_7_ppm():
    ds = read_dataset(_content(WREF), WREF, FULL)
    ppm, x = ds.rows.values, ds.X[:, 0]
    top = int(np.argmax(x))
    assert 4.6 <= ppm[top] <= 4.72 and x[top] > 50 * np.abs(x[np.abs(ppm - 4.65) > 1.0]).max() / 10
    assert x[top] > 0.9 * _magnitude(WREF, FULL)[top, 0]
    cropped = read_dataset(_content(WREF), WREF, ReadOptions(ppm_range=(3.5, 6.0)))
    assert 4.6 <= cropped.rows.values[np.argmax(cropped.X[:, 0])] <= 4.72
    default = read_dataset(_content(WREF), WREF)  # water dominates: the 1H signal range is kept, not 0.2-4.3 ppm
    assert 4.6 <= default.rows.values[np.argmax(default.X[:, 0])] <= 4.72
    assert "a water reference?" in default.description


def _detrended_variance(segment, degree=3):
    t = np.linspace(-1.0, 1.0, segment.shape[0])
    basis = np.vander(t, degree + 1)
    coef, *_ = np.linalg.lstsq(basis, segment, rcond=None)
    residual = segment - basis @ coef
    return float(np.mean(residual**2) * segment.shape[0] / (segment.shape[0] - degree - 1))


def _repeat_noise(name, lb):
    """Noise variance of one repeat, from differences of consecutive repeats in signal-free regions."""
    keep = read_dataset(_content(name), name, ReadOptions(crop="none", dynamics="keep", line_broadening_hz=lb))
    ppm = keep.rows.values
    values = []
    for lo, hi in ((-6.0, -2.0), (12.0, 16.0)):
        region = keep.X[(ppm > lo) & (ppm < hi)]
        values.append(_detrended_variance(region[:, 1:] - region[:, :-1]) / 2.0)
    return keep, float(np.mean(values))


@pytest.mark.parametrize("name", [METAB, WREF])
@pytest.mark.parametrize("lb", [0.0, 10.0])
def test_noise_suggestion_matches_the_noise_in_signal_free_points(name, lb):
    keep, per_repeat = _repeat_noise(name, lb)
    n_repeats = keep.X.shape[1]
    assert 1 / 1.3 <= keep.noise_var / per_repeat <= 1.3, (keep.noise_var, per_repeat)
    averaged = read_dataset(_content(name), name, ReadOptions(line_broadening_hz=lb))
    assert 1 / 1.3 <= averaged.noise_var / (per_repeat / n_repeats) <= 1.3, (averaged.noise_var, per_repeat)
    assert "signal-free points" in averaged.description
    if name == METAB:
        full = read_dataset(_content(name), name, ReadOptions(crop="none", line_broadening_hz=lb))
        if lb == 0:  # white noise: its variance measured directly in signal-free regions of the averaged spectrum
            ppm = full.rows.values
            regions = ((-6, -2), (12, 16))
            measured = np.mean([_detrended_variance(full.X[(ppm > lo) & (ppm < hi)]) for lo, hi in regions])
            assert 1 / 1.3 <= full.noise_var / measured <= 1.3
        else:  # neighbour differences see the correlated noise of broadened spectra as small
            assert noise_var_from_differences(full.X) < (per_repeat / n_repeats) / 1.3
