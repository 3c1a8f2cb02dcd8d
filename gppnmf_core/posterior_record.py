"""The result of posterior sampling: identified draws of D, H and X0 = D H, their summaries and diagnostics.

Every draw is put in the MAP's component order and scale (:func:`identify`)
before it is stored: D and H are identified only up to the order and scale of
the components, so their bands are meaningful for unit-norm columns of D (and
the rows of H that go with them); X0 is on the data's scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .metrics import match_components

__all__ = ["Posterior", "identify", "normalise"]

_QUANTITIES = ("X0", "D", "H")


@dataclass
class Posterior:
    """Draws from the GPP-NMF posterior, identified and summarised.

    Attributes
    ----------
    D_draws : ndarray of shape (n_chains, n_draws, K, M)
        Columns of D scaled to unit Euclidean norm, matched to the MAP's component order.
    H_draws : ndarray of shape (n_chains, n_draws, M, L)
        Rows of H on the matching scale (``D_draws[c, i] @ H_draws[c, i]`` is the draw's ``D H``).
    lp_draws : ndarray of shape (n_chains, n_draws)
        Log density ``-L(theta)`` of each draw.
    D_map, H_map : ndarray of shape (K, M) and (M, L)
        The MAP, normalised the same way.
    objective_map : float
        ``L`` at the MAP.
    theta_map : ndarray of shape (d,)
        The MAP's whitened variables.
    rhat_max, ess_bulk_min, ess_tail_min : float
        Worst rank-normalised split-R̂ and bulk / tail effective sample sizes
        (ArviZ) over the log density and the diagnosed entries of D, H and X0.
    n_divergent : int
        Divergent transitions after warm-up (over all chains).
    n_label_switches : int
        Draws whose matching to the MAP was not the identity.
    stopped : bool
        Whether the callback stopped sampling (the draws are those made so far).
    runtime : float
        Wall-clock seconds, MAP included.
    settings : dict
        Everything that determines the draws, ``random_state`` included, and sampler statistics.
    """

    D_draws: np.ndarray
    H_draws: np.ndarray
    lp_draws: np.ndarray
    D_map: np.ndarray
    H_map: np.ndarray
    objective_map: float
    theta_map: np.ndarray
    rhat_max: float
    ess_bulk_min: float
    ess_tail_min: float
    n_divergent: int
    n_label_switches: int
    stopped: bool
    runtime: float
    settings: dict = field(default_factory=dict)
    diagnostics: dict = field(default_factory=dict)

    @property
    def n_chains(self) -> int:
        return self.D_draws.shape[0]

    @property
    def n_draws(self) -> int:
        """Draws per chain."""
        return self.D_draws.shape[1]

    @property
    def rank(self) -> int:
        return self.D_map.shape[1]

    def _check(self, name: str) -> None:
        if name not in _QUANTITIES:
            raise ValueError(f"name must be one of {_QUANTITIES}, got {name!r}")
        if self.n_draws == 0:
            raise ValueError("this Posterior holds no draws (sampling was stopped during warm-up)")

    def quantiles(self, name: str, qs) -> np.ndarray:
        """Posterior quantiles of ``"X0"`` (K, L), ``"D"`` (K, M) or ``"H"`` (M, L) over all draws.

        Parameters
        ----------
        name : {"X0", "D", "H"}
            ``"D"``: unit-norm columns in the MAP's component order; ``"H"``: rows
            on the matching scale; ``"X0"``: ``D H`` on the data's scale.
        qs : array_like of shape (n_q,)
            Probabilities in [0, 1].

        Returns
        -------
        ndarray of shape (n_q, *shape of the quantity)
        """
        self._check(name)
        qs = np.atleast_1d(np.asarray(qs, dtype=np.float64))
        if qs.ndim != 1 or np.any(~np.isfinite(qs)) or np.any((qs < 0) | (qs > 1)):
            raise ValueError(f"qs must be a 1-D sequence of probabilities in [0, 1], got {qs!r}")
        if name == "D":
            return np.quantile(self.D_draws.reshape(-1, *self.D_map.shape), qs, axis=0)
        if name == "H":
            return np.quantile(self.H_draws.reshape(-1, *self.H_map.shape), qs, axis=0)
        return self._x0_blocks(lambda X: np.quantile(X, qs, axis=0), (qs.size,))

    def mean(self, name: str) -> np.ndarray:
        """Posterior mean of ``"X0"``, ``"D"`` or ``"H"`` (shapes as in :meth:`quantiles`)."""
        self._check(name)
        if name == "D":
            return self.D_draws.mean(axis=(0, 1))
        if name == "H":
            return self.H_draws.mean(axis=(0, 1))
        return self._x0_blocks(lambda X: X.mean(axis=0), ())

    def _x0_blocks(self, reduce, lead: tuple) -> np.ndarray:
        """Apply ``reduce`` to the draws of X0, one block of columns (about 64 MiB) at a time."""
        D = self.D_draws.reshape(-1, *self.D_map.shape)
        H = self.H_draws.reshape(-1, *self.H_map.shape)
        K, L = D.shape[1], H.shape[2]
        out = np.empty((*lead, K, L))
        step = max(1, (64 << 20) // (8 * D.shape[0] * K))
        for start in range(0, L, step):
            cols = slice(start, min(start + step, L))
            out[..., cols] = reduce(np.matmul(D, H[:, :, cols]))
        return out

    def __repr__(self) -> str:
        K, M = self.D_map.shape
        state = ", stopped" if self.stopped else ""
        return (f"Posterior(K={K}, L={self.H_map.shape[1]}, M={M}, chains={self.n_chains}, "
                f"draws={self.n_draws}, rhat_max={self.rhat_max:.3f}, ess_bulk_min={self.ess_bulk_min:.0f}, "
                f"divergent={self.n_divergent}, random_state={self.settings.get('random_state')!r}{state})")


def identify(D: np.ndarray, H: np.ndarray, D_ref: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Put one draw in the reference's component order and scale (label switching and scale).

    Parameters
    ----------
    D : ndarray of shape (K, M)
    H : ndarray of shape (M, L)
    D_ref : ndarray of shape (K, M)
        The MAP's signals.

    Returns
    -------
    D_id : ndarray of shape (K, M)
        Columns matched to ``D_ref`` by cosine similarity
        (:func:`~gppnmf_core.metrics.match_components`), scaled to unit norm.
    H_id : ndarray of shape (M, L)
        Rows permuted alike and scaled so that ``D_id @ H_id == D @ H``.
    switched : bool
        Whether the matching was not the identity.
    """
    perm = match_components(D, D_ref)
    D_id, H_id = normalise(D[:, perm], H[perm])
    return D_id, H_id, bool(np.any(perm != np.arange(perm.size)))


def normalise(D: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm columns of D, H scaled so that the product is unchanged."""
    norms = np.linalg.norm(D, axis=0)
    norms = np.where(norms > 0, norms, 1.0)
    return D / norms, H * norms[:, None]
