r"""Built-in data sets: the paper's toy example, a 31P CSI phantom and two classroom examples.

Every generator returns a :class:`~gppnmf_core.dataset.Dataset` in the one
orientation used throughout the package,

.. math:: X \approx D H, \qquad X \in \mathbb{R}^{K \times L},\ D \in \mathbb{R}_+^{K \times M},\
          H \in \mathbb{R}_+^{M \times L},

with rows = features (spectral points, hours, pixels) and columns =
observations (voxels, days, frames). Grids are flattened in C order (the first
axis varies slowest). Each data set knows its truth (``D``, ``H`` and
``X0 = D @ H``), a suggested noise variance, a rank, a short description for
teachers and students, and named prior presets.

Every generator takes ``random_state`` (None, an int or a
``numpy.random.Generator``), normalises it once and draws everything from that
one generator, so a seed gives the same data set every time. All arrays are
float64.

========================  ===========================================================
``paper_toy``             Schmidt & Laurberg's toy example: GP factors, noise variance 25
``csi_phantom``           1H-decoupled 31P chemical shift imaging of a head, 8x8x8 voxels
``factories``             three factories' discharge profiles, one column per day
``calcium_imaging``       a movie of glowing cells, pixels x frames
========================  ===========================================================
"""

from __future__ import annotations

from ..dataset import Dataset
from .classroom import FACTORY_PROFILES, calcium_imaging, factories
from .csi import ATP_J_HZ, GAMMA_31P_MHZ_PER_T, PEAKS_31P, Peak31P, csi_phantom
from .toy import paper_toy

__all__ = [
    "NAMES",
    "PEAKS_31P",
    "ATP_J_HZ",
    "GAMMA_31P_MHZ_PER_T",
    "Peak31P",
    "FACTORY_PROFILES",
    "paper_toy",
    "csi_phantom",
    "factories",
    "calcium_imaging",
    "load",
]

#: Names accepted by :func:`load`, in the order a picker should list them.
NAMES = ("paper_toy", "csi_phantom", "factories", "calcium_imaging")


# --------------------------------------------------------------------------------------
# Picker
# --------------------------------------------------------------------------------------

_GENERATORS = {
    "paper_toy": paper_toy,
    "csi_phantom": csi_phantom,
    "factories": factories,
    "calcium_imaging": calcium_imaging,
}


def load(name: str, random_state=None, **kwargs) -> Dataset:
    """Build a built-in data set by name.

    Parameters
    ----------
    name : str
        One of :data:`NAMES`.
    random_state : None, int or numpy.random.Generator
        Seed or generator, passed to the generator.
    **kwargs
        Keyword arguments of that generator, e.g. ``noise_var``.

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`NAMES`.
    """
    if not isinstance(name, str) or name not in _GENERATORS:
        raise ValueError(f"name must be one of {NAMES}, got {name!r}")
    return _GENERATORS[name](random_state, **kwargs)
