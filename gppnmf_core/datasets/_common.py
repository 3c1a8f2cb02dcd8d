"""Helpers shared by the data set generators."""

from __future__ import annotations

import numpy as np

#: When a data set is generated without noise, the suggested noise variance for
#: fitting is this fraction of the mean square of the noise-free data (a fit
#: needs sigma^2 > 0).
_NOISE_FLOOR_FRACTION = 1e-3


def _fit_noise_var(noise_var: float, X0: np.ndarray) -> float:
    """The noise variance to suggest for fitting: ``noise_var``, floored above 0."""
    floor = _NOISE_FLOOR_FRACTION * float(np.mean(X0 * X0))
    return float(max(noise_var, floor, np.finfo(np.float64).tiny))
