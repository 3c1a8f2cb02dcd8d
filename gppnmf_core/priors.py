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

How ``C`` is held: ``structure="auto"`` (the default) takes the cheapest exact
form the prior allows —

* on a grid, a Kronecker product of per-axis factors (never an (N, N) matrix);
* on a 1-D axis of more than :data:`~gppnmf_core.structure.DENSE_MAX_POINTS`
  (512) equally spaced points (index coordinates, or a regular ppm axis,
  ascending or descending) with an RBF, Matérn or exponential (Matérn ν = 1/2)
  kernel, a :class:`~gppnmf_core.structure.CirculantSquareRoot` (FFTs, no (n, n)
  matrix; its embedding is checked to reproduce the covariance);
* otherwise — short axes, irregular coordinates, periodic kernels — a dense
  (n, n) factor (up to 512 points a dense product is as fast as the FFTs, and
  gives the same numbers as before).

The other values force one form: ``"kronecker"`` the Kronecker form on a grid
and, on a 1-D axis (one factor), the dense one — never the circulant;
``"dense"`` the full matrix everywhere; ``"circulant"`` the FFT form on any
1-D axis where it applies (ValueError elsewhere).
"""

from __future__ import annotations

import numbers
import warnings
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ._validation import check_int, check_random_state
from .kernels import KERNELS, RBF, Exponential, Kernel, Matern32, Matern52, White, kernel_from_spec
from .links import LINKS, Link, link_from_spec
from .structure import (
    DENSE_MAX_POINTS,
    CirculantSquareRoot,
    DenseSquareRoot,
    EmbeddingError,
    IdentitySquareRoot,
    KroneckerSquareRoot,
    SquareRoot,
    mirror_factor,
    regular_spacing,
    sqrt_factor,
)

STRUCTURES = ("auto", "kronecker", "dense", "circulant")

#: How a dense square-root factor is computed (``GPPrior(sqrt_method=...)``).
SQRT_METHODS = ("eig", "cholesky")

#: Kernels that a long regular 1-D axis embeds in a circulant: stationary and decaying with distance.
CIRCULANT_KERNELS = (RBF, Matern32, Matern52, Exponential)

#: The square-root cache holds at most this many bytes of factors (a 4096-point dense factor is 128 MiB).
CACHE_MAX_BYTES = 256 * 2**20


class _FactorCache:
    """A least-recently-used cache of square-root factors, bounded by count and by bytes.

    Parameters
    ----------
    build : callable
        ``build(*key)`` returns an ndarray or a :class:`SquareRoot` (anything with ``nbytes``).
    max_bytes : int
        Total bytes of the cached factors; the least recently used are dropped
        to stay below it, and a factor larger than this is returned uncached.
    maxsize : int
        Largest number of cached factors.
    """

    def __init__(self, build, max_bytes: int = CACHE_MAX_BYTES, maxsize: int = 32):
        self.build, self.max_bytes, self.maxsize = build, max_bytes, maxsize
        self._entries: OrderedDict = OrderedDict()
        self.nbytes = 0

    def __call__(self, *key):
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        value = self.build(*key)
        if value.nbytes <= self.max_bytes:
            self._entries[key] = value
            self.nbytes += value.nbytes
            while self.nbytes > self.max_bytes or len(self._entries) > self.maxsize:
                self.nbytes -= self._entries.popitem(last=False)[1].nbytes
        return value

    def __len__(self) -> int:
        return len(self._entries)

    def cache_clear(self) -> None:
        """Drop every cached factor."""
        self._entries.clear()
        self.nbytes = 0


def _build_axis_factor(kernel: Kernel, coords: tuple, mirror: bool, method: str):
    """1-D square-root factor: ``coords`` is a tuple so that it can be a key.

    ``method="circulant"`` builds a :class:`CirculantSquareRoot` for
    ``coords = (n_points, spacing)``; otherwise a dense (n, r) ndarray.
    """
    if method == "circulant":
        return CirculantSquareRoot(kernel, *coords)
    if mirror:
        return mirror_factor(kernel, len(coords), method)
    return sqrt_factor(kernel(np.asarray(coords)), method)


#: Cached square-root factors (at most 32 and :data:`CACHE_MAX_BYTES` in all).
_axis_factor = _FactorCache(_build_axis_factor)


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
    structure : {"auto", "kronecker", "dense", "circulant"}
        How ``C`` is held. ``"auto"`` picks the cheapest exact form: on a grid
        the Kronecker form, which never builds an (N, N) matrix; off a grid a
        :class:`~gppnmf_core.structure.CirculantSquareRoot`
        (FFTs; ``C`` of shape (n, m), ``m`` whitened variables with ``m``
        about ``n`` plus the kernel's reach, memory O(m)) when the axis has more than
        :data:`~gppnmf_core.structure.DENSE_MAX_POINTS` points, is regular
        (equally spaced to 1e-9 of the spacing, ascending or descending) and
        the kernel is RBF, Matérn or exponential (Matérn ν = 1/2); irregular
        coordinates, periodic kernels and shorter axes keep the dense (n, n)
        factor (and a covariance without an accurate circulant embedding falls
        back to it with a warning). ``"kronecker"`` forces the Kronecker form:
        per-axis factors on a grid, the dense factor on a 1-D axis (never the
        circulant). ``"dense"`` always builds the full matrix (for comparison
        and small sizes); ``"circulant"`` asks for the circulant form at any
        size off a grid and raises ValueError where it does not apply.
    sqrt_method : {"eig", "cholesky"}
        How each dense square-root factor is computed, see
        :func:`~gppnmf_core.structure.sqrt_factor` (the circulant form has its own).

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
        if structure == "circulant" and self.grid is not None:
            raise ValueError(f"structure='circulant' is for 1-D priors (coords or index), not grid {self.grid}; "
                             "use 'auto' or 'kronecker' on a grid")
        self.structure = structure
        if sqrt_method not in SQRT_METHODS:
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
            circulant = self._circulant_square_root(coords)
            if circulant is not None:
                return circulant
            return DenseSquareRoot(_axis_factor(self.kernels[0], tuple(coords), False, self.sqrt_method))
        if self.structure == "dense":
            return DenseSquareRoot(sqrt_factor(self.grid_covariance(), self.sqrt_method))
        factors = [
            _axis_factor(k, tuple(np.arange(n, dtype=np.float64)), axis == self.mirror_axis, self.sqrt_method)
            for axis, (k, n) in enumerate(zip(self.kernels, self.grid, strict=True))
        ]
        return KroneckerSquareRoot(factors)

    def _circulant_square_root(self, coords: np.ndarray) -> CirculantSquareRoot | None:
        """The circulant square root on a 1-D axis where ``structure`` asks for it, else None (dense).

        ``"auto"`` asks for it above :data:`DENSE_MAX_POINTS` points; irregular
        coordinates and kernels outside :data:`CIRCULANT_KERNELS` stay dense, and
        so do ``"dense"`` and ``"kronecker"`` (one Kronecker factor is a dense one).
        """
        forced = self.structure == "circulant"
        if not forced and (self.structure != "auto" or coords.size <= DENSE_MAX_POINTS):
            return None
        kernel, spacing = self.kernels[0], regular_spacing(coords)
        if spacing is None or not isinstance(kernel, CIRCULANT_KERNELS):
            if forced:
                why = "coords are not equally spaced" if spacing is None else f"{kernel!r} is not supported"
                raise ValueError(f"structure='circulant' needs equally spaced coords and one of "
                                 f"{[k.__name__ for k in CIRCULANT_KERNELS]} kernels: {why}")
            return None
        try:
            return _axis_factor(kernel, (coords.size, spacing), False, "circulant")
        except EmbeddingError as exc:
            if forced:
                raise
            warnings.warn(f"{exc}; using the dense ({coords.size}, {coords.size}) square root",
                          RuntimeWarning, stacklevel=4)
            return None

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
        """JSON-able settings, everything but the data's coords and grid.

        Returns
        -------
        dict
            ``{"kernel": ..., "link": ..., "mirror_axis": ..., "structure": ...,
            "sqrt_method": ...}``: ``kernel`` is one kernel spec
            (``{"name": "rbf", "beta": 2.0}``) or, when the grid axes have
            different kernels, a list of one per axis; ``link`` is a link spec
            (``{"name": "exponential", "lam": 1.0}``). :meth:`from_spec` with the
            same coords or grid rebuilds a prior with the same spec;
            :func:`validate_prior_spec` describes the format.
        """
        kernels = [k.to_spec() for k in self.kernels]
        return {
            "kernel": kernels[0] if len(set(self.kernels)) == 1 else kernels,
            "link": self.link.to_spec(),
            "mirror_axis": self.mirror_axis,
            "structure": self.structure,
            "sqrt_method": self.sqrt_method,
        }

    @classmethod
    def from_spec(cls, spec: Mapping, *, coords=None, grid=None) -> GPPrior:
        """Rebuild a prior from :meth:`to_spec` output (e.g. read from JSON) and the data's coords or grid.

        Parameters
        ----------
        spec : dict
            A prior spec, checked by :func:`validate_prior_spec` first.
            ``mirror_axis``, ``structure`` and ``sqrt_method`` may be left out
            (None, ``"auto"``, ``"eig"``).
        coords : array_like of shape (n,), optional
            As in :class:`GPPrior`.
        grid : tuple of int, optional
            As in :class:`GPPrior`.

        Returns
        -------
        GPPrior

        Raises
        ------
        ValueError
            If ``spec`` does not follow the format (the message names the
            field, e.g. ``"prior spec: kernel.beta must be a positive number,
            got -1"``), or does not fit ``coords``/``grid`` (e.g. a per-axis
            kernel list of the wrong length, a mirror axis without a grid).
        """
        validate_prior_spec(spec)
        kernel = spec["kernel"]
        kernel = [kernel_from_spec(k) for k in kernel] if isinstance(kernel, list) else kernel_from_spec(kernel)
        return cls(
            kernel,
            link_from_spec(spec["link"]),
            coords=coords,
            grid=grid,
            mirror_axis=spec.get("mirror_axis"),
            structure=spec.get("structure", "auto"),
            sqrt_method=spec.get("sqrt_method", "eig"),
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


def bind_to_data(X: np.ndarray, prior_D, prior_H) -> tuple[BoundPrior, BoundPrior]:
    """Both priors checked and bound: ``prior_D`` to the K rows of ``X`` (K, L), ``prior_H`` to its L columns.

    Raises ValueError naming the argument when one is not a :class:`GPPrior`.
    """
    for name, prior in (("prior_D", prior_D), ("prior_H", prior_H)):
        if not isinstance(prior, GPPrior):
            raise ValueError(f"{name} must be a GPPrior, got {type(prior).__name__}")
    K, L = X.shape
    return (prior_D.bind(K, name=f"prior_D (rows of X, shape {X.shape})"),
            prior_H.bind(L, name=f"prior_H (columns of X, shape {X.shape})"))


@dataclass(frozen=True)
class Preset:
    """Named prior settings for a data set: priors for both factors and the noise variance."""

    prior_D: GPPrior
    prior_H: GPPrior
    noise_var: float
    description: str = ""


#: The fields of a prior spec, in the order :meth:`GPPrior.to_spec` writes them.
PRIOR_SPEC_FIELDS = ("kernel", "link", "mirror_axis", "structure", "sqrt_method")


def _spec_params(table: dict) -> dict[str, tuple[str, ...]]:
    """The parameter names of each kernel or link by its spec name (every parameter is a positive number)."""
    return {name: tuple(cls().params()) for name, cls in table.items()}


def _check_named(spec, where: str, table: dict, what: str) -> None:
    """Check one ``{"name": ..., **params}`` spec of a kernel or a link; ``where`` names it in messages."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"prior spec: {where} must be an object like {{\"name\": ..., ...}}, "
                         f"got {type(spec).__name__} {spec!r}")
    name = spec.get("name")
    params = _spec_params(table)
    if name not in params:
        raise ValueError(f"prior spec: {where}.name must be one of {sorted(params)}, got {name!r}")
    unknown = sorted(set(spec) - {"name", *params[name]})
    if unknown:
        raise ValueError(f"prior spec: {where} ({what} {name!r}) has unknown field(s) {unknown}; "
                         f"its parameters are {list(params[name])}")
    for param in params[name]:
        if param not in spec:
            continue  # the class's default
        value = spec[param]
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (np.isfinite(value) and value > 0):
            raise ValueError(f"prior spec: {where}.{param} must be a positive number, got {value!r}")


def validate_prior_spec(spec) -> None:
    """Check a prior spec (a dict as :meth:`GPPrior.to_spec` writes, e.g. read from JSON).

    The format, as a JSON schema would say it:

    * ``kernel`` (required): a kernel spec ``{"name": N, **params}`` with ``N``
      one of ``rbf``, ``matern32``, ``matern52``, ``exponential`` (parameter
      ``beta``), ``periodic`` (``beta``, ``period``) or ``white`` (none); or a
      non-empty list of such specs, one per grid axis.
    * ``link`` (required): a link spec with ``name`` one of ``exponential``
      (parameter ``lam``), ``rectified_gaussian`` (``s``) or ``gamma``
      (``k``, ``theta``).
    * ``mirror_axis`` (optional): null or an integer >= 0.
    * ``structure`` (optional): one of ``auto``, ``kronecker``, ``dense``, ``circulant``.
    * ``sqrt_method`` (optional): ``eig`` or ``cholesky``.

    Every parameter is a positive finite number and may be left out (the
    class's default); no other fields are allowed, so a misspelt one is
    reported rather than ignored.

    Parameters
    ----------
    spec : dict
        The spec to check.

    Raises
    ------
    ValueError
        At the first field that does not follow the format, with a message that
        starts with ``"prior spec: "`` and names the field, e.g.
        ``"prior spec: kernel.beta must be a positive number, got -1"`` or
        ``"prior spec: kernel[1].name must be one of [...], got 'gauss'"``.
    """
    if not isinstance(spec, Mapping):
        raise ValueError(f"prior spec must be an object (dict) with fields {list(PRIOR_SPEC_FIELDS)}, "
                         f"got {type(spec).__name__}")
    unknown = sorted(str(key) for key in set(spec) - set(PRIOR_SPEC_FIELDS))
    if unknown:
        raise ValueError(f"prior spec: unknown field(s) {unknown}; the fields are {list(PRIOR_SPEC_FIELDS)}")
    for required in ("kernel", "link"):
        if required not in spec:
            raise ValueError(f"prior spec: the field {required!r} is missing")
    kernel = spec["kernel"]
    if isinstance(kernel, list):
        if not kernel:
            raise ValueError("prior spec: kernel must be a kernel spec or a non-empty list of them (one per "
                             "grid axis), got []")
        for axis, item in enumerate(kernel):
            _check_named(item, f"kernel[{axis}]", KERNELS, "kernel")
    else:
        _check_named(kernel, "kernel", KERNELS, "kernel")
    _check_named(spec["link"], "link", LINKS, "link")
    mirror = spec.get("mirror_axis")
    if mirror is not None and (isinstance(mirror, bool) or not isinstance(mirror, numbers.Integral) or mirror < 0):
        raise ValueError(f"prior spec: mirror_axis must be null or an integer >= 0, got {mirror!r}")
    structure = spec.get("structure", "auto")
    if structure not in STRUCTURES:
        raise ValueError(f"prior spec: structure must be one of {list(STRUCTURES)}, got {structure!r}")
    sqrt_method = spec.get("sqrt_method", "eig")
    if sqrt_method not in SQRT_METHODS:
        raise ValueError(f"prior spec: sqrt_method must be one of {list(SQRT_METHODS)}, got {sqrt_method!r}")
