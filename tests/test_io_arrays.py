""".mat and .npz files from labs: choosing the data and axis variables, structs, Hz axes, list_arrays.

The real file is in tests/data/real (SOURCES.md): hyperpolarized [1-13C]pyruvate in rat kidneys, 3 T.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import scipy.io

import gppnmf_core as gp
from gppnmf_core.io import DataFormatError, ReadOptions, list_arrays, read_dataset
from gppnmf_core.io.matlab import read_mat

LARSON = Path(__file__).parent / "data" / "real" / "larson_ratkidney_rat1_shot1.mat"
#: 13C at 3 T: 10.7084 MHz/T × 3 T.
SF_13C_3T = 32.1
#: The file's axis 'f' (Hz) runs in the mirrored sense (conjugate="no"): ppm = reference − f / MHz. With the
#: largest early peak (pyruvate C1, f = +258.8 Hz at time point 4) put at 171 ppm, reference = 171 + 258.8 / 32.1
#: = 179.06 ppm; then the other peaks land on the literature shifts (lactate 183.2 at f = −131.8 Hz, alanine 176.6
#: at +78.1 Hz, pyruvate hydrate 179.4 at −9.8 Hz), which the unmirrored sense (158.8, 165.4, 162.6 ppm) does not.
REFERENCE_PPM = 179.06
LARSON_OPTIONS = dict(variable="spectra_dynamic", axis_variable="f", axis_unit="Hz", spectrometer_mhz=SF_13C_3T,
                      reference_ppm=REFERENCE_PPM, conjugate="no")
TR_S = 3.0


def mat_bytes(variables: dict, **kwargs) -> bytes:
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, variables, **kwargs)
    return buffer.getvalue()


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def peak_ppm(spectrum: np.ndarray, ppm: np.ndarray, centre: float, half_width: float = 0.5) -> float:
    inside = np.flatnonzero(np.abs(ppm - centre) <= half_width)
    return float(ppm[inside[np.argmax(spectrum[inside])]])


# ------------------------------------------------------------------------------------ the 13C rat kidney


def test_larson_file_lists_its_variables_and_is_refused_without_a_choice():
    content = LARSON.read_bytes()
    assert list_arrays(content, "shot1.mat") == [("TR", (1, 1), "double"), ("f", (1, 2048), "double"),
                                                ("flip", (1, 1), "double"),
                                                ("spectra_dynamic", (2048, 64), "double")]
    with pytest.raises(DataFormatError, match=r"^shot1\.mat holds several arrays \(f, spectra_dynamic\).*"
                                              r"TR \(1 × 1, double\), f \(1 × 2048, double\), flip \(1 × 1, double\), "
                                              r"spectra_dynamic \(2048 × 64, double\)"):
        read_dataset(content, "shot1.mat")


def test_larson_spectra_on_a_13c_ppm_axis_with_the_known_peaks():
    ds = read_dataset(LARSON.read_bytes(), "shot1.mat", ReadOptions(**LARSON_OPTIONS))
    assert ds.X.shape == (2048, 64)  # 64 time points, TR 3 s
    assert ds.rows.unit == "ppm" and ds.rows.reversed
    assert "Frequency axis converted to ppm = 179.06 − Hz / 32.1 MHz" in ds.description
    ppm = ds.rows.values
    early, late = ds.X[:, :10].sum(axis=1), ds.X[:, 20:].sum(axis=1)
    assert abs(ppm[np.argmax(early)] - 171.0) <= 0.05  # the bolus: pyruvate C1
    # Narrow windows: the receiver frequency (179.06 ppm, 0 Hz) carries a spike next to the hydrate.
    # The hydrate is in exchange with pyruvate, so it is seen with the bolus; the products later.
    for name, shift, spectrum in (("lactate", 183.2, late), ("alanine", 176.6, late),
                                  ("pyruvate hydrate", 179.4, early)):
        assert abs(peak_ppm(spectrum, ppm, shift, half_width=0.25) - shift) <= 0.15, name
    # Pyruvate arrives first; lactate peaks later.
    time_s = np.arange(ds.X.shape[1]) * TR_S
    i_pyr, i_lac = np.argmin(np.abs(ppm - 171.0)), np.argmin(np.abs(ppm - 183.2))
    assert time_s[np.argmax(ds.X[i_pyr])] < time_s[np.argmax(ds.X[i_lac])]


def test_rank_2_decomposition_separates_pyruvate_from_its_products():
    """CNMF with 2 components on 155-190 ppm: pyruvate (with its hydrate) and the products (lactate, alanine).

    Pyruvate C1 is about 20 times stronger than lactate and part of it (in tissue) follows the products in
    time, so both components have their largest point at 171 ppm; they are told apart by what else they hold:
    one has no lactate at 183.2 ppm and its second peak is the hydrate (179.4), the other has lactate and
    alanine (176.6). The pyruvate component reaches its maximum earlier than the products' component.
    """
    ds = read_dataset(LARSON.read_bytes(), "shot1.mat", ReadOptions(**LARSON_OPTIONS, ppm_range=(155, 190)))
    ppm = ds.rows.values
    result = gp.cnmf(ds.X, rank=2, random_state=0)
    D = result.D / result.D.max(axis=0)

    def height(m, shift):
        return D[np.abs(ppm - shift) <= 0.4, m].max()

    lactate = np.array([height(m, 183.2) for m in range(2)])
    products, pyruvate = int(np.argmax(lactate)), int(np.argmin(lactate))
    assert lactate[products] >= 0.15 and lactate[pyruvate] <= 0.05
    assert height(products, 176.6) >= 0.15 and height(pyruvate, 176.6) <= 0.05  # alanine goes with lactate
    outside = np.abs(ppm - 171.0) > 1.5  # the second peak of each component, away from pyruvate C1
    assert abs(ppm[outside][np.argmax(D[outside, pyruvate])] - 179.4) <= 0.3  # pyruvate hydrate
    time_s = np.arange(ds.X.shape[1]) * TR_S
    assert time_s[np.argmax(result.H[pyruvate])] < time_s[np.argmax(result.H[products])]


# ------------------------------------------------------------------------------------- choosing variables


def test_mat_with_several_variables_is_refused_with_a_list_then_read_with_a_choice():
    rng = np.random.default_rng(0)
    spectra, other = rng.random((40, 6)), rng.random((5, 5))
    content = mat_bytes({"spectra_a": spectra, "noise": other, "scale": 2.0, "label": "rat 1"})
    with pytest.raises(DataFormatError, match=r"^lab\.mat holds several arrays \(spectra_a, noise\)") as refused:
        read_dataset(content, "lab.mat")
    for listed in ("spectra_a (40 × 6, double)", "noise (5 × 5, double)", "scale (1 × 1, double)"):
        assert listed in str(refused.value)  # name, shape and type of every numeric variable, for the page
    ds = read_dataset(content, "lab.mat", ReadOptions(variable="spectra_a"))
    np.testing.assert_array_equal(ds.X, spectra)
    assert "variable 'spectra_a'" in ds.description
    with pytest.raises(DataFormatError, match=r"^lab\.mat holds no numeric variable named 'label'.*It is char"):
        read_dataset(content, "lab.mat", ReadOptions(variable="label"))
    with pytest.raises(DataFormatError, match=r"^lab\.mat holds no numeric variable named 'ppm_axis' \(the one "
                                              r"chosen as the axis\)"):
        read_dataset(content, "lab.mat", ReadOptions(variable="spectra_a", axis_variable="ppm_axis"))


def test_struct_fields_are_found_one_level_deep():
    rng = np.random.default_rng(1)
    spectra, ppm = rng.random((30, 4)), np.linspace(4.0, 0.5, 30)
    content = mat_bytes({"mrs": {"spectra_raw": spectra, "ppm": ppm, "nested": {"deep": np.ones((3, 3))}},
                         "subject": "rat 1"})
    listed = list_arrays(content, "struct.mat")
    assert ("mrs.spectra_raw", (30, 4), "double") in listed and ("mrs.ppm", (1, 30), "double") in listed
    assert not any(name.startswith("mrs.nested") for name, _, _ in listed)  # one level only
    ds = read_dataset(content, "struct.mat")  # the only candidate, found inside the struct; its own ppm axis
    np.testing.assert_array_equal(ds.X, spectra)
    np.testing.assert_array_equal(ds.rows.values, ppm)
    assert ds.rows.unit == "ppm" and "variable 'mrs.spectra_raw'" in ds.description
    chosen = read_mat(content, "struct.mat", variable="mrs.spectra_raw", axis_variable="mrs.ppm")
    np.testing.assert_array_equal(chosen.array, spectra)


def test_hz_axis_kept_in_hz_without_the_spectrometer_frequency_and_converted_with_it():
    rng = np.random.default_rng(2)
    X, freq = rng.random((64, 3)), np.linspace(-500.0, 500.0, 64)
    content = npz_bytes(spectra_dyn=X, freq=freq, other=rng.random((2, 2)))
    with pytest.raises(DataFormatError, match=r"several arrays \(spectra_dyn, freq, other\).*spectra_dyn "
                                              r"\(64 × 3, float64\)"):
        read_dataset(content, "lab.npz")
    kept = read_dataset(content, "lab.npz", ReadOptions(variable="spectra_dyn", axis_variable="freq"))
    assert (kept.rows.unit, kept.rows.label, kept.rows.reversed) == ("Hz", "frequency", True)
    np.testing.assert_array_equal(kept.rows.values, freq)
    assert "taken to be in Hz from its name" in kept.description
    ppm = read_dataset(content, "lab.npz", ReadOptions(variable="spectra_dyn", axis_variable="freq",
                                                       spectrometer_mhz=100.0, reference_ppm=4.65))
    np.testing.assert_allclose(ppm.rows.values, freq / 100.0 + 4.65)
    assert ppm.rows.unit == "ppm"
    cropped = read_dataset(content, "lab.npz", ReadOptions(variable="spectra_dyn", axis_variable="freq",
                                                           spectrometer_mhz=100.0, ppm_range=(-1, 1)))
    assert cropped.X.shape[0] == np.count_nonzero(np.abs(freq / 100.0) <= 1)  # reference 0 by default
    as_ppm = read_dataset(content, "lab.npz", ReadOptions(variable="spectra_dyn", axis_variable="freq",
                                                          axis_unit="ppm"))
    assert as_ppm.rows.unit == "ppm" and "taken to be in Hz" not in as_ppm.description


def test_list_arrays_of_npz_reads_only_headers_and_refuses_other_formats():
    content = npz_bytes(X=np.zeros((3, 4), dtype=np.complex64), ppm=np.arange(3.0))
    assert list_arrays(content, "a.npz") == [("X", (3, 4), "complex64"), ("ppm", (3,), "float64")]
    with pytest.raises(DataFormatError, match=r"^a\.csv: only \.mat and \.npz files hold named arrays"):
        list_arrays(b"1,2\n", "a.csv")
    with pytest.raises(DataFormatError, match=r"^b\.npz is not a NumPy \.npz archive"):
        list_arrays(b"1,2\n", "b.npz")
