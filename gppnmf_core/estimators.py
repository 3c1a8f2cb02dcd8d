r"""scikit-learn estimators over the fits: :class:`GPPNMF`, :class:`LSNMF` and :class:`CNMF`.

They follow scikit-learn's conventions (``fit``, ``transform``,
``fit_transform``, ``inverse_transform``, ``get_params``/``set_params``,
``components_``, ``n_iter_``, ``reconstruction_err_``, ``n_features_in_``, a
:class:`~sklearn.exceptions.ConvergenceWarning` when a fit ends at its
iteration cap) and work in a :class:`~sklearn.pipeline.Pipeline` and in
:class:`~sklearn.model_selection.GridSearchCV` (e.g. over ``n_components``).
scikit-learn is needed only here: ``import gppnmf_core`` does not import it.

**Orientation.** scikit-learn's ``X`` is samples × features, the transpose of
the package's ``X`` (K × L, features × observations):

============================  ============================  ===============================
scikit-learn                  shape                         package (``fit_gppnmf`` …)
============================  ============================  ===============================
``X``                         (n_samples, n_features)       ``X.T``: L observations × K points
``components_``               (n_components, n_features)    ``D.T`` (signals, one per row)
``transform(X)``              (n_samples, n_components)     ``H.T`` (amplitudes per sample)
``inverse_transform(W)``      (n_samples, n_features)       ``(D @ H).T`` = ``W @ components_``
============================  ============================  ===============================

So for spectra of shape (n_voxels, n_points), ``prior_D`` lives on the
spectral axis (``coords=ppm`` of length n_features) and ``prior_H`` on the
samples (a voxel ``grid`` whose size is n_samples). The full fit is kept in
``result_`` (a :class:`~gppnmf_core.results.FitResult`).

The functions :func:`~gppnmf_core.fit_gppnmf`, :func:`~gppnmf_core.ls_nmf`
and :func:`~gppnmf_core.cnmf` stay, as scikit-learn keeps
``non_negative_factorization`` beside ``NMF``.

>>> from gppnmf_core.estimators import CNMF
>>> import numpy as np
>>> X = np.abs(np.random.default_rng(0).standard_normal((30, 12)))
>>> W = CNMF(n_components=2, random_state=0).fit_transform(X)
>>> W.shape
(30, 2)
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils.validation import check_is_fitted, check_non_negative, validate_data
except ImportError as exc:  # scikit-learn is an optional dependency of the package
    raise ImportError(f"gppnmf_core.estimators needs scikit-learn >= 1.6 ({exc}); install it with "
                      "`pip install scikit-learn` or `pip install gppnmf-studio[sklearn]`") from exc

from .baselines import _check_keep_mask, cnmf, ls_nmf
from .gppnmf import fit_gppnmf, map_amplitudes
from .kernels import White
from .links import ExponentialLink
from .priors import GPPrior
from .results import FitResult

__all__ = ["CNMF", "GPPNMF", "LSNMF", "expected_failed_checks"]


class _FactorizationEstimator(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """What the three estimators share: validation, orientation, the fitted attributes."""

    #: Whether negative entries of X are refused (LS-NMF without clipping).
    def _positive_only(self) -> bool:
        return False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = self._positive_only()
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags

    def _validate(self, X, *, reset: bool) -> np.ndarray:
        X = validate_data(self, X, dtype=np.float64, reset=reset)
        if self._positive_only():
            check_non_negative(X, f"{type(self).__name__}.{'fit' if reset else 'transform'}")
        return X

    def _rank(self, X: np.ndarray) -> int:
        n_samples, n_features = X.shape
        largest = min(n_samples, n_features)
        if self.n_components is None:
            return largest
        n = self.n_components
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"n_components must be a positive integer or None, got {n!r}")
        if n > largest:
            raise ValueError(f"n_components={n} must be <= min(n_samples, n_features) for X of shape "
                             f"(n_samples = {n_samples}, n_features = {n_features})")
        return int(n)

    def _mask(self, mask, shape: tuple[int, int]) -> np.ndarray | None:
        """``mask`` in the package's orientation: None, (n_samples,) per sample, or (n_features, n_samples)."""
        if mask is None:
            return None
        mask = np.asarray(mask)
        n_samples, n_features = shape
        if mask.shape not in ((n_samples, n_features), (n_samples,)):
            raise ValueError(f"mask must have the shape of X (n_samples = {n_samples}, n_features = {n_features}) "
                             f"or (n_samples,) = ({n_samples},), got {mask.shape}")
        return _check_keep_mask(mask.T, shape[::-1])

    def fit(self, X, y=None, mask=None):
        """Fit the factorization to ``X``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Data, samples in rows (the transpose of the package's X).
        y : None
            Ignored.
        mask : array_like of bool, shape (n_samples, n_features) or (n_samples,), optional
            Entries of X that count (True); left-out entries (or whole samples,
            1-D) take no part in the fit, as the ``mask`` of the package's
            functions (transposed to their orientation). X must still be
            finite there. In a :class:`~sklearn.pipeline.Pipeline` pass it as
            ``pipe.fit(X, <step>__mask=mask)``.

        Returns
        -------
        self
        """
        self.fit_transform(X, mask=mask)
        return self

    def fit_transform(self, X, y=None, mask=None):
        """Fit the factorization to ``X`` and return the amplitudes of its samples.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Data, samples in rows.
        y : None
            Ignored.
        mask : array_like of bool, shape (n_samples, n_features) or (n_samples,), optional
            Entries of X that count, see :meth:`fit`.

        Returns
        -------
        W : ndarray of shape (n_samples, n_components)
            ``H.T`` of the fit.
        """
        X = self._validate(X, reset=True)
        rank = self._rank(X)
        keep = self._mask(mask, X.shape)
        result = self._fit(X.T, rank, keep)
        self.result_ = result
        self.components_ = result.D.T.copy()
        self.n_components_ = rank
        self.n_iter_ = int(result.n_iter)
        W = self._training_amplitudes(X.T, result, keep).T.copy()
        residual = X - W @ self.components_
        if keep is not None:  # the error over the entries that count
            residual *= np.broadcast_to(keep, X.shape[::-1]).T
        self.reconstruction_err_ = float(np.linalg.norm(residual))
        if not (result.converged or result.stopped):
            warnings.warn(f"{type(self).__name__} did not converge: {result.message}. "
                          "Increase max_iter or loosen the tolerance.", ConvergenceWarning, stacklevel=2)
        return W

    def _training_amplitudes(self, Xt: np.ndarray, result: FitResult, mask: np.ndarray | None) -> np.ndarray:
        """H (M, n_samples) that ``fit_transform`` returns: the fit's own."""
        return result.H

    def transform(self, X):
        """The amplitudes of the samples of ``X`` given the fitted components.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        W : ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        return self._transform(X.T).T

    def inverse_transform(self, X):
        """Data from amplitudes: ``X @ components_``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_components)
            Amplitudes, e.g. from :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        return _as_amplitudes(X, self.n_components_) @ self.components_

    @property
    def _n_features_out(self) -> int:
        return self.components_.shape[0]


