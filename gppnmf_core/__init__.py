"""gppnmf_core: nonnegative matrix factorization with Gaussian-process priors.

``X (K×L) ≈ D (K×M) · H (M×L)`` with GP priors linked to the nonnegative
factors (Schmidt & Laurberg 2008), and the baselines LS-NMF (Lee & Seung) and
CNMF (Sajda et al.).

>>> import gppnmf_core as gp
>>> toy = gp.datasets.paper_toy(random_state=0)
>>> pD = gp.GPPrior(gp.RBF(beta=10.0), gp.RectifiedGaussianLink(s=1.0))
>>> pH = gp.GPPrior(gp.RBF(beta=10.0), gp.ExponentialLink(lam=1.0))
>>> res = gp.fit_gppnmf(toy.X, rank=2, prior_D=pD, prior_H=pH, noise_var=25.0, random_state=0)

Importing the package loads the model (kernels, links, priors, fits) and the
built-in data sets. The file readers (:mod:`gppnmf_core.io`: nibabel,
``scipy.io``), the metrics (``scipy.optimize``), the scikit-learn estimators
(:mod:`gppnmf_core.estimators`) and the command line (:mod:`gppnmf_core.cli`)
are imported on first use of one of their names, so ``import gppnmf_core``
stays cheap (``benchmarks/bench_import.py``; ``tests/test_import.py`` checks
which modules it loads).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from . import datasets
from .baselines import cnmf, ls_nmf
from .dataset import Axis, Dataset, Grid, Truth
from .gppnmf import fit_gppnmf
from .kernels import RBF, Exponential, Kernel, Matern32, Matern52, Periodic, White, kernel_from_spec
from .links import ExponentialLink, GammaLink, Link, RectifiedGaussianLink, link_from_spec
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

#: The one version of the package (read by setuptools for the distribution's metadata).
__version__ = "0.1.0"

#: Names imported on first use: public name -> (module, attribute or None for the module itself).
_LAZY = {
    "io": ("gppnmf_core.io", None),
    "DataFormatError": ("gppnmf_core.io", "DataFormatError"),
    "ReadOptions": ("gppnmf_core.io", "ReadOptions"),
    "read_dataset": ("gppnmf_core.io", "read_dataset"),
    "write_nifti_mrs": ("gppnmf_core.io", "write_nifti_mrs"),
    "metrics": ("gppnmf_core.metrics", None),
    "align_to_truth": ("gppnmf_core.metrics", "align_to_truth"),
    "evaluate": ("gppnmf_core.metrics", "evaluate"),
    "match_components": ("gppnmf_core.metrics", "match_components"),
    "normalize_for_display": ("gppnmf_core.metrics", "normalize_for_display"),
    "rmse": ("gppnmf_core.metrics", "rmse"),
    "estimators": ("gppnmf_core.estimators", None),
    "cli": ("gppnmf_core.cli", None),
}

if TYPE_CHECKING:  # for type checkers and IDEs; at run time these come from __getattr__
    from . import cli, estimators, io, metrics  # noqa: F401
    from .io import DataFormatError, ReadOptions, read_dataset, write_nifti_mrs
    from .metrics import align_to_truth, evaluate, match_components, normalize_for_display, rmse


def __getattr__(name: str):
    """Import a lazily loaded name on first use (PEP 562) and keep it in the module."""
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Axis", "BoundPrior", "CirculantSquareRoot", "DataFormatError", "Dataset", "DenseSquareRoot", "Exponential",
    "ExponentialLink", "FitResult", "GPPNMFObjective", "GPPrior", "GammaLink", "Grid",
    "IdentitySquareRoot", "Kernel", "KroneckerSquareRoot", "Link", "Matern32", "Matern52",
    "Periodic", "Preset", "Progress", "RBF", "ReadOptions", "RectifiedGaussianLink", "SquareRoot",
    "Truth", "White", "align_to_truth", "cnmf", "datasets", "evaluate", "fit_gppnmf", "io",
    "kernel_from_spec", "link_from_spec", "ls_nmf", "match_components", "metrics", "mirror_factor",
    "normalize_for_display", "read_dataset", "rmse", "sqrt_factor", "write_nifti_mrs",
]
