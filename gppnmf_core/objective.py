r"""The GPP-NMF MAP objective over the whitened variables, with its gradient.

.. math::

    L(\delta, \eta) = \frac{1}{2\sigma^2} \lVert W \odot (X - D H) \rVert_F^2
                      + \tfrac12 \lVert \delta \rVert^2 + \tfrac12 \lVert \eta \rVert^2,
    \qquad D = f_D^{-1}(C_D \delta), \quad H^T = f_H^{-1}(C_H \eta)

(paper eq. 22). The gradient follows the chain rule:

.. math::

    G_D = \sigma^{-2} (W^2 \odot (DH - X)) H^T, \qquad
    \nabla_\delta = C_D^T (f_D^{-1\prime}(C_D \delta) \odot G_D) + \delta

and likewise for ``eta`` with ``G_H = sigma^-2 D^T (W^2 ⊙ (DH - X))``.
The variables are packed into one flat float64 vector ``theta = [vec(delta), vec(eta)]``
(SciPy's ``jac=True`` convention: one call returns value and gradient).

Memory and masks
----------------
The data-fit term is evaluated in one of two ways, chosen once when the
objective is built, so that a fit needs at most about one extra copy of the
data and no (K, L) temporaries per evaluation:

* **Column weights** (no mask, a 1-D mask, or a (K, L) mask that is constant
  down every column: whole observations / voxels left out or weighted, the
  common case) — :class:`ColumnWeightedFit`. The kept columns, scaled by
  their weights, are copied once in column-major order (no copy at all
  without a mask), and the squared error is expanded,
  ``||X - DH||² = ||X||² - 2 <X H^T, D> + <D^T D, H H^T>``, which needs only
  (K, M) and (L, M) arrays per evaluation. Only the kept columns of H go
  through the link; the left-out voxels' values follow from the prior alone
  (their gradient from the data is zero).
* **Element-wise weights** (any other mask) — :class:`ElementwiseWeightedFit`.
  The residual is formed explicitly, one column block at a time in a buffer
  of about :data:`BLOCK_BYTES`; a 0/1 mask is used as it is (no copy), other
  weights are square-rooted once (one (K, L) array).

Both walk X in column blocks of about :data:`BLOCK_BYTES` (1 MiB, within the
L2 cache), so that the two products with X of one evaluation read X from
memory once instead of twice, and the only accumulator is (K, M).
"""

from __future__ import annotations

import numpy as np

from .priors import BoundPrior
from .structure import KroneckerSquareRoot

#: Use the expanded squared error only while it keeps more than ten of sixteen digits.
CANCELLATION_LIMIT = 1e-6

#: Bytes of X per column block: the products with a block run while it sits in the L2 cache.
BLOCK_BYTES = 1 << 20


