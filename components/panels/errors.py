"""The app's last line of defence: a callback that raises still answers with a message, never a bare 500.

Callbacks check what they are sent and say what is wrong in their own panel;
whatever slips through (a forged request, an expired entry, a full disk) lands
here. Problems with the user's input or the server's storage are shown as they
are; anything else is logged with its traceback (a bug to fix) and shown as a
short apology. The page keeps its last good state either way.
"""

from __future__ import annotations

import logging

from dash import ctx, set_props

from components import ids
from components.services.sessions import SessionError
from components.services.store import StoreError
from components.views.messages import problem
from gppnmf_core.io import DataFormatError

log = logging.getLogger(__name__)

#: Errors whose message is written for the person at the page.
EXPECTED = (DataFormatError, SessionError, StoreError, ValueError)


def callback_error_message(exc: BaseException) -> str:
    """What the page says about an error raised by a callback."""
    if isinstance(exc, EXPECTED):
        return str(exc)
    return (f"Something went wrong on the server ({type(exc).__name__}); the page keeps its last good state. "
            "Reload the page if this happens again.")


def report_callback_error(exc: Exception) -> None:
    """Dash's ``on_error`` handler: log, put the message on the page, leave every output as it was."""
    trigger = ", ".join(ctx.triggered_prop_ids)[:200] or "page load"
    if isinstance(exc, EXPECTED):
        log.warning("callback triggered by %s refused its input: %s", trigger, exc)
    else:
        log.error("callback triggered by %s failed", trigger, exc_info=exc)
    set_props(ids.APP_MESSAGE, {"children": problem(callback_error_message(exc))})
