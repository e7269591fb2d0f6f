"""The signed session cookie: who is signed in, their CSRF token and language.

A session is a small JSON object carried in one cookie and signed with HMAC-SHA256 under the
installation's secret key (RFC 2104), so the server keeps no session table and a client cannot
forge or alter one: a cookie whose signature does not verify, or which is older than
``max_age``, is treated as no session at all. Only ids and tokens go in it, never personal data.

The standard library is enough for this (``hmac``, ``hashlib``, ``base64``); it spares a
dependency on ``itsdangerous`` for thirty lines.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

COOKIE = "clm_session"
LOCALE_COOKIE = "clm_locale"
MAX_AGE = 12 * 3600  # a working day and a bit: sign in once per day


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Encode a session as ``payload.timestamp.signature`` and check it on the way back."""

    def __init__(self, secret: str, *, max_age: int = MAX_AGE) -> None:
        if not secret:
            raise ValueError("a session signer needs a secret key")
        self._key = hashlib.sha256(("clm-web-session:" + secret).encode("utf-8")).digest()
        self.max_age = max_age

    def _sign(self, message: str) -> str:
        return _b64(hmac.new(self._key, message.encode("ascii"), hashlib.sha256).digest())

    def dumps(self, data: dict[str, Any], *, now: float | None = None) -> str:
        stamp = str(int(now if now is not None else time.time()))
        body = _b64(json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8"))
        message = f"{body}.{stamp}"
        return f"{message}.{self._sign(message)}"

    def loads(self, token: str | None, *, now: float | None = None) -> dict[str, Any]:
        """The session in ``token``; an empty dict when it is missing, forged or expired."""
        if not token or token.count(".") != 2:
            return {}
        body, stamp, signature = token.split(".")
        if not hmac.compare_digest(self._sign(f"{body}.{stamp}"), signature):
            return {}
        try:
            age = (now if now is not None else time.time()) - int(stamp)
            data = json.loads(_unb64(body))
        except (ValueError, json.JSONDecodeError):
            return {}
        if age > self.max_age or age < -60 or not isinstance(data, dict):
            return {}
        return data


def new_csrf_token() -> str:
    """A fresh per-session token that every form and htmx request must echo."""
    return secrets.token_urlsafe(24)


def development_secret() -> str:
    """A random per-process key, for development when ``CLM_SECRET_KEY`` is unset.

    Sessions then end when the server restarts, which is the honest behaviour for a key that
    was never written down.
    """
    return secrets.token_urlsafe(32)