def column_blocks(n_rows: int, n_columns: int, block_bytes: int = BLOCK_BYTES) -> list[slice]:
    """Consecutive column slices of a (n_rows, n_columns) float64 array, about ``block_bytes`` each."""
    step = max(1, block_bytes // (8 * max(n_rows, 1)))
    return [slice(start, min(start + step, n_columns)) for start in range(0, max(n_columns, 1), step)]


def column_weights(weights_sq: np.ndarray) -> np.ndarray | None:
    """The row of ``weights_sq`` (K, L) when every row equals it, else None.

    Compared row by row, so no (K, L) temporary is formed.
    """
    first = weights_sq[0]
    for row in weights_sq[1:]:
        if not np.array_equal(row, first):
            return None
    return first


def _residual_fit(X, W, D, Ht, blocks):
    """``||W ⊙ (D H - X)||²``, ``(W² ⊙ (DH - X)) H^T`` and its transpose product, block by block.

    ``W`` may be None (all ones). Each column block of the residual is formed
    in one buffer of a block's size, so no (K, L) array is allocated.
    """
    squared_error = 0.0
    grad_D = np.zeros_like(D)
    grad_Ht = np.empty_like(Ht)
    update = np.empty_like(D)
    buffer = np.empty((X.shape[0], blocks[0].stop - blocks[0].start))
    for columns in blocks:
        R = buffer[:, : columns.stop - columns.start]
        H_block = Ht[columns]
        np.matmul(D, H_block.T, out=R)
        R -= X[:, columns]
        if W is not None:
            R *= W[:, columns]
        squared_error += float(np.vdot(R, R))
        if W is not None:
            R *= W[:, columns]
        grad_D += np.matmul(R, H_block, out=update)
        np.matmul(R.T, D, out=grad_Ht[columns])
    return squared_error, grad_D, grad_Ht


class ColumnWeightedFit:
    r"""``||(X - D H) diag(w)||²`` and its gradients for column weights ``w² >= 0``.

    Parameters
    ----------
    X : ndarray of shape (K, L)
    weights_sq : ndarray of shape (L,), optional
        Squared weight of each column; None (or all ones) means no weighting.

    Attributes
    ----------
    keep : ndarray of int or None
        The columns of nonzero weight (None: all). :meth:`__call__` takes and
        returns H only on these columns: the others do not enter the data fit.

    Notes
    -----
    Columns of weight zero are dropped once and for all: only
    ``X_k = X[:, keep] * w[keep]`` is kept, in column-major order (a copy of
    the kept part of the data; without a mask ``X`` itself, no copy).
    Each evaluation uses the expanded form
    ``||X_k - D H_k||² = ||X_k||² - 2 <X_k H_k^T, D> + <D^T D, H_k H_k^T>``:
    ``X_k H_k^T`` and ``X_k^T D`` are computed together, one cache-sized
    column block of ``X_k`` at a time, so ``X_k`` is read from memory once;
    the other temporaries are (K, M) and (L, M).
    """

    def __init__(self, X: np.ndarray, weights_sq: np.ndarray | None = None):
        self.keep, self.scale = None, None
        if weights_sq is not None and not np.all(weights_sq == 1.0):
            keep = np.flatnonzero(weights_sq > 0)
            scale = np.sqrt(weights_sq[keep])
            X = np.asfortranarray(X[:, keep])  # column blocks of the copy are contiguous
            if not np.all(scale == 1.0):
                X *= scale
                self.scale = scale[:, None]
            self.keep = keep
        self.X = X
        self.blocks = column_blocks(*X.shape)
        self.x_sq = sum(float(np.einsum("ij,ij->", X[:, c], X[:, c])) for c in self.blocks)

    def __call__(self, D: np.ndarray, Ht: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """The squared error and the gradients of half of it w.r.t. D (K, M) and H^T.

        ``Ht`` holds the rows of H^T for the kept columns only, shape (len(keep), M).
        """
        Hk = Ht if self.scale is None else Ht * self.scale
        XHt = np.zeros_like(D)
        XtD = np.empty_like(Hk)
        update = np.empty_like(D)
        for columns in self.blocks:
            block = self.X[:, columns]
            XHt += np.matmul(block, Hk[columns], out=update)
            np.matmul(block.T, D, out=XtD[columns])
        DtD, HHt = D.T @ D, Hk.T @ Hk
        squared_error = self.x_sq - 2.0 * np.vdot(XHt, D) + np.vdot(DtD, HHt)
        if squared_error > CANCELLATION_LIMIT * self.x_sq:
            grad_D = D @ HHt - XHt
            grad_Hk = Hk @ DtD - XtD
        else:  # so close a fit that the expansion would cancel: form the residual, block by block
            squared_error, grad_D, grad_Hk = _residual_fit(self.X, None, D, Hk, self.blocks)
        if self.scale is not None:
            grad_Hk *= self.scale
        return squared_error, grad_D, grad_Hk

    def gauss_newton(self, D, Ht, dir_D, dir_Ht) -> tuple[np.ndarray, np.ndarray]:
        r"""``J^T J`` applied to a direction of (D, H^T): the Gauss–Newton product of half the squared error.

        With ``E = dir_D H_k^T + D dir_k^T`` (the change of ``D H_k^T``, never
        formed) returns ``(E H_k, E^T D)``, both from (M, M) products:
        ``dir_D (H_k^T H_k) + D (dir_k^T H_k)`` and ``H_k (dir_D^T D) + dir_k (D^T D)``.

        Parameters
        ----------
        D, dir_D : ndarray of shape (K, M)
        Ht, dir_Ht : ndarray of shape (len(keep), M)
            Rows of H^T (and of the direction) for the kept columns only.

        Returns
        -------
        tuple of ndarray of shapes (K, M) and (len(keep), M)
        """
        Hk, dir_k = (Ht, dir_Ht) if self.scale is None else (Ht * self.scale, dir_Ht * self.scale)
        out_D = dir_D @ (Hk.T @ Hk) + D @ (dir_k.T @ Hk)
        out_Hk = Hk @ (dir_D.T @ D) + dir_k @ (D.T @ D)
        if self.scale is not None:
            out_Hk *= self.scale
        return out_D, out_Hk


class ElementwiseWeightedFit:
    r"""``||W ⊙ (X - D H)||²`` and its gradients for a general weight matrix.

    Parameters
    ----------
    X : ndarray of shape (K, L)
    weights_sq : ndarray of shape (K, L)
        Squared weights ``W²``; a 0/1 mask is kept as it is (no copy), other
        weights are square-rooted once.

    Notes
    -----
    Per evaluation, for one cache-sized column block of X at a time:
    ``R = W ⊙ (D H - X)`` in a block-sized buffer, the squared error
    ``<R, R>``, then ``R *= W`` in place and the block's share of the two
    gradient products. No (K, L) array is allocated after construction, and
    X and W are read from memory once per evaluation.
    """

    def __init__(self, X: np.ndarray, weights_sq: np.ndarray):
        self.X = X
        binary = all(np.all((row == 0.0) | (row == 1.0)) for row in weights_sq)
        self.W = weights_sq if binary else np.sqrt(weights_sq)
        self.blocks = column_blocks(*X.shape)
        self.keep = None

    def __call__(self, D: np.ndarray, Ht: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """The squared error and the gradients of half of it w.r.t. D (K, M) and H^T (L, M)."""
        return _residual_fit(self.X, self.W, D, Ht, self.blocks)

    def gauss_newton(self, D, Ht, dir_D, dir_Ht) -> tuple[np.ndarray, np.ndarray]:
        """``J^T J`` applied to a direction: ``(E H, E^T D)`` with ``E = W² ⊙ (dir_D H + D dir_H)``.

        Formed one column block at a time, as in :meth:`__call__` (no (K, L) array).
        Shapes: D, dir_D (K, M); Ht, dir_Ht (L, M); returns arrays of those shapes.
        """
        out_D = np.zeros_like(D)
        out_Ht = np.empty_like(Ht)
        buffer = np.empty((D.shape[0], self.blocks[0].stop - self.blocks[0].start))
        for columns in self.blocks:
            E = buffer[:, : columns.stop - columns.start]
            np.matmul(dir_D, Ht[columns].T, out=E)
            E += D @ dir_Ht[columns].T
            E *= self.W[:, columns]
            E *= self.W[:, columns]
            out_D += E @ Ht[columns]
            np.matmul(E.T, D, out=out_Ht[columns])
        return out_D, out_Ht


class GPPNMFObjective:
    """Value and gradient of the GPP-NMF MAP objective on a flat vector.

    Parameters
    ----------
    X : ndarray of shape (K, L)
        Data (validated by the caller).
    rank : int
        Number of components M.
    prior_D : BoundPrior
        Prior for the columns of D, bound to K points.
    prior_H : BoundPrior
        Prior for the rows of H, bound to L points.
    noise_var : float
        Noise variance sigma^2 (> 0).
    weights_sq : ndarray of shape (K, L) or (L,), optional
        Squared mask ``W**2``; a 1-D array weights whole columns. None means
        every entry counts once. A (K, L) mask whose rows are all equal is
        handled as column weights (see the module notes on memory).

    Notes
    -----
    ``delta`` has shape (prior_D.n_latent, M) and ``eta`` (prior_H.n_latent, M);
    ``theta`` holds ``delta.ravel()`` followed by ``eta.ravel()``.
    """

    def __init__(self, X, rank, prior_D: BoundPrior, prior_H: BoundPrior, noise_var, weights_sq=None):
        self.X = X
        self.rank = rank
        self.prior_D = prior_D
        self.prior_H = prior_H
        self.inv_noise_var = 1.0 / noise_var
        if weights_sq is not None:
            weights_sq = np.asarray(weights_sq, dtype=np.float64)
            if weights_sq.ndim == 2:
                columns = column_weights(weights_sq)
                weights_sq = weights_sq if columns is None else columns
        if weights_sq is None or weights_sq.ndim == 1:
            self.data_fit = ColumnWeightedFit(X, weights_sq)
        else:
            self.data_fit = ElementwiseWeightedFit(X, weights_sq)
        block = self.data_fit.blocks[0]
        #: Multiply-adds of the largest product with the data (one column block), for the thread policy.
        self.product_work = self.data_fit.X.shape[0] * (block.stop - block.start) * rank
        self.n_delta = prior_D.n_latent * rank
        self.size = self.n_delta + prior_H.n_latent * rank
        #: Slices of theta holding delta and eta, in that order.
        self.blocks = (slice(0, self.n_delta), slice(self.n_delta, self.size))

    def unpack(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Split ``theta`` into ``delta`` (n_latent_D, M) and ``eta`` (n_latent_H, M)."""
        delta = theta[: self.n_delta].reshape(self.prior_D.n_latent, self.rank)
        eta = theta[self.n_delta :].reshape(self.prior_H.n_latent, self.rank)
        return delta, eta

    @staticmethod
    def pack(delta: np.ndarray, eta: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`unpack`."""
        return np.concatenate([delta.ravel(), eta.ravel()])

    def factors(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``D`` of shape (K, M) and ``H`` of shape (M, L) for ``theta``."""
        delta, eta = self.unpack(theta)
        return self.prior_D.forward(delta)[0], self.prior_H.forward(eta)[0].T

    def gauss_newton_product(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        r"""The Gauss–Newton Hessian at ``theta`` times ``v``: ``(I + J^T J / sigma^2) v``.

        ``J`` is the Jacobian of the weighted residual ``W ⊙ (D H - X)`` with
        respect to ``theta``; the exact Hessian adds terms in the residual and
        in the links' second derivatives, which vanish for a perfect fit. The
        product is positive definite (its smallest eigenvalue is at least 1),
        costs two applications of each square root and (M, M) products (no
        pass over X for column weights), and is what a truncated-Newton solver
        needs. The factors at ``theta`` are cached, so a run of products at one
        point computes them once.

        Parameters
        ----------
        theta : ndarray of shape (size,)
        v : ndarray of shape (size,)

        Returns
        -------
        ndarray of shape (size,)
        """
        cached = getattr(self, "_gn_point", None)
        if cached is None or not np.array_equal(cached[0], theta):
            delta, eta = self.unpack(theta)
            keep = self.data_fit.keep
            cached = (np.array(theta, copy=True), *self.prior_D.forward(delta), *self.prior_H.forward(eta, keep))
            self._gn_point = cached
        _, D, dD, Ht, dHt = cached
        keep = self.data_fit.keep
        v_delta, v_eta = self.unpack(np.asarray(v, dtype=np.float64))
        dir_D = dD * self.prior_D.sqrt.apply(v_delta)
        G = self.prior_H.sqrt.apply(v_eta)
        dir_Ht = dHt * (G if keep is None else G[keep])
        out_D, out_Ht = self.data_fit.gauss_newton(D, Ht, dir_D, dir_Ht)
        out = np.empty(self.size)
        out_delta, out_eta = self.unpack(out)
        out_delta[...] = self.prior_D.pullback(dD, self.inv_noise_var * out_D)
        out_delta += v_delta
        out_eta[...] = self.prior_H.pullback(dHt, self.inv_noise_var * out_Ht, keep)
        out_eta += v_eta
        return out

    def gauss_newton_operator(self, theta: np.ndarray, dtype=np.float32, out_dtype=np.float64):
        r"""The Gauss–Newton product of :meth:`gauss_newton_product` at ``theta``, computed in ``dtype``.

        The factors and link derivatives at ``theta`` are computed once in
        float64 and cast; each product then runs in ``dtype`` (float32: the
        mode products and the element-wise steps on half the bytes, several
        times faster on large grids) and returns float64. A float32 product
        agrees with the float64 one to about 1e-6 relative: enough for the
        inner conjugate gradients of a truncated-Newton step, whose accuracy
        is set by the (float64) gradient and line search.

        Parameters
        ----------
        theta : ndarray of shape (size,)
        dtype : numpy dtype
            float32 (default) or float64.
        out_dtype : numpy dtype
            dtype of the products returned (float64 by default).

        Returns
        -------
        callable
            ``product(v) -> ndarray of shape (size,)`` of ``out_dtype``, for ``v`` of shape (size,).
        """
        dtype = np.dtype(dtype)
        ops = getattr(self, "_precision_ops", {})
        if dtype not in ops:
            ops[dtype] = (self.prior_D.sqrt.in_precision(dtype), *self._h_in_precision(dtype))
            self._precision_ops = ops
        (apply_D, apply_DT), (apply_H, apply_HT), keep_box, n_box = ops[dtype]
        delta, eta = self.unpack(np.asarray(theta, dtype=np.float64))
        keep = self.data_fit.keep
        D, dD = (a.astype(dtype) for a in self.prior_D.forward(delta))
        Ht, dHt = self.prior_H.forward(eta, keep)
        scale = getattr(self.data_fit, "scale", None)
        if scale is not None:  # column weights: fold the square-rooted weights into H and its derivative
            Ht, dHt = Ht * scale, dHt * scale
        Ht, dHt = Ht.astype(dtype), dHt.astype(dtype)
        elementwise = isinstance(self.data_fit, ElementwiseWeightedFit)
        if not elementwise:
            HtH, DtD = Ht.T @ Ht, D.T @ D
        c = dtype.type(self.inv_noise_var)
        dD_c, dHt_c = dD * c, dHt * c
        n_delta, M = self.n_delta, self.rank
        full = np.zeros((n_box, M), dtype=dtype) if keep is not None else None
        # flat indices of the kept rows in ``full``: a flat scatter is ~3x faster than full[keep_box] = ...
        flat_keep = None if keep is None else (keep_box[:, None] * M + np.arange(M)).ravel()

        def product(v):
            v = np.asarray(v)
            v_delta = v[:n_delta].reshape(-1, M).astype(dtype, copy=False)
            v_eta = v[n_delta:].reshape(-1, M).astype(dtype, copy=False)
            dir_D = dD * apply_D(v_delta)
            G = apply_H(v_eta)
            dir_Ht = dHt * (G if keep is None else np.take(G, keep_box, axis=0))
            if elementwise:
                out_D, out_Ht = self.data_fit.gauss_newton(D, Ht, dir_D, dir_Ht)
            else:
                out_D = dir_D @ HtH + D @ (dir_Ht.T @ Ht)
                out_Ht = Ht @ (dir_D.T @ D) + dir_Ht @ DtD
            out_D *= dD_c
            out_Ht *= dHt_c
            out = np.empty(self.size, dtype=out_dtype)
            out[:n_delta] = apply_DT(out_D).ravel()
            out[:n_delta] += v[:n_delta]
            if keep is None:
                out[n_delta:] = apply_HT(out_Ht).ravel()
            else:
                full.ravel()[flat_keep] = out_Ht.ravel()
                out[n_delta:] = apply_HT(full).ravel()
            out[n_delta:] += v[n_delta:]
            return out

        return product

    def _h_in_precision(self, dtype):
        """H's square root in ``dtype``: ``((apply, apply_transpose), keep_box, n_box)``.

        A Kronecker square root with a column mask is restricted to the bounding
        box of the kept voxels (``keep_box``: their indices in the box, ``n_box``
        its size); otherwise the box is the whole grid (``keep_box = keep``).
        """
        sqrt, keep = self.prior_H.sqrt, self.data_fit.keep
        if keep is None or not isinstance(sqrt, KroneckerSquareRoot):
            return sqrt.in_precision(dtype), keep, sqrt.n_points
        coords = np.unravel_index(keep, sqrt.point_shape)
        box = [(int(c.min()), int(c.max()) + 1) for c in coords]
        box_shape = tuple(b - a for a, b in box)
        keep_box = np.ravel_multi_index(tuple(c - a for c, (a, _) in zip(coords, box, strict=True)), box_shape)
        return sqrt.in_precision(dtype, box), keep_box, int(np.prod(box_shape))

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Objective value and gradient of shape (size,) at ``theta``."""
        delta, eta = self.unpack(theta)
        keep = self.data_fit.keep  # columns left out by a column mask skip the link
        D, dD = self.prior_D.forward(delta)
        Ht, dHt = self.prior_H.forward(eta, keep)
        squared_error, grad_D, grad_Ht = self.data_fit(D, Ht)
        value = 0.5 * self.inv_noise_var * squared_error + 0.5 * (np.vdot(delta, delta) + np.vdot(eta, eta))
        grad = np.empty(self.size)
        grad_delta, grad_eta = self.unpack(grad)
        grad_D *= self.inv_noise_var
        grad_Ht *= self.inv_noise_var
        grad_delta[...] = self.prior_D.pullback(dD, grad_D)
        grad_delta += delta
        grad_eta[...] = self.prior_H.pullback(dHt, grad_Ht, keep)
        grad_eta += eta
        return float(value), grad
