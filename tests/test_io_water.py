"""Residual water removal (HLSVD): the water line goes, the metabolite lines stay where and as they were."""

from pathlib import Path

import numpy as np
import pytest

from gppnmf_core.io import DataFormatError, ReadOptions, read_dataset
from gppnmf_core.io.water import remove_water

REAL = Path(__file__).parent / "data" / "real"
DWELL, SF, REFERENCE = 1 / 2000, 123.2, 4.65


def _line(ppm, amplitude, width_hz, n=1024):
    t = np.arange(n) * DWELL
    return amplitude * np.exp((2j * np.pi * (ppm - REFERENCE) * SF - np.pi * width_hz) * t)


@pytest.mark.parametrize("n_fids", [1, 40])  # one FID: its own poles; a grid: shared poles, own amplitudes
def test_the_water_line_is_removed_and_the_metabolites_kept(n_fids):
    metabolites = _line(2.01, 1.0, 5) + _line(3.03, 0.8, 5) + _line(3.20, 0.6, 6)
    rng = np.random.default_rng(0)
    scales = 1 + 0.1 * np.arange(n_fids)
    fids = np.stack([_line(4.68, 100 * (1 + k % 3), 6) + scales[k] * metabolites
                     + 0.01 * (rng.standard_normal(1024) + 1j * rng.standard_normal(1024))
                     for k in range(n_fids)], axis=1)
    cleaned, removed = remove_water(fids, DWELL, SF, REFERENCE)
    left = cleaned - metabolites[:, None] * scales[None, :]
    assert np.linalg.norm(left) / np.linalg.norm(metabolites[:, None] * scales) < 0.05
    assert removed > 0.99


def test_without_water_in_the_band_nothing_changes():
    fids = (_line(2.01, 1.0, 5) + _line(3.03, 0.8, 5))[:, None]
    cleaned, removed = remove_water(fids, DWELL, SF, REFERENCE)
    np.testing.assert_allclose(cleaned, fids, atol=1e-9)
    assert removed < 1e-12


def test_the_real_siemens_file_loses_its_water_and_keeps_naa():
    data = (REAL / "suspect_SVS_30.rda").read_bytes()
    kept = read_dataset(data, "SVS_30.rda")
    removed = read_dataset(data, "SVS_30.rda", ReadOptions(water="remove"))
    assert "residual water removed by HLSVD" in removed.description

    def peak(dataset, lo, hi):
        ppm, x = dataset.rows.values, dataset.X[:, 0]
        inside = (ppm > lo) & (ppm < hi)
        return ppm[inside][np.argmax(x[inside])], np.max(np.abs(x[inside]))

    naa_kept, naa_removed = peak(kept, 1.9, 2.1), peak(removed, 1.9, 2.1)
    assert peak(kept, 4.4, 5.0)[1] > 10 * naa_kept[1]  # as read, water dominates (so the crop was widened) ...
    assert kept.rows.values.max() > 4.4 and removed.rows.values.max() < 4.4  # ... removed, the usual 1H crop
    assert abs(naa_removed[0] - 2.01) <= 0.03 and abs(naa_removed[0] - naa_kept[0]) < 0.02


def test_water_removal_needs_a_ppm_axis():
    fid = np.stack([(_line(2.01, 1.0, 5)).real, (_line(2.01, 1.0, 5)).imag], axis=1)
    text = "\n".join(f"{re:.6e}\t{im:.6e}" for re, im in fid).encode()
    with pytest.raises(DataFormatError, match="needs a ppm axis"):
        read_dataset(text, "fid.txt", ReadOptions(water="remove"))