def _as_amplitudes(X, n_components: int) -> np.ndarray:
    from sklearn.utils import check_array

    X = check_array(X, dtype=np.float64)
    if X.shape[1] != n_components:
        raise ValueError(f"X must have n_components = {n_components} columns, got shape {X.shape}")
    return X


def _nnls_columns(D: np.ndarray, X: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """``argmin_{h >= 0} ||x - D h||`` for every column x of ``X`` (K, L); (M, L).

    With ``mask`` (bool, (K, L) or (L,)) each column counts its kept entries
    only; a column with none gets zero amplitudes.
    """
    from scipy.optimize import nnls

    H = np.zeros((D.shape[1], X.shape[1]))
    for j in range(X.shape[1]):
        if mask is None:
            H[:, j] = nnls(D, X[:, j])[0]
        elif mask.ndim == 1:
            if mask[j]:
                H[:, j] = nnls(D, X[:, j])[0]
        elif mask[:, j].any():
            rows = mask[:, j]
            H[:, j] = nnls(D[rows], X[rows, j])[0]
    return H


class GPPNMF(_FactorizationEstimator):
    r"""NMF with Gaussian-process priors (Schmidt & Laurberg 2008) as a scikit-learn transformer.

    The MAP estimate of :func:`~gppnmf_core.fit_gppnmf` on ``X.T``. With the
    default priors (independent entries with an exponential marginal) it is a
    sparse NMF; give GP priors to make components (``prior_D``, over the
    features) or amplitudes (``prior_H``, over the samples) smooth.

    Parameters
    ----------
    n_components : int or None, default=None
        Rank M; None uses ``min(n_samples, n_features)``.
    prior_D : GPPrior or None, default=None
        Prior of each component (a row of ``components_``, n_features points).
        None: ``GPPrior(White(), ExponentialLink(lam=1.0))``.
    prior_H : GPPrior or None, default=None
        Prior of each component's amplitudes over the samples (n_samples points;
        a grid prior needs ``n_samples == prod(grid)``, in ``fit`` and ``transform``).
        None: ``GPPrior(White(), ExponentialLink(lam=1.0))``.
    noise_var : float, default=1.0
        Noise variance sigma^2.
    method : {"auto", "lbfgs", "newton_cg", "alternating_cg"}, default="auto"
        As :func:`~gppnmf_core.fit_gppnmf`: ``"auto"`` takes truncated Newton on
        large grids and L-BFGS otherwise.
    max_iter : int, default=1000
    tol : float, default=1e-10
    gtol : float, default=1e-6
    n_replicates : int, default=1
    init_std : float, default=1e-3
    n_threads : int or None, default=None
    random_state : None, int or numpy.random.Generator, default=None
        As in :func:`~gppnmf_core.fit_gppnmf`.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        ``D.T``.
    n_components_ : int
    n_iter_ : int
        Iterations of the best replicate.
    reconstruction_err_ : float
        Frobenius norm ``||X - fit_transform(X) @ components_||`` (over the entries a ``mask`` keeps).
    n_features_in_ : int
    result_ : FitResult
        The whole fit (latent variables, objective trace, settings).

    Notes
    -----
    :meth:`transform` computes the MAP amplitudes of new samples with the
    components fixed (L-BFGS over the whitened amplitudes from zero). A prior
    over the samples couples them, so the amplitudes of a sample depend on the
    other samples passed with it, and ``transform`` of the training data is
    close to, not equal to, ``fit_transform``.
    """

    def __init__(self, n_components=None, *, prior_D=None, prior_H=None, noise_var=1.0, method="auto",
                 max_iter=1000, tol=1e-10, gtol=1e-6, n_replicates=1, init_std=1e-3, n_threads=None,
                 random_state=None):
        self.n_components = n_components
        self.prior_D = prior_D
        self.prior_H = prior_H
        self.noise_var = noise_var
        self.method = method
        self.max_iter = max_iter
        self.tol = tol
        self.gtol = gtol
        self.n_replicates = n_replicates
        self.init_std = init_std
        self.n_threads = n_threads
        self.random_state = random_state

    def _priors(self) -> tuple[GPPrior, GPPrior]:
        priors = []
        for name in ("prior_D", "prior_H"):
            prior = getattr(self, name)
            if prior is None:
                prior = GPPrior(White(), ExponentialLink(lam=1.0))
            elif not isinstance(prior, GPPrior):
                raise ValueError(f"{name} must be a GPPrior or None, got {type(prior).__name__}")
            priors.append(prior)
        return priors[0], priors[1]

    def _fit(self, Xt: np.ndarray, rank: int, mask: np.ndarray | None) -> FitResult:
        prior_D, prior_H = self._priors()
        return fit_gppnmf(Xt, rank, prior_D, prior_H, self.noise_var, method=self.method, max_iter=self.max_iter,
                          tol=self.tol, gtol=self.gtol, n_replicates=self.n_replicates, init_std=self.init_std,
                          n_threads=self.n_threads, random_state=self.random_state,
                          mask=None if mask is None else mask.astype(np.float64))

    def _transform(self, Xt: np.ndarray) -> np.ndarray:
        prior_D, prior_H = self._priors()
        return map_amplitudes(Xt, self.result_.latent["delta"], prior_D, prior_H, self.result_.settings["noise_var"],
                              max_iter=self.max_iter, tol=self.tol, gtol=self.gtol, n_threads=self.n_threads)


class _MultiplicativeUpdates(_FactorizationEstimator):
    """LS-NMF and CNMF: ``fit_transform`` returns ``transform`` of the training data."""

    def _training_amplitudes(self, Xt: np.ndarray, result: FitResult, mask: np.ndarray | None) -> np.ndarray:
        # The updates stop at a relative-change tolerance, far from the exact amplitudes where an
        # element creeps towards zero; the exact ones for the fitted components fit at least as
        # well, and make fit_transform(X) equal fit(X).transform(X) (as MiniBatchNMF's fresh restarts).
        return self._transform(Xt, mask)


class LSNMF(_MultiplicativeUpdates):
    r"""LS-NMF (Lee & Seung multiplicative updates) as a scikit-learn transformer.

    :func:`~gppnmf_core.ls_nmf` on ``X.T``. The updates need nonnegative data:
    X with negative entries is refused (as by scikit-learn's ``NMF``) unless
    ``clip_negative=True``, which sets them to zero first, as the paper's
    LS-NMF baseline does (and as :func:`~gppnmf_core.ls_nmf` always does).

    Parameters
    ----------
    n_components : int or None, default=None
        Rank M; None uses ``min(n_samples, n_features)``.
    clip_negative : bool, default=False
        Fit ``max(X, 0)`` instead of refusing negative entries.
    max_iter, tol, n_replicates, n_threads, random_state
        As in :func:`~gppnmf_core.ls_nmf`.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
    n_components_ : int
    n_iter_ : int
    reconstruction_err_ : float
        Frobenius norm of ``X - fit_transform(X) @ components_`` (X as given, not clipped; the kept entries).
    n_features_in_ : int
    result_ : FitResult

    Notes
    -----
    :meth:`transform` solves a nonnegative least-squares problem for each
    sample with the components fixed (:func:`scipy.optimize.nnls`), exactly,
    so each sample's amplitudes depend on that sample alone. ``fit_transform``
    returns the same for the training data (at least as good a fit as the
    updates' last H, which ``result_.H`` keeps), as scikit-learn's
    ``MiniBatchNMF(fresh_restarts=True)`` re-solves its W at the end.
    """

    def __init__(self, n_components=None, *, clip_negative=False, max_iter=1000, tol=1e-6, n_replicates=1,
                 n_threads=None, random_state=None):
        self.n_components = n_components
        self.clip_negative = clip_negative
        self.max_iter = max_iter
        self.tol = tol
        self.n_replicates = n_replicates
        self.n_threads = n_threads
        self.random_state = random_state

    def _positive_only(self) -> bool:
        return not self.clip_negative

    def _fit(self, Xt: np.ndarray, rank: int, mask: np.ndarray | None) -> FitResult:
        return ls_nmf(Xt, rank, max_iter=self.max_iter, tol=self.tol, n_replicates=self.n_replicates,
                      n_threads=self.n_threads, random_state=self.random_state, mask=mask)

    def _transform(self, Xt: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        return _nnls_columns(self.components_.T, np.maximum(Xt, 0.0), mask)


class CNMF(_MultiplicativeUpdates):
    r"""CNMF (Sajda et al. 2004: multiplicative updates on the raw data with a floor) as a transformer.

    :func:`~gppnmf_core.cnmf` on ``X.T``; negative entries (noise) are allowed.

    Parameters
    ----------
    n_components : int or None, default=None
        Rank M; None uses ``min(n_samples, n_features)``.
    max_iter, tol, n_replicates, floor, n_threads, random_state
        As in :func:`~gppnmf_core.cnmf`.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
    n_components_ : int
    n_iter_ : int
    reconstruction_err_ : float
    n_features_in_ : int
    result_ : FitResult

    Notes
    -----
    :meth:`transform` solves ``min ||x - D h||`` subject to ``h >= floor`` for
    each sample exactly (nonnegative least squares on ``x - D floor``);
    ``fit_transform`` returns the same for the training data (the updates'
    last H is kept in ``result_.H``).
    """

    def __init__(self, n_components=None, *, max_iter=1000, tol=1e-6, n_replicates=1, floor=1e-6, n_threads=None,
                 random_state=None):
        self.n_components = n_components
        self.max_iter = max_iter
        self.tol = tol
        self.n_replicates = n_replicates
        self.floor = floor
        self.n_threads = n_threads
        self.random_state = random_state

    def _fit(self, Xt: np.ndarray, rank: int, mask: np.ndarray | None) -> FitResult:
        return cnmf(Xt, rank, max_iter=self.max_iter, tol=self.tol, n_replicates=self.n_replicates,
                    floor=self.floor, n_threads=self.n_threads, random_state=self.random_state, mask=mask)

    def _transform(self, Xt: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        D = self.components_.T
        floor = self.result_.settings["floor"]
        return floor + _nnls_columns(D, Xt - D.sum(axis=1, keepdims=True) * floor, mask)


def expected_failed_checks(estimator) -> dict[str, str]:
    """The scikit-learn estimator checks that cannot apply to ``estimator``, with the reason.

    For :func:`sklearn.utils.estimator_checks.check_estimator` (``expected_failed_checks=``)
    and ``parametrize_with_checks`` (``expected_failed_checks=expected_failed_checks``).
    """
    if isinstance(estimator, GPPNMF):
        coupled = ("transform is one joint MAP optimisation over all samples passed: a Gaussian-process prior "
                   "on H couples the samples, and even with independent samples (White kernel) the point where "
                   "L-BFGS stops depends on the whole batch, so a subset's amplitudes agree only to the solver's "
                   "tolerance, not to the check's 1e-7")
        return {"check_methods_subset_invariance": coupled}
    return {}
