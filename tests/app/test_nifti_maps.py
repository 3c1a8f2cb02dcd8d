"""Maps as NIfTI: written by components.views.nifti_maps, read back with nibabel (shape, values, affine)."""

from __future__ import annotations

import gzip
import io
import zipfile

import nibabel as nib
import numpy as np
import pytest

import gppnmf_core as gp
from components.views import nifti_maps

PHANTOM_GRID = gp.Grid((8, 8, 8), names=("left-right", "anterior-posterior", "inferior-superior"))


def _read(data: bytes) -> nib.Nifti1Image:
    return nib.Nifti1Image.from_bytes(gzip.decompress(data))


def test_maps_read_back_with_their_shape_values_and_orientation():
    H = np.random.default_rng(0).random((2, 512))
    image = _read(nifti_maps.maps_nifti(H, PHANTOM_GRID, "gppnmf maps"))
    assert image.shape == (8, 8, 8, 2)
    volume = np.asarray(image.dataobj)
    np.testing.assert_allclose(volume[..., 1], H[1].reshape(8, 8, 8), rtol=1e-6)  # C order: axis 0 slowest
    assert volume[3, 5, 6, 0] == pytest.approx(H[0, 3 * 64 + 5 * 8 + 6], rel=1e-6)
    assert nib.aff2axcodes(image.affine) == ("R", "P", "S")  # left→right, anterior→posterior, inferior→superior
    assert int(image.header["sform_code"]) == nifti_maps.ALIGNED
    assert image.header["descrip"].item().startswith(b"gppnmf maps")


def test_an_uploaded_grid_affine_is_kept_in_mm():
    affine = np.array([[2.0, 0, 0, -10], [0, 3.0, 0, 5], [0, 0, 4.0, 1], [0, 0, 0, 1]])
    grid = gp.Grid((4, 3, 2), names=("x", "y", "z"), affine=affine)  # as the NIfTI-MRS reader hands it over
    image = _read(nifti_maps.maps_nifti(np.ones((1, 24)), grid))
    np.testing.assert_allclose(image.affine, affine)
    assert int(image.header["sform_code"]) == nifti_maps.SCANNER
    assert image.header.get_xyzt_units()[0] == "mm"


def test_without_an_affine_or_named_directions_the_identity_is_marked_unknown():
    grid = gp.Grid((4, 3, 2), names=("x", "y", "z"))
    affine, code, note = nifti_maps.grid_affine(grid)
    assert code == nifti_maps.UNKNOWN and np.array_equal(affine, np.eye(4)) and "identity" in note
    image = _read(nifti_maps.maps_nifti(np.arange(48.0).reshape(2, 24), grid))
    np.testing.assert_allclose(image.header.get_sform(coded=False), np.eye(4))
    assert int(image.header["sform_code"]) == 0 and int(image.header["qform_code"]) == 0
    flat = _read(nifti_maps.maps_nifti(np.arange(24.0).reshape(2, 12), gp.Grid((4, 3), names=("row", "column"))))
    assert flat.shape == (4, 3, 1, 2)
    np.testing.assert_allclose(np.asarray(flat.dataobj)[:, :, 0, 1], np.arange(12.0, 24.0).reshape(4, 3))


def test_results_zip_holds_every_method_the_truth_and_a_readme():
    csi = gp.datasets.csi_phantom(random_state=0)
    arrays = {"gppnmf.H": np.array(csi.truth.H), "cnmf.H": 2 * np.array(csi.truth.H)}
    archive = zipfile.ZipFile(io.BytesIO(nifti_maps.results_maps_zip(arrays, {"methods": ["gppnmf", "cnmf"]}, csi)))
    assert sorted(archive.namelist()) == ["README.txt", "cnmf-maps.nii.gz", "gppnmf-maps.nii.gz", "truth-maps.nii.gz"]
    cnmf = np.asarray(_read(archive.read("cnmf-maps.nii.gz")).dataobj)
    np.testing.assert_allclose(cnmf[..., 0], 2 * csi.truth.H[0].reshape(8, 8, 8), rtol=1e-6)
    readme = archive.read("README.txt").decode()
    assert "volume 1: brain" in readme and "voxel size unknown" in readme
    with pytest.raises(ValueError, match="grid"):
        nifti_maps.results_maps_zip(arrays, {"methods": ["gppnmf"]}, gp.datasets.factories(random_state=0))
    with pytest.raises(ValueError, match="shape"):
        nifti_maps.maps_volume(np.ones((2, 10)), PHANTOM_GRID)
