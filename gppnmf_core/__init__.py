"""gppnmf_core: nonnegative matrix factorization with Gaussian-process priors.

``X (K×L) ≈ D (K×M) · H (M×L)`` with GP priors linked to the nonnegative
factors (Schmidt & Laurberg 2008), and the baselines LS-NMF (Lee & Seung) and
CNMF (Sajda et al.).

>>> import gppnmf_core as gp
>>> toy = gp.datasets.paper_toy(random_state=0)
>>> pD = gp.GPPrior(gp.RBF(beta=10.0), gp.RectifiedGaussianLink(s=1.0))
>>> pH = gp.GPPrior(gp.RBF(beta=10.0), gp.ExponentialLink(lam=1.0))
>>> res = gp.fit_gppnmf(toy.X, rank=2, prior_D=pD, prior_H=pH, noise_var=25.0, random_state=0)
"""

from . import datasets, io, metrics
from .baselines import cnmf, ls_nmf
from .dataset import Axis, Dataset, Grid, Truth
from .gppnmf import fit_gppnmf
from .io import DataFormatError, ReadOptions, read_dataset, write_nifti_mrs
from .kernels import RBF, Exponential, Kernel, Matern32, Matern52, Periodic, White, kernel_from_spec
from .links import ExponentialLink, GammaLink, Link, RectifiedGaussianLink, link_from_spec
from .metrics import align_to_truth, evaluate, match_components, normalize_for_display, rmse
from .objective import GPPNMFObjective
from .priors import BoundPrior, GPPrior, Preset
from .results import FitResult, Progress
from .structure import (
    CirculantSquareRoot,
    DenseSquareRoot,
    IdentitySquareRoot,
    KroneckerSquareRoot,
    SquareRoot,
    mirror_factor,
    sqrt_factor,
)

__version__ = "0.1.0"

__all__ = [
    "Axis", "BoundPrior", "CirculantSquareRoot", "DataFormatError", "Dataset", "DenseSquareRoot", "Exponential",
    "ExponentialLink", "FitResult", "GPPNMFObjective", "GPPrior", "GammaLink", "Grid",
    "IdentitySquareRoot", "Kernel", "KroneckerSquareRoot", "Link", "Matern32", "Matern52",
    "Periodic", "Preset", "Progress", "RBF", "ReadOptions", "RectifiedGaussianLink", "SquareRoot",
    "Truth", "White", "align_to_truth", "cnmf", "datasets", "evaluate", "fit_gppnmf", "io",
    "kernel_from_spec", "link_from_spec", "ls_nmf", "match_components", "metrics", "mirror_factor",
    "normalize_for_display", "read_dataset", "rmse", "sqrt_factor", "write_nifti_mrs",
]
