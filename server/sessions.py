"""The session cookie, shared by the pages (Starlette's SessionMiddleware writes it) and the
Socket.IO handshake (which reads it): its name, its lifetime and its decoding."""

from __future__ import annotations

import json
from base64 import b64decode
from typing import Any

import itsdangerous

SESSION_COOKIE = "smo_session"
SESSION_MAX_AGE = 14 * 24 * 3600


def decode_session_cookie(secret_key: str, value: str) -> dict[str, Any]:
    """Read the session cookie outside Starlette (the Socket.IO handshake)."""
    signer = itsdangerous.TimestampSigner(secret_key)
    try:
        data = signer.unsign(value.encode(), max_age=SESSION_MAX_AGE)
        result = json.loads(b64decode(data))
    except (itsdangerous.BadSignature, ValueError):
        return {}
    return result if isinstance(result, dict) else {}
