"""Sessions issued by the server: a random id signed with the app's secret key.

A browser gets its session in a cookie on the first page load and keeps it
across reloads; the page holds the same signed token in a ``dcc.Store`` and
sends it with the callbacks that need it (a job process has no request to
read a cookie from). Every use checks the signature, so an id the server did
not issue is refused: nobody can make up an id to reach or crowd out another
session's data.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets

COOKIE = "gppnmf_session"
_TOKEN = re.compile(r"^([0-9a-f]{32})\.([0-9a-f]{32})\Z")
_secret: bytes | None = None


class SessionError(ValueError):
    """A session token that this server did not issue (or whose secret has changed)."""


def configure(secret: str | bytes) -> None:
    """Sign with ``secret`` (the app's secret key; every process of one server must share it)."""
    global _secret
    _secret = secret.encode() if isinstance(secret, str) else bytes(secret)


def _signature(session_id: str) -> str:
    if _secret is None:
        configure(os.environ.get("SECRET_KEY") or secrets.token_hex(32))
    return hmac.new(_secret, session_id.encode(), hashlib.sha256).hexdigest()[:32]


def issue() -> str:
    """A new session token ``<id>.<signature>``."""
    session_id = secrets.token_hex(16)
    return f"{session_id}.{_signature(session_id)}"


def verify(token) -> str:
    """The session id inside a token this server issued; SessionError otherwise."""
    match = _TOKEN.match(token) if isinstance(token, str) else None
    if match is None or not hmac.compare_digest(match.group(2), _signature(match.group(1))):
        raise SessionError("this page's session is not valid on this server; reload the page")
    return match.group(1)


def is_valid(token) -> bool:
    try:
        verify(token)
    except SessionError:
        return False
    return True
