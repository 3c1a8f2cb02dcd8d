r"""Gaussian-process priors for a nonnegative factor: kernel + link + where the factor lives.

A factor with ``n`` points (a column of D, or a row of H) is modelled as

.. math:: x = f^{-1}(C z), \qquad z \sim N(0, I), \qquad C C^T = \Sigma

where ``Sigma`` is the kernel evaluated on the factor's coordinates and
``f^{-1}`` the inverse link. The coordinates are, in order of precedence:

* ``grid=(n_1, ..., n_d)`` — a regular grid flattened in C order (first axis
  slowest), with a separable kernel (the product of one 1-D kernel per axis)
  and optionally exact mirror symmetry about the centre of ``mirror_axis``;
* ``coords`` — explicit 1-D coordinates such as a ppm axis;
* nothing — index coordinates ``0, 1, ..., n - 1``, with ``n`` given when the
  prior is bound to data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ._validation import check_int, check_random_state
from .kernels import Kernel, White, kernel_from_spec
from .links import Link, link_from_spec
from .structure import (
    DenseSquareRoot,
    IdentitySquareRoot,
    KroneckerSquareRoot,
    SquareRoot,
    mirror_factor,
    sqrt_factor,
)

STRUCTURES = ("auto", "kronecker", "dense")


@lru_cache(maxsize=32)
def _axis_factor(kernel: Kernel, coords: tuple, mirror: bool, method: str) -> np.ndarray:
    """Cached 1-D square-root factor; ``coords`` is a tuple so that it can be a key."""
    if mirror:
        return mirror_factor(kernel, len(coords), method)
    return sqrt_factor(kernel(np.asarray(coords)), method)


@dataclass(frozen=True)
class BoundPrior:
    """A :class:`GPPrior` bound to a number of points: the maps the fit needs.

    Attributes
    ----------
    sqrt : SquareRoot
        The operator ``C`` of shape (n_points, n_latent).
    link : Link
        The inverse link applied element-wise.
    """

    sqrt: SquareRoot
    link: Link

    @property
    def n_points(self) -> int:
        return self.sqrt.n_points

    @property
    def n_latent(self) -> int:
        return self.sqrt.n_latent

    def forward(self, Z: np.ndarray, points: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Factor values and link derivatives for whitened variables.

        Parameters
        ----------
        Z : ndarray of shape (n_latent, m)
        points : ndarray of int, optional
            Only these points go through the link (e.g. the voxels a mask
            keeps); default all.

        Returns
        -------
        F : ndarray of shape (n_points, m), or (len(points), m)
            ``f^{-1}(C Z)``.
        dF : ndarray of the shape of F
            ``f^{-1}'(C Z)``, to hand to :meth:`pullback`.
        """
        G = self.sqrt.apply(Z)
        return self.link.value_and_derivative(G if points is None else G[points])

    def pullback(self, dF: np.ndarray, grad_F: np.ndarray, points: np.ndarray | None = None) -> np.ndarray:
        """Gradient with respect to ``Z`` from the gradient with respect to ``F``.

        Returns ``C^T (dF * grad_F)`` of shape (n_latent, m); with ``points``
        (as given to :meth:`forward`) the gradient is zero at the other points.
        """
        G = dF * grad_F
        if points is not None:
            full = np.zeros((self.n_points, G.shape[1]))
            full[points] = G
            G = full
        return self.sqrt.apply_transpose(G)


