r"""Link functions between a Gaussian process and a nonnegative factor.

The paper links a nonnegative factor ``x`` to a Gaussian variable ``h`` by a
strictly increasing function ``h = f(x)``. What the fit needs is the inverse
link ``x = f^{-1}(h)``, chosen so that it maps the standard normal marginal of
``h`` onto a target marginal distribution ``P`` of ``x`` (paper eq. 24):

.. math:: f^{-1}(h) = P^{-1}(\Phi(h))

Each link offers

* :meth:`Link.value` — ``f^{-1}(h)``, GP value to factor value;
* :meth:`Link.derivative` — ``d f^{-1} / dh``;
* :meth:`Link.inverse` — ``f(x)``, factor value back to GP value;
* :meth:`Link.pdf`, :meth:`Link.cdf` — the target marginal ``P``.

All are computed in log space where the naive formulas overflow or lose
precision, so that values and derivatives stay finite and nonzero for
``|h| <= 30``.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ._validation import check_positive

_LOG2 = np.log(2.0)
_SQRT2 = np.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


def _log_phi(h):
    """Log of the standard normal density."""
    return -0.5 * h * h - _LOG_SQRT_2PI


class Link:
    """Base class for inverse links ``f^{-1}: R -> R+`` with a target marginal."""

    name = "link"

    def value(self, h) -> np.ndarray:
        """Factor value ``f^{-1}(h)`` for GP values ``h`` (any shape)."""
        return self.value_and_derivative(h)[0]

    def derivative(self, h) -> np.ndarray:
        """Derivative ``d f^{-1}(h) / dh`` (any shape)."""
        return self.value_and_derivative(h)[1]

    def value_and_derivative(self, h) -> tuple[np.ndarray, np.ndarray]:
        """Both ``f^{-1}(h)`` and its derivative, sharing the work."""
        raise NotImplementedError

    def inverse(self, x) -> np.ndarray:
        """GP value ``f(x)`` for factor values ``x > 0``."""
        raise NotImplementedError

    def pdf(self, x) -> np.ndarray:
        """Density of the target marginal at ``x`` (0 for ``x < 0``)."""
        raise NotImplementedError

    def cdf(self, x) -> np.ndarray:
        """Cumulative distribution of the target marginal at ``x``."""
        raise NotImplementedError

    def mean(self) -> float:
        """Mean of the target marginal."""
        raise NotImplementedError

    def params(self) -> dict:
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


class ExponentialLink(Link):
    r"""Exponential marginal with rate ``lam`` (paper Example 4): sparse factors.

    .. math::

        f^{-1}(h) = -\log(1 - \Phi(h)) / \lambda = -\log\Phi(-h) / \lambda, \qquad
        \frac{d f^{-1}}{dh} = \frac{\phi(h)}{\lambda\, \Phi(-h)}

    Parameters
    ----------
    lam : float
        Rate (inverse scale) of the exponential distribution (> 0); the mean is ``1/lam``.
    """

    name = "exponential"

    def __init__(self, lam: float = 1.0):
        self.lam = check_positive(lam, f"{type(self).__name__}: lam")

    def params(self) -> dict:
        return {"lam": self.lam}

    def value_and_derivative(self, h):
        h = np.asarray(h, dtype=np.float64)
        log_tail = special.log_ndtr(-h)
        return -log_tail / self.lam, np.exp(_log_phi(h) - log_tail) / self.lam

    def inverse(self, x):
        x = np.asarray(x, dtype=np.float64)
        return -special.ndtri_exp(-self.lam * x)

    def pdf(self, x):
        x = np.asarray(x, dtype=np.float64)
        return np.where(x >= 0, self.lam * np.exp(-self.lam * np.maximum(x, 0)), 0.0)

    def cdf(self, x):
        x = np.asarray(x, dtype=np.float64)
        return -np.expm1(-self.lam * np.maximum(x, 0.0))

    def mean(self) -> float:
        return 1.0 / self.lam


class RectifiedGaussianLink(Link):
    r"""Rectified-Gaussian (half-normal) marginal with scale ``s`` (paper Example 5).

    .. math::

        f^{-1}(h) = s\, \Phi^{-1}\!\left(\tfrac{1 + \Phi(h)}{2}\right)
                  = \sqrt{2}\, s\, \mathrm{erf}^{-1}(\Phi(h)), \qquad
        \frac{d f^{-1}}{dh} = \frac{s\, \phi(h)}{2\, \phi(f^{-1}(h)/s)}

    Parameters
    ----------
    s : float
        Scale of the half-normal distribution (> 0).
    """

    name = "rectified_gaussian"

    def __init__(self, s: float = 1.0):
        self.s = check_positive(s, f"{type(self).__name__}: s")

    def params(self) -> dict:
        return {"s": self.s}

    def value_and_derivative(self, h):
        h = np.asarray(h, dtype=np.float64)
        # From the smaller tail a = Phi(-|h|), exact in relative terms: left of 0 erfinv of the
        # small probability Phi(h) = a, right of 0 -Phi^-1(a / 2); beyond h ~ 37.5, where a
        # underflows, through its logarithm. d/dh = s phi(h) / (2 phi(z)) = (s/2) exp((z^2 - h^2) / 2).
        a = special.ndtr(-np.abs(h))
        z = np.where(h < 0, _SQRT2 * special.erfinv(a), -special.ndtri(0.5 * a))
        far = a == 0.0
        if far.any():
            z[far] = -special.ndtri_exp(special.log_ndtr(-h[far]) - _LOG2)
        return self.s * z, (0.5 * self.s) * np.exp(0.5 * (z * z - h * h))

    def inverse(self, x):
        z = np.asarray(x, dtype=np.float64) / self.s
        small = special.ndtri(special.erf(np.minimum(z, 1.0) / np.sqrt(2.0)))
        large = -special.ndtri_exp(_LOG2 + special.log_ndtr(-np.maximum(z, 1.0)))
        return np.where(z < 1.0, small, large)

    def pdf(self, x):
        x = np.asarray(x, dtype=np.float64)
        dens = 2.0 * np.exp(_log_phi(x / self.s)) / self.s
        return np.where(x >= 0, dens, 0.0)

    def cdf(self, x):
        x = np.asarray(x, dtype=np.float64)
        return special.erf(np.maximum(x, 0.0) / (self.s * np.sqrt(2.0)))

    def mean(self) -> float:
        return self.s * np.sqrt(2.0 / np.pi)


class GammaLink(Link):
    r"""Gamma marginal with shape ``k`` and scale ``theta``.

    .. math::

        f^{-1}(h) = P^{-1}_{\Gamma(k,\theta)}(\Phi(h)), \qquad
        \frac{d f^{-1}}{dh} = \frac{\phi(h)}{p_{\Gamma(k,\theta)}(f^{-1}(h))}

    ``k = 1`` is the exponential distribution; ``k < 1`` gives sparser factors
    and ``k > 1`` factors that are rarely near zero.

    Parameters
    ----------
    k : float
        Shape (> 0).
    theta : float
        Scale (> 0); the mean is ``k * theta``.
    """

    name = "gamma"

    def __init__(self, k: float = 2.0, theta: float = 1.0):
        self.k = check_positive(k, f"{type(self).__name__}: k")
        self.theta = check_positive(theta, f"{type(self).__name__}: theta")

    def params(self) -> dict:
        return {"k": self.k, "theta": self.theta}

    def value_and_derivative(self, h):
        h = np.asarray(h, dtype=np.float64)
        # Invert through whichever tail probability is small, to keep precision.
        lower = special.gammaincinv(self.k, special.ndtr(np.minimum(h, 0.0)))
        upper = special.gammainccinv(self.k, special.ndtr(-np.maximum(h, 0.0)))
        z = np.where(h < 0, lower, upper)
        log_density = (self.k - 1.0) * np.log(z) - z - special.gammaln(self.k)
        return self.theta * z, self.theta * np.exp(_log_phi(h) - log_density)

    def inverse(self, x):
        z = np.asarray(x, dtype=np.float64) / self.theta
        lower = special.ndtri(special.gammainc(self.k, z))
        upper = -special.ndtri(special.gammaincc(self.k, z))
        return np.where(z < self.k, lower, upper)

    def pdf(self, x):
        x = np.asarray(x, dtype=np.float64)
        z = np.maximum(x, 1e-300) / self.theta
        log_density = (self.k - 1.0) * np.log(z) - z - special.gammaln(self.k)
        return np.where(x > 0, np.exp(log_density) / self.theta, 0.0)

    def cdf(self, x):
        x = np.asarray(x, dtype=np.float64)
        return special.gammainc(self.k, np.maximum(x, 0.0) / self.theta)

    def mean(self) -> float:
        return self.k * self.theta


LINKS = {cls.name: cls for cls in (ExponentialLink, RectifiedGaussianLink, GammaLink)}


def link_from_spec(spec: dict) -> Link:
    """Build a link from ``{"name": ..., **params}`` as written by ``Link.to_spec``."""
    spec = dict(spec)
    name = spec.pop("name", None)
    if name not in LINKS:
        raise ValueError(f"link name must be one of {sorted(LINKS)}, got {name!r}")
    return LINKS[name](**spec)
