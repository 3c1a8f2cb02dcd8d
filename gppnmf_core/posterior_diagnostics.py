"""Convergence diagnostics of the posterior draws: ArviZ's split-R-hat and bulk and tail ESS.

They are computed on the log density and on up to ``n_diagnostic`` entries
each of the normalised D, the scaled H and X0 (evenly spaced over the
flattened arrays, all of them when there are fewer). ArviZ takes about 8 ms
per variable for the three diagnostics, so all of X0 (200,000 entries on the
CSI phantom) would take half an hour. ArviZ's import (about 2 s, matplotlib
included) can start in a background thread while the chains run
(:func:`import_arviz_in_background`).
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["diagnostics", "import_arviz_in_background", "require_arviz", "wait_for_arviz_import"]

_STATE: dict = {}


def require_arviz() -> None:
    """Raise ImportError, naming the extra to install, when ArviZ cannot be imported.

    Called before any sampling, so that a missing extra costs no minutes of chains.
    """
    import importlib.util
    import sys

    if sys.modules.get("arviz") is not None:
        return
    if "arviz" in sys.modules or importlib.util.find_spec("arviz") is None:
        raise ImportError("sample_posterior needs ArviZ for its convergence diagnostics (R-hat, ESS); "
                          "install the posterior extra: pip install 'gppnmf-studio[posterior]'")


def import_arviz_in_background() -> None:
    """Start importing ArviZ (about 2 s, matplotlib included) in a thread, once per process."""
    import sys
    import threading

    if "arviz" in sys.modules or _STATE.get("arviz_thread") is not None:
        return

    def load():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                import arviz  # noqa: F401
            except Exception:  # noqa: BLE001  (reported when _diagnostics imports it)
                pass

    thread = threading.Thread(target=load, name="gppnmf-arviz-import", daemon=True)
    _STATE["arviz_thread"] = thread
    thread.start()


def wait_for_arviz_import() -> None:
    """Wait for the background import, if one runs (never fork while a thread holds the import lock)."""
    thread = _STATE.get("arviz_thread")
    if thread is not None:
        thread.join()


def _evenly(n_total: int, n: int | None) -> np.ndarray:
    """At most ``n`` evenly spaced indices of ``range(n_total)`` (all for None)."""
    if n is None or n >= n_total:
        return np.arange(n_total)
    return np.unique(np.linspace(0, n_total - 1, n).round().astype(int))


def diagnostics(D_draws, H_draws, lp_draws, n_diagnostic, stop_below=None) -> dict:
    """ArviZ split-R̂ and bulk/tail ESS on the log density and chosen entries of D, H and X0.

    With ``stop_below = (rhat_target, ess_bulk_target)`` the three are computed
    in turn and the rest skipped as soon as one misses its target (R̂ above,
    bulk ESS below): the answer is then only "not converged" (``"complete":
    False``), for a caller that will draw more anyway. R̂ costs about a fifth
    of the three, bulk ESS half.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wait_for_arviz_import()
        import arviz as az

        C, N = lp_draws.shape
        Df = D_draws.reshape(C, N, -1)
        Hf = H_draws.reshape(C, N, -1)
        K, M = D_draws.shape[2:]
        L = H_draws.shape[3]
        iD, iH = _evenly(Df.shape[2], n_diagnostic), _evenly(Hf.shape[2], n_diagnostic)
        iX = _evenly(K * L, n_diagnostic)
        k, l_ = np.divmod(iX, L)
        X0 = np.einsum("cnkm,cnml->cnkl", D_draws[:, :, np.unique(k)], H_draws[..., np.unique(l_)])
        X0 = X0[:, :, np.searchsorted(np.unique(k), k), np.searchsorted(np.unique(l_), l_)]
        data = az.convert_to_dataset({"lp": lp_draws, "D": Df[:, :, iD], "H": Hf[:, :, iH], "X0": X0})
        names = ("lp", "D", "H", "X0")
        out = {"n_entries": {"D": int(iD.size), "H": int(iH.size), "X0": int(iX.size)}, "complete": False}
        rhat = {name: float(np.nanmax(values)) for name, values in az.rhat(data).items()}
        out["rhat_max"] = max(rhat.values())
        if stop_below is not None and not out["rhat_max"] <= stop_below[0]:
            return out
        bulk = {name: float(np.nanmin(values)) for name, values in az.ess(data, method="bulk").items()}
        out["ess_bulk_min"] = min(bulk.values())
        if stop_below is not None and not out["ess_bulk_min"] >= stop_below[1]:
            return out
        tail = {name: float(np.nanmin(values)) for name, values in az.ess(data, method="tail").items()}
    per = {name: {"rhat_max": rhat[name], "ess_bulk_min": bulk[name], "ess_tail_min": tail[name]} for name in names}
    return {**out, "ess_tail_min": min(tail.values()), "per_quantity": per, "complete": True}
