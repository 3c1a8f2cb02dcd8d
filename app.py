"""GPP-NMF Studio: the Dash app. `python app.py` serves it on http://127.0.0.1:8050.

The full dashboard (prior designer, background decompositions, results side by
side) is built on top of this entry point; `server` is exposed for gunicorn.
"""

from __future__ import annotations

import argparse
import os

from dash import Dash, html

from components import overview

app = Dash(__name__, title="GPP-NMF Studio")
server = app.server
server.secret_key = os.environ.get("SECRET_KEY", os.urandom(32).hex())

app.layout = html.Div(
    className="page",
    children=[
        html.H1("GPP-NMF Studio"),
        html.P(
            "Nonnegative matrix factorization with Gaussian-process priors (Schmidt & Laurberg 2008).",
            className="subtitle",
        ),
        overview.layout(),
    ],
)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8050")))
    parser.add_argument("--debug", action="store_true", help="Dash debug mode (reloader, error overlay)")
    args = parser.parse_args(argv)
    app.run(host=args.host, port=args.port, debug=args.debug)


if __name__ == "__main__":
    main()
