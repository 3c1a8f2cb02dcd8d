"""Pictures of the model itself (X ≈ D × H, the prior check): their one implementation is
:mod:`gppnmf_core.plotting.model`, where a notebook gets them too; the page imports them from here."""

from __future__ import annotations

from gppnmf_core.plotting.model import (  # noqa: F401  (re-exported for the panels and tests)
    TEACHING_COLUMNS,
    factorization_caption,
    factorization_figure,
    prior_check_figure,
    teaching_columns,
)
