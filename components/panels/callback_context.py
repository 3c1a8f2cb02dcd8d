"""What fired the running callback, for callbacks that are also called as plain functions in tests."""

from __future__ import annotations

from dash import ctx
from dash.exceptions import MissingCallbackContextException


def triggered_id():
    """The id of the input that fired the running callback; None when called as a plain function (tests)."""
    try:
        return ctx.triggered_id
    except MissingCallbackContextException:
        return None
