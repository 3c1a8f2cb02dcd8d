"""Maps (the rows of H on a 2-D or 3-D grid) as NIfTI images, for an MRI viewer; pure: arrays in, bytes out.

One 4-D image per method (grid axes, then one volume per component), float32, with the grid's affine when the
upload brought one. Without one, the orientation comes from the grid's axis names when they spell it
("left-right", "anterior-posterior", "inferior-superior": unit voxels in RAS+, a note says the voxel size is
unknown), else the identity, marked "unknown" in the header and said in the README: an orientation is never
guessed.
"""

from __future__ import annotations

import gzip
import io
import zipfile

import numpy as np

from components.views.figures import direction_letters
from gppnmf_core import Grid

#: World axis (RAS+) and sign for each anatomical letter at the high end of a grid axis.
_RAS = {"R": (0, 1.0), "L": (0, -1.0), "A": (1, 1.0), "P": (1, -1.0), "S": (2, 1.0), "I": (2, -1.0)}

#: NIfTI xform codes.
UNKNOWN, SCANNER, ALIGNED = 0, 1, 2


def has_maps(cols) -> bool:
    """Whether a data set's observations are a 2-D or 3-D grid (maps a viewer can open)."""
    return isinstance(cols, Grid) and cols.ndim in (2, 3)


def grid_affine(grid: Grid) -> tuple[np.ndarray, int, str]:
    """The voxel-to-world affine of a grid, its NIfTI xform code and a note on where it came from.

    The grid's own ``affine`` (4 × 4, from an upload's header) when it has one; an orientation from the axis
    names when all three spell anatomical directions on distinct axes; the identity otherwise.
    """
    if grid.affine is not None:  # checked by Grid: 4 × 4, finite, invertible, in mm
        return np.asarray(grid.affine, dtype=np.float64), SCANNER, "affine from the uploaded file's header"
    names = tuple(grid.names)
    if grid.ndim == 3 and len(names) == 3:
        letters = [direction_letters(n) for n in names]
        if all(letters):
            axes = [_RAS[high] for _, high in letters]
            if len({world for world, _ in axes}) == 3:
                affine = np.zeros((4, 4))
                affine[3, 3] = 1.0
                for i, (world, sign) in enumerate(axes):
                    affine[world, i] = sign
                return affine, ALIGNED, ("orientation from the grid's axis names (" + ", ".join(names) +
                                         "); voxel size unknown, taken as 1")
    return np.eye(4), UNKNOWN, ("no affine known: identity (voxel indices), orientation unknown — do not read "
                                "left/right from it")


def maps_volume(H: np.ndarray, grid: Grid) -> np.ndarray:
    """The rows of ``H`` (shape (M, grid.size), C order) as a float32 array of shape (*grid.shape, M), a 2-D
    grid padded to one slice: (nx, ny, 1, M)."""
    H = np.asarray(H, dtype=np.float64)
    if H.ndim != 2 or H.shape[1] != grid.size:
        raise ValueError(f"maps must have shape (components, {grid.size}) for a grid {grid.shape}, got {H.shape}")
    volumes = H.reshape((H.shape[0],) + tuple(grid.shape))
    if grid.ndim == 2:
        volumes = volumes[:, :, :, None]
    return np.ascontiguousarray(np.moveaxis(volumes, 0, -1), dtype=np.float32)


def maps_nifti(H: np.ndarray, grid: Grid, description: str = "") -> bytes:
    """A gzipped NIfTI-1 image (.nii.gz bytes) of the maps ``H`` on ``grid`` (see :func:`maps_volume`)."""
    import nibabel as nib  # a second or so to import: only when someone downloads maps

    affine, code, _ = grid_affine(grid)
    image = nib.Nifti1Image(maps_volume(H, grid), affine)
    image.set_sform(affine, code=code)
    image.set_qform(affine, code=code)
    image.header["descrip"] = description.encode("ascii", "replace")[:79]
    image.header.set_xyzt_units(xyz="mm" if code == SCANNER else "unknown")  # the reader keeps the affine in mm
    return gzip.compress(image.to_bytes(), mtime=0)


def results_maps_zip(arrays: dict, meta: dict, dataset) -> bytes:
    """Every method's maps (and the truth's, when known) as ``<method>-maps.nii.gz`` in a .zip, with a README.

    ``arrays`` and ``meta`` are a stored result (``<method>.H`` of shape (M, L)); ValueError when the data set's
    observations are not a 2-D or 3-D grid.
    """
    grid = dataset.cols
    if not has_maps(grid):
        raise ValueError("only results on a 2-D or 3-D grid of voxels or pixels have maps")
    methods = list(meta.get("methods", []))
    rank = int(np.asarray(arrays[f"{methods[0]}.H"]).shape[0]) if methods else 0
    truth = dataset.truth if dataset.truth is not None and dataset.truth.H.shape[0] == rank else None
    names = list(truth.names) if truth is not None and truth.names else [f"component {m + 1}" for m in range(rank)]
    _, _, note = grid_affine(grid)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for method in methods:
            archive.writestr(f"{method}-maps.nii.gz", maps_nifti(arrays[f"{method}.H"], grid, f"{method} maps H"))
        if truth is not None:
            archive.writestr("truth-maps.nii.gz", maps_nifti(truth.H, grid, "true maps H"))
        archive.writestr("README.txt", "\n".join([
            f"Maps of {dataset.title}: the rows of H on the {' x '.join(map(str, grid.shape))} grid "
            f"({', '.join(grid.names) or 'axes not named'}).",
            "One 4-D NIfTI-1 image per method: grid axes, then one volume per component, in this order:",
            *[f"  volume {m + 1}: {name}" for m, name in enumerate(names)],
            "Components are matched and scaled to the truth when it is known (else to the first method).",
            f"Affine: {note}.",
            "",
        ]))
    return buffer.getvalue()
