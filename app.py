"""GPP-NMF Studio: the Dash app. `python app.py` serves it on http://127.0.0.1:8050.

Embedded defaults: background jobs and the session store in the server's private
directory (``GPPNMF_CACHE_DIR``). With ``REDIS_URL`` set, jobs run on Celery
workers and the session store lives on Redis. Each browser gets a signed
session in a cookie (``components.services.sessions``).
`server` is exposed for gunicorn, `celery_app` for the worker.
"""

from __future__ import annotations

import argparse
import os

import flask
from dash import Dash, dcc, html

from components import ids
from components.panels import (
    data_panel,
    decompose_panel,
    presentation,
    prior_panel,
    results_panel,
    suggest_panel,
    tour,
    uncertainty_panel,
)
from components.panels.errors import report_callback_error
from components.panels.upload_panel import MAX_UPLOAD_BYTES
from components.services import sessions
from components.services.config import make_celery_app

#: Celery app when REDIS_URL is set (`celery -A app:celery_app worker`), else None.
celery_app = make_celery_app()
app = Dash(__name__, title="GPP-NMF Studio", on_error=report_callback_error)
# The page's language, for screen readers and hyphenation (Dash's default template has none).
app.index_string = app.index_string.replace("<html>", '<html lang="en">', 1)
server = app.server
# Sessions must verify in every process of one deployment (web workers, job processes): set SECRET_KEY.
server.secret_key = os.environ.get("SECRET_KEY") or os.urandom(32).hex()
sessions.configure(server.secret_key)
# An upload arrives base64-encoded (4/3 of its size) inside a callback request: refuse anything larger.
server.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES * 4 // 3 + 2**20


def page_session() -> str:
    """The browser's session token from its cookie, or a new one (set as the cookie with this response)."""
    if not flask.has_request_context():  # Dash checks the layout once when it is set
        return sessions.issue()
    token = flask.request.cookies.get(sessions.COOKIE)
    if not sessions.is_valid(token):
        token = sessions.issue()
        flask.g.new_session = token
    return token


@server.after_request
def set_session_cookie(response):
    token = flask.g.pop("new_session", None)
    if token is not None:
        response.set_cookie(sessions.COOKIE, token, httponly=True, samesite="Strict",
                            secure=flask.request.is_secure)
    return response


def serve_layout() -> html.Div:
    """The page, with the browser's session (kept across reloads by a cookie)."""
    return html.Div(className="page", children=[
        # The first Tab stop: straight to Run (the controls above it have sensible defaults).
        html.A("Skip to Run", href="#run-button", className="skip-link", **{"data-focus": ids.RUN_BUTTON}),
        html.Header(className="page-header", children=[
            html.Div(children=[
                html.H1("GPP-NMF Studio"),
                html.P("Nonnegative matrix factorization with Gaussian-process priors (Schmidt & Laurberg 2008): "
                       "design priors for the factors of X ≈ D H, then compare GPP-NMF with LS-NMF and CNMF.",
                       className="subtitle"),
            ]),
            presentation.presentation_switch(),
        ]),
        dcc.Store(id=ids.SESSION_ID, data=page_session()),
        html.Main(id="main", children=[
            html.Div(id=ids.APP_MESSAGE, className="message", role="alert"),
            tour.layout(),
            data_panel.layout(),
            prior_panel.layout(),
            suggest_panel.layout(),
            decompose_panel.layout(),
            results_panel.layout(),
            uncertainty_panel.layout(),
        ]),
    ])


app.layout = serve_layout


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8050")))
    parser.add_argument("--debug", action="store_true", help="Dash debug mode (reloader, error overlay)")
    args = parser.parse_args(argv)
    app.run(host=args.host, port=args.port, debug=args.debug)


if __name__ == "__main__":
    main()
