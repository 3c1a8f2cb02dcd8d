"""The toy example of Schmidt & Laurberg (2008): both factors drawn from GP priors."""

from __future__ import annotations

import numpy as np

from .._validation import check_int, check_nonnegative, check_positive, check_random_state
from ..dataset import Axis, Dataset, Truth
from ..kernels import RBF
from ..links import ExponentialLink, RectifiedGaussianLink
from ..priors import GPPrior, Preset
from ._common import _fit_noise_var

__all__ = ["paper_toy"]


def paper_toy(
    random_state=None,
    *,
    K: int = 100,
    L: int = 200,
    rank: int = 2,
    beta: float = 10.0,
    noise_var: float = 25.0,
) -> Dataset:
    r"""The toy example of Schmidt & Laurberg (2008): both factors drawn from GP priors.

    The columns of ``D`` are drawn from a GP with the RBF kernel
    ``exp(-r^2 / beta^2)`` through the rectified-Gaussian link (scale 1), the
    rows of ``H`` from the same kernel through the exponential link (rate 1):

    .. math::

        D_{:, m} = f_{RG}^{-1}(C_D \delta_m), \quad H_{m, :} = f_{E}^{-1}(C_H \eta_m), \quad
        X = D H + \sigma \varepsilon, \quad \delta, \eta, \varepsilon \sim N(0, I).

    One generator draws ``D``, then ``H``, then the noise.

    Parameters
    ----------
    random_state : None, int or numpy.random.Generator
        Seed or generator for all draws.
    K : int, default 100
        Number of features (rows of X).
    L : int, default 200
        Number of observations (columns of X).
    rank : int, default 2
        Number of components M, at most ``min(K, L)``.
    beta : float, default 10.0
        RBF length scale of both factors, in index units (the paper's ``beta**2 = 100``).
    noise_var : float, default 25.0
        Variance of the i.i.d. Gaussian noise (>= 0).

    Returns
    -------
    Dataset
        ``X`` of shape (K, L); ``truth.D`` of shape (K, rank), ``truth.H`` of
        shape (rank, L). Presets ``"correct"`` (the generating priors) and
        ``"incorrect"`` (links swapped, ``beta**2`` divided by 10 for D and
        multiplied by 10 for H, as in the paper).

    Examples
    --------
    >>> from gppnmf_core import datasets
    >>> data = datasets.paper_toy(random_state=0)
    >>> data.X.shape, data.rank
    ((100, 200), 2)
    """
    rng = check_random_state(random_state)
    K = check_int(K, "K")
    L = check_int(L, "L")
    rank = check_int(rank, "rank", minimum=1, maximum=min(K, L))
    beta = check_positive(beta, "beta")
    noise_var = check_nonnegative(noise_var, "noise_var")

    prior_D = GPPrior(RBF(beta=beta), RectifiedGaussianLink(s=1.0))
    prior_H = GPPrior(RBF(beta=beta), ExponentialLink(lam=1.0))
    D = prior_D.sample(rank, size=K, random_state=rng).T
    H = prior_H.sample(rank, size=L, random_state=rng)
    X0 = D @ H
    X = X0 + np.sqrt(noise_var) * rng.standard_normal((K, L))
    fit_var = _fit_noise_var(noise_var, X0)

    # The paper's incorrect prior: beta^2 = 10 for D and 1000 for H when beta^2 = 100.
    wrong_D = GPPrior(RBF(beta=float(np.sqrt(beta**2 / 10.0))), ExponentialLink(lam=1.0))
    wrong_H = GPPrior(RBF(beta=float(np.sqrt(beta**2 * 10.0))), RectifiedGaussianLink(s=1.0))
    presets = {
        "correct": Preset(
            prior_D,
            prior_H,
            fit_var,
            "The priors the data were drawn from: RBF with the true length scale, "
            "rectified-Gaussian link for D and exponential link for H.",
        ),
        "incorrect": Preset(
            wrong_D,
            wrong_H,
            fit_var,
            "The paper's incorrect prior: the links are swapped, D is given a ten times "
            "smaller beta^2 and H a ten times larger one.",
        ),
    }
    description = (
        "The toy example of Schmidt & Laurberg (2008): two smooth nonnegative components "
        "drawn from Gaussian-process priors and buried in heavy noise (variance "
        f"{noise_var:g}, so many entries of X are negative). Fit GPP-NMF with the correct "
        "prior, then switch to the incorrect prior and watch the RMSE bars grow; LS-NMF and "
        "CNMF, which know nothing of smoothness, do worse still."
    )
    return Dataset(
        name="paper_toy",
        title="Toy example (Schmidt & Laurberg 2008)",
        X=X,
        rows=Axis(np.arange(K, dtype=np.float64), label="feature index", unit=""),
        cols=Axis(np.arange(L, dtype=np.float64), label="observation index", unit=""),
        truth=Truth(D=D, H=H, X0=X0, names=tuple(f"component {m + 1}" for m in range(rank))),
        noise_var=fit_var,
        rank=rank,
        description=description,
        presets=presets,
    )