class GPPrior:
    """A GP prior on a nonnegative factor.

    Parameters
    ----------
    kernel : Kernel or sequence of Kernel
        Covariance function; on a grid either one kernel used on every axis or
        one per grid axis.
    link : Link
        Inverse link setting the marginal distribution of the factor.
    coords : array_like of shape (n,), optional
        Coordinates of the factor's points (e.g. a ppm axis), in the kernel's units.
    grid : tuple of int, optional
        Grid shape; the factor's points are the grid flattened in C order.
    mirror_axis : int, optional
        Grid axis made exactly symmetric about its centre (the paper's left–right symmetry).
    structure : {"auto", "kronecker", "dense"}
        How ``C`` is held on a grid: ``"auto"`` uses the Kronecker form, which
        never builds an (N, N) matrix; ``"dense"`` builds the full matrix (for
        comparison and small grids). Off a grid ``C`` is always dense.
    sqrt_method : {"eig", "cholesky"}
        How each square-root factor is computed, see :func:`~gppnmf_core.structure.sqrt_factor`.

    Examples
    --------
    >>> import gppnmf_core as gp
    >>> prior = gp.GPPrior(gp.RBF(beta=10.0), gp.ExponentialLink(lam=1.0))
    >>> prior.sample(n_samples=3, size=200, random_state=0).shape
    (3, 200)
    """

    def __init__(
        self,
        kernel: Kernel | Sequence[Kernel],
        link: Link,
        *,
        coords=None,
        grid: Sequence[int] | None = None,
        mirror_axis: int | None = None,
        structure: str = "auto",
        sqrt_method: str = "eig",
    ):
        self.kernels = self._check_kernels(kernel, grid)
        if not isinstance(link, Link):
            raise ValueError(f"link must be a Link such as ExponentialLink(lam=1.0), got {link!r}")
        self.link = link
        self.grid = None if grid is None else tuple(check_int(n, "grid") for n in grid)
        self.coords = None if coords is None else self._check_coords(coords)
        if self.grid is not None and self.coords is not None:
            raise ValueError("give either coords or grid, not both")
        if mirror_axis is not None:
            if self.grid is None:
                raise ValueError("mirror_axis needs a grid, e.g. grid=(8, 8, 8)")
            mirror_axis = check_int(mirror_axis, "mirror_axis", minimum=0, maximum=len(self.grid) - 1)
        self.mirror_axis = mirror_axis
        if structure not in STRUCTURES:
            raise ValueError(f"structure must be one of {STRUCTURES}, got {structure!r}")
        self.structure = structure
        if sqrt_method not in ("eig", "cholesky"):
            raise ValueError(f"sqrt_method must be 'eig' or 'cholesky', got {sqrt_method!r}")
        self.sqrt_method = sqrt_method
        self._bound: dict[int, BoundPrior] = {}

    @staticmethod
    def _check_kernels(kernel, grid) -> tuple[Kernel, ...]:
        kernels = tuple(kernel) if isinstance(kernel, (list, tuple)) else (kernel,)
        for k in kernels:
            if not isinstance(k, Kernel):
                raise ValueError(f"kernel must be a Kernel such as RBF(beta=2.0), got {k!r}")
        n_axes = 1 if grid is None else len(grid)
        if len(kernels) not in (1, n_axes):
            raise ValueError(f"kernel: give one kernel or one per grid axis ({n_axes}), got {len(kernels)}")
        return kernels * n_axes if len(kernels) == 1 else kernels

    @staticmethod
    def _check_coords(coords) -> np.ndarray:
        coords = np.asarray(coords, dtype=np.float64)
        if coords.ndim != 1 or coords.size == 0:
            raise ValueError(f"coords must be a non-empty 1-D array, got shape {coords.shape}")
        if not np.all(np.isfinite(coords)):
            raise ValueError("coords must be finite")
        return coords

    @property
    def size(self) -> int | None:
        """Number of points implied by ``coords`` or ``grid``, else None."""
        if self.grid is not None:
            return int(np.prod(self.grid))
        if self.coords is not None:
            return self.coords.size
        return None

    def _resolve_size(self, size, name: str) -> int:
        if size is None:
            if self.size is None:
                raise ValueError(f"{name}: size is needed for a prior without coords or grid")
            return self.size
        size = check_int(size, "size")
        if self.size is not None and size != self.size:
            where = f"grid {self.grid}" if self.grid is not None else f"coords of length {self.coords.size}"
            raise ValueError(f"{name}: the prior's {where} has {self.size} points, but the factor has {size}")
        return size

    def bind(self, size: int | None = None, name: str = "prior") -> BoundPrior:
        """The prior's maps for a factor of ``size`` points (cached per size).

        Raises
        ------
        ValueError
            If ``size`` disagrees with the prior's coords or grid; the message starts with ``name``.
        """
        size = self._resolve_size(size, name)
        if size not in self._bound:
            self._bound[size] = BoundPrior(self._square_root(size), self.link)
        return self._bound[size]

    def _square_root(self, size: int) -> SquareRoot:
        if self._is_independent():
            return IdentitySquareRoot(size)
        if self.grid is None:
            coords = self.coords if self.coords is not None else np.arange(size, dtype=np.float64)
            return DenseSquareRoot(_axis_factor(self.kernels[0], tuple(coords), False, self.sqrt_method))
        if self.structure == "dense":
            return DenseSquareRoot(sqrt_factor(self.grid_covariance(), self.sqrt_method))
        factors = [
            _axis_factor(k, tuple(np.arange(n, dtype=np.float64)), axis == self.mirror_axis, self.sqrt_method)
            for axis, (k, n) in enumerate(zip(self.kernels, self.grid, strict=True))
        ]
        return KroneckerSquareRoot(factors)

    def _is_independent(self) -> bool:
        """White noise on distinct points: C is the identity, no matrix needed."""
        if not all(isinstance(k, White) for k in self.kernels) or self.mirror_axis is not None:
            return False
        return self.coords is None or np.unique(self.coords).size == self.coords.size

    def grid_covariance(self) -> np.ndarray:
        """The full (N, N) covariance on the grid (for the dense path and tests).

        The product of the per-axis kernels on grid indices; on the mirror
        axis the kernel is taken on ``|i - c|``, so the matrix is singular there.
        """
        cov = np.ones((1, 1))
        for axis, (k, n) in enumerate(zip(self.kernels, self.grid, strict=True)):
            x = np.arange(n, dtype=np.float64)
            if axis == self.mirror_axis:
                x = np.abs(x - (n - 1) / 2.0)
            cov = np.kron(cov, k(x))
        return cov

    def sample(self, n_samples: int = 1, size: int | None = None, random_state=None) -> np.ndarray:
        """Draw factors from the prior.

        Parameters
        ----------
        n_samples : int
            Number of independent draws.
        size : int, optional
            Points per draw; implied by ``coords`` or ``grid`` when given.
        random_state : None, int or numpy.random.Generator

        Returns
        -------
        ndarray of shape (n_samples, size)
            Nonnegative samples; for a grid, reshape a row to ``grid``.
        """
        n_samples = check_int(n_samples, "n_samples")
        bound = self.bind(size)
        Z = check_random_state(random_state).standard_normal((bound.n_latent, n_samples))
        return bound.forward(Z)[0].T

    def to_spec(self) -> dict:
        """JSON-able settings (coords and grid belong to the data and are not included)."""
        kernels = [k.to_spec() for k in self.kernels]
        return {
            "kernel": kernels[0] if len(set(self.kernels)) == 1 else kernels,
            "link": self.link.to_spec(),
            "mirror_axis": self.mirror_axis,
            "structure": self.structure,
        }

    @classmethod
    def from_spec(cls, spec: dict, *, coords=None, grid=None) -> GPPrior:
        """Rebuild a prior from :meth:`to_spec` output and the data's coords or grid."""
        kernel = spec["kernel"]
        kernel = [kernel_from_spec(k) for k in kernel] if isinstance(kernel, list) else kernel_from_spec(kernel)
        return cls(
            kernel,
            link_from_spec(spec["link"]),
            coords=coords,
            grid=grid,
            mirror_axis=spec.get("mirror_axis"),
            structure=spec.get("structure", "auto"),
        )

    def __repr__(self) -> str:
        kernel = self.kernels[0] if len(set(self.kernels)) == 1 else list(self.kernels)
        where = ""
        if self.grid is not None:
            mirror = "" if self.mirror_axis is None else f", mirror_axis={self.mirror_axis}"
            where = f", grid={self.grid}{mirror}"
        elif self.coords is not None:
            where = f", coords=<{self.coords.size} points>"
        return f"GPPrior({kernel!r}, {self.link!r}{where})"


@dataclass(frozen=True)
class Preset:
    """Named prior settings for a data set: priors for both factors and the noise variance."""

    prior_D: GPPrior
    prior_H: GPPrior
    noise_var: float
    description: str = ""
