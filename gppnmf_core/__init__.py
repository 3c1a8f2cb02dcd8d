"""gppnmf_core: nonnegative matrix factorization with Gaussian-process priors.

``X (K×L) ≈ D (K×M) · H (M×L)`` with GP priors linked to the nonnegative
factors (Schmidt & Laurberg 2008), and the baselines LS-NMF (Lee & Seung) and
CNMF (Sajda et al.).

>>> import gppnmf_core as gp
>>> toy = gp.datasets.paper_toy(random_state=0)
>>> pD = gp.GPPrior(gp.RBF(beta=10.0), gp.RectifiedGaussianLink(s=1.0))
>>> pH = gp.GPPrior(gp.RBF(beta=10.0), gp.ExponentialLink(lam=1.0))
>>> res = gp.fit_gppnmf(toy.X, rank=2, prior_D=pD, prior_H=pH, noise_var=25.0, random_state=0)

Importing the package loads nothing but this file: every public name (and
every submodule) is imported on first use, as SciPy's SPEC 1 describes, so
``import gppnmf_core`` costs milliseconds and a name costs only what its module
needs: the model (kernels, priors, fits) numpy and SciPy's ``linalg``, ``fft``
and ``special``; the file readers (:mod:`gppnmf_core.io`) nibabel and
``scipy.io``; the metrics ``scipy.optimize``; the estimators scikit-learn; the
figures (:mod:`gppnmf_core.plotting`) plotly.
``benchmarks/bench_import.py`` prints the times; ``tests/test_import.py``
checks which modules load.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

#: The one version of the package (read by setuptools for the distribution's metadata).
__version__ = "0.1.0"

#: Public names by the submodule that defines them; each is imported on first use.
_EXPORTS = {
    "baselines": ("cnmf", "ls_nmf"),
    "dataset": ("Axis", "Dataset", "Grid", "Truth"),
    "gppnmf": ("fit_gppnmf",),
    "io": ("DataFormatError", "ReadOptions", "read_dataset", "write_nifti_mrs"),
    "kernels": ("RBF", "Exponential", "Kernel", "Matern32", "Matern52", "Periodic", "White", "kernel_from_spec"),
    "laplace": ("build_objective", "laplace_log_evidence", "objective_value"),
    "links": ("ExponentialLink", "GammaLink", "Link", "RectifiedGaussianLink", "link_from_spec"),
    "masks": ("included_observations", "signal_strength"),
    "metrics": ("align_to_truth", "evaluate", "match_components", "normalize_for_display", "rmse"),
    "model_selection": ("ModelSelection", "select_model"),
    "noise_estimation": ("estimate_noise_var",),
    "objective": ("GPPNMFObjective",),
    "posterior": ("Posterior", "sample_posterior"),
    "priors": ("BoundPrior", "GPPrior", "Preset", "validate_prior_spec"),
    "results": ("FitResult", "Progress"),
    "structure": ("CirculantSquareRoot", "DenseSquareRoot", "IdentitySquareRoot", "KroneckerSquareRoot",
                  "SquareRoot", "mirror_factor", "sqrt_factor"),
}
#: Submodules reachable as attributes (``gp.datasets.paper_toy``) without importing them first.
_SUBMODULES = ("baselines", "cli", "dataset", "datasets", "estimators", "gppnmf", "io", "kernels", "laplace", "links",
               "masks", "metrics", "model_selection", "noise_estimation", "objective", "plotting", "posterior",
               "priors", "results", "solvers", "structure", "threads")
_LAZY = {name: (module, name) for module, names in _EXPORTS.items() for name in names}
_LAZY.update({module: (module, None) for module in _SUBMODULES})

if TYPE_CHECKING:  # for type checkers and IDEs; at run time every name comes from __getattr__
    from . import (  # noqa: F401
        baselines,
        cli,
        dataset,
        datasets,
        estimators,
        gppnmf,
        io,
        kernels,
        links,
        masks,
        metrics,
        objective,
        plotting,
        priors,
        results,
        solvers,
        structure,
        threads,
    )
    from .baselines import cnmf, ls_nmf
    from .dataset import Axis, Dataset, Grid, Truth
    from .gppnmf import fit_gppnmf
    from .io import DataFormatError, ReadOptions, read_dataset, write_nifti_mrs
    from .kernels import RBF, Exponential, Kernel, Matern32, Matern52, Periodic, White, kernel_from_spec
    from .laplace import build_objective, laplace_log_evidence, objective_value
    from .links import ExponentialLink, GammaLink, Link, RectifiedGaussianLink, link_from_spec
    from .masks import included_observations, signal_strength
    from .metrics import align_to_truth, evaluate, match_components, normalize_for_display, rmse
    from .model_selection import ModelSelection, select_model
    from .noise_estimation import estimate_noise_var
    from .objective import GPPNMFObjective
    from .posterior import Posterior, sample_posterior
    from .priors import BoundPrior, GPPrior, Preset, validate_prior_spec
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


def __getattr__(name: str):
    """Import a lazily loaded name on first use (PEP 562) and keep it in the module."""
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    module = importlib.import_module(f"{__name__}.{module_name}")
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Axis", "BoundPrior", "CirculantSquareRoot", "DataFormatError", "Dataset", "DenseSquareRoot", "Exponential",
    "ExponentialLink", "FitResult", "GPPNMFObjective", "GPPrior", "GammaLink", "Grid", "IdentitySquareRoot", "Kernel",
    "KroneckerSquareRoot", "Link", "Matern32", "Matern52", "ModelSelection", "Periodic", "Posterior", "Preset",
    "Progress", "RBF", "ReadOptions", "RectifiedGaussianLink", "SquareRoot", "Truth", "White", "align_to_truth",
    "build_objective", "cnmf", "datasets", "estimate_noise_var", "evaluate", "fit_gppnmf", "included_observations",
    "io", "kernel_from_spec", "laplace_log_evidence", "link_from_spec", "ls_nmf", "match_components", "metrics",
    "mirror_factor", "normalize_for_display", "objective_value", "read_dataset", "rmse", "sample_posterior",
    "select_model", "signal_strength", "sqrt_factor", "validate_prior_spec", "write_nifti_mrs",
]
