"""Stationary covariance (correlation) functions on 1-D coordinates.

Every kernel is a function of the distance ``r = |x - x'|`` with ``k(0) = 1``:
the marginal variance of the Gaussian process is 1 and the link function sets
the scale of the factor. On a grid, the covariance is the separable product of
one 1-D kernel per grid axis (see :mod:`gppnmf_core.structure`).

The RBF follows the GPP-NMF paper's convention ``exp(-r**2 / beta**2)``, so the
paper's numbers can be typed in as they stand (toy example: ``beta**2 = 100``,
i.e. ``beta = 10``; CSI: ``beta = 0.3`` ppm and ``beta = 2`` voxels).
"""

from __future__ import annotations

import numpy as np

from ._validation import check_positive


class Kernel:
    """Base class: a stationary correlation function ``k(r)`` with ``k(0) = 1``."""

    #: Short name used in prior specs (JSON).
    name = "kernel"

    def __call__(self, x1, x2=None) -> np.ndarray:
        """Covariance matrix between coordinates.

        Parameters
        ----------
        x1 : array_like of shape (n1,)
        x2 : array_like of shape (n2,), optional
            Defaults to ``x1``.

        Returns
        -------
        ndarray of shape (n1, n2)
        """
        x1 = np.asarray(x1, dtype=np.float64).reshape(-1)
        x2 = x1 if x2 is None else np.asarray(x2, dtype=np.float64).reshape(-1)
        return self.of_distance(np.abs(x1[:, None] - x2[None, :]))

    def of_distance(self, r: np.ndarray) -> np.ndarray:
        """Evaluate ``k(r)`` element-wise for distances ``r >= 0``."""
        raise NotImplementedError

    def params(self) -> dict:
        """The kernel's parameters as a JSON-able dict."""
        return {}

    def to_spec(self) -> dict:
        return {"name": self.name, **self.params()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.params() == other.params()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.params().items()))))


class _LengthScaleKernel(Kernel):
    def __init__(self, beta: float = 1.0):
        self.beta = check_positive(beta, f"{type(self).__name__} kernel: beta")

    def params(self) -> dict:
        return {"beta": self.beta}


class RBF(_LengthScaleKernel):
    r"""Gaussian radial basis function, the paper's eq. (30).

    .. math:: k(r) = \exp(-r^2 / \beta^2)

    Parameters
    ----------
    beta : float
        Length scale, in the units of the coordinates (> 0).
    """

    name = "rbf"

    def of_distance(self, r):
        return np.exp(-((r / self.beta) ** 2))


class Matern32(_LengthScaleKernel):
    r"""Matérn covariance with smoothness 3/2 (once differentiable samples).

    .. math:: k(r) = (1 + \sqrt{3}\, r/\beta) \exp(-\sqrt{3}\, r/\beta)
    """

    name = "matern32"

    def of_distance(self, r):
        a = np.sqrt(3.0) * r / self.beta
        return (1.0 + a) * np.exp(-a)


class Matern52(_LengthScaleKernel):
    r"""Matérn covariance with smoothness 5/2 (twice differentiable samples).

    .. math:: k(r) = (1 + \sqrt{5}\, r/\beta + 5 r^2 / (3\beta^2)) \exp(-\sqrt{5}\, r/\beta)
    """

    name = "matern52"

    def of_distance(self, r):
        a = np.sqrt(5.0) * r / self.beta
        return (1.0 + a + a * a / 3.0) * np.exp(-a)


class Exponential(_LengthScaleKernel):
    r"""Exponential (Ornstein–Uhlenbeck, Matérn 1/2) covariance: rough, continuous samples.

    .. math:: k(r) = \exp(-r/\beta)
    """

    name = "exponential"

    def of_distance(self, r):
        return np.exp(-r / self.beta)


class Periodic(_LengthScaleKernel):
    r"""Periodic covariance (MacKay): samples repeat with period ``period``.

    .. math:: k(r) = \exp(-2 \sin^2(\pi r / p) / \beta^2)

    Parameters
    ----------
    beta : float
        Length scale relative to one period (> 0).
    period : float
        Period ``p`` in the units of the coordinates (> 0).
    """

    name = "periodic"

    def __init__(self, beta: float = 1.0, period: float = 1.0):
        super().__init__(beta)
        self.period = check_positive(period, f"{type(self).__name__} kernel: period")

    def params(self) -> dict:
        return {"beta": self.beta, "period": self.period}

    def of_distance(self, r):
        return np.exp(-2.0 * (np.sin(np.pi * r / self.period) / self.beta) ** 2)


class White(Kernel):
    r"""Independent points: no correlation at all.

    .. math:: k(r) = 1 \text{ if } r = 0 \text{ else } 0
    """

    name = "white"

    def of_distance(self, r):
        return (r == 0).astype(np.float64)


KERNELS = {cls.name: cls for cls in (RBF, Matern32, Matern52, Exponential, Periodic, White)}


def kernel_from_spec(spec: dict) -> Kernel:
    """Build a kernel from ``{"name": ..., **params}`` as written by ``Kernel.to_spec``."""
    spec = dict(spec)
    name = spec.pop("name", None)
    if name not in KERNELS:
        raise ValueError(f"kernel name must be one of {sorted(KERNELS)}, got {name!r}")
    return KERNELS[name](**spec)
