"""Messages shown on the page: problems in red with a warning sign, notices in green."""

from __future__ import annotations

from dash import html


def problem(message) -> html.Span:
    """Something went wrong; the message says what and, where it can, what to do."""
    return html.Span(f"⚠ {message}", className="error")


def notice(message: str) -> html.Span:
    """Something worked."""
    return html.Span(message, className="ok")
