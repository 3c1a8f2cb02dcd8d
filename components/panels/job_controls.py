"""Start, Cancel and follow one kind of job from a panel (How sure?, Suggest settings, Estimate σ²).

The session has one job at a time, whatever its kind (:mod:`components.jobs.runner`); each of these panels
follows only jobs of its own kind. Its ids share a prefix: ``<prefix>-start`` and ``<prefix>-cancel``
(buttons), ``<prefix>-progress``, ``<prefix>-status``, ``<prefix>-message``, ``<prefix>-job`` (the id of the
job this page follows), ``<prefix>-ended`` (set once when that job ends: the panel draws its output) and
``<prefix>-poll``. A reloaded page picks up a job of its kind that is still running.
"""

from __future__ import annotations

from typing import NamedTuple

from dash import Input, Output, State, dcc, html, no_update

from components import ids
from components.jobs import runner
from components.views.messages import notice, problem

POLL_MS = 400


def controls(prefix: str, start_label: str, what: str) -> list:
    """The buttons, progress and message of a job panel (``what`` names the job for screen readers)."""
    return [
        html.Div(className="progress-row job-kind-row", children=[
            html.Button(start_label, id=f"{prefix}-start", className="button primary"),
            html.Button("Cancel", id=f"{prefix}-cancel", className="button secondary", disabled=True,
                        **{"aria-label": f"Cancel {what}"}),
            html.Progress(id=f"{prefix}-progress", value="0", max="1", **{"aria-label": f"{what} progress"}),
            html.Span(id=f"{prefix}-status", className="status", children="idle", role="status"),
        ]),
        html.Div(id=f"{prefix}-message", className="message", role="alert"),
        dcc.Store(id=f"{prefix}-job"),
        dcc.Store(id=f"{prefix}-ended"),
        dcc.Interval(id=f"{prefix}-poll", interval=POLL_MS, disabled=True),
    ]


class KindView(NamedTuple):
    """One value per output of a panel's drive callback, in :func:`outputs` order."""

    progress: object = no_update
    status: object = no_update
    message: object = no_update
    start_disabled: object = no_update
    cancel_disabled: object = no_update
    poll_disabled: object = no_update
    following: object = no_update
    ended: object = no_update


def outputs(prefix: str) -> list[tuple[str, str]]:
    """(component id, property) of each :class:`KindView` field."""
    return [(f"{prefix}-progress", "value"), (f"{prefix}-status", "children"), (f"{prefix}-message", "children"),
            (f"{prefix}-start", "disabled"), (f"{prefix}-cancel", "disabled"), (f"{prefix}-poll", "disabled"),
            (f"{prefix}-job", "data"), (f"{prefix}-ended", "data")]


def drive_args(prefix: str) -> list:
    """The outputs, inputs and first states of a panel's drive callback: every :class:`KindView` field out;
    Start, Cancel and the poll in; the session and the job this page follows as state — the callback's
    arguments begin ``(_start, _cancel, _tick, session_id, following, ...)``."""
    return [*[Output(i, p) for i, p in outputs(prefix)],
            Input(f"{prefix}-start", "n_clicks"), Input(f"{prefix}-cancel", "n_clicks"),
            Input(f"{prefix}-poll", "n_intervals"), State(ids.SESSION_ID, "data"), State(f"{prefix}-job", "data")]


def idle(status="idle", message=no_update, following=None, ended=no_update) -> KindView:
    return KindView("0", status, message, False, True, True, following, ended)


def active(record: dict, message=no_update) -> KindView:
    return KindView(f"{record['fraction']:.3f}", record["text"], message, True, False, False, record["id"])


def _ended(record: dict, following) -> KindView:
    """The followed job has ended: say so once, and tell the panel to draw what it left."""
    state, status = record["state"], record.get("status") or record["state"]
    signal = {"job": record["id"], "state": state}
    if state == "done":
        return idle("done", "", ended=signal)
    if state == "cancelled":
        return idle(status, notice("Cancelled: a stopped job of this kind keeps nothing."), ended=signal)
    return idle(status, problem(str(record.get("message") or "the job failed")[:300]), ended=signal)


def follow(token, kind: str, following) -> KindView:
    """How this panel's job stands (on page load: a running job of its kind is picked up)."""
    record = runner.status(token)
    if record is None or runner.kind_of(record) != kind:
        return idle() if following else idle(status=no_update)
    if record["state"] in runner.ACTIVE:
        runner.seen(token, record["id"])  # a page still watches this job
        return active(record)
    if record["id"] == following:
        return _ended(record, following)
    return idle(status=no_update)


def start(token, kind: str, make_request, clear: tuple[str, ...]) -> KindView:
    """Build the request (ValueError: a message), queue it as the session's job and return at once."""
    try:
        request = make_request()
        record = runner.start(token, request, clear=clear)
    except runner.JobRefused as exc:
        return KindView(message=problem(str(exc)))
    except ValueError as exc:
        return KindView(message=problem(str(exc)))
    return active(record, message="")


def cancel(token, kind: str, following) -> KindView:
    """Stop this panel's job (never another panel's); the page comes back at once."""
    record = runner.status(token)
    if record is None or record["id"] != following or record["state"] not in runner.ACTIVE:
        return follow(token, kind, following)
    ended = runner.cancel(token)
    if ended is not None and ended["state"] not in ("cancelled", *runner.ACTIVE):
        return follow(token, kind, following)  # it ended on its own just before
    return idle("cancelled", notice("Cancelled: a stopped job of this kind keeps nothing."),
                ended={"job": following, "state": "cancelled"})


def drive(trigger, prefix: str, token, kind: str, following, make_request, clear: tuple[str, ...]) -> list:
    """Start, Cancel or poll, by which of the panel's controls fired."""
    if trigger == f"{prefix}-start":
        return list(start(token, kind, make_request, clear))
    if trigger == f"{prefix}-cancel":
        return list(cancel(token, kind, following))
    return list(follow(token, kind, following))
