"""Credentials: device tokens, IT API keys and enrollment secrets.

All three are random 256-bit tokens with a readable prefix (so a leaked one can be recognised
in logs and by secret scanners). Only SHA-256 digests are stored: for high-entropy tokens a fast
hash is enough, and it lets a request be authenticated with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum

DEVICE_TOKEN_PREFIX = "dxd_"
API_KEY_PREFIX = "dxk_"
ENROLLMENT_SECRET_PREFIX = "dxe_"


class Role(StrEnum):
    ADMIN = "admin"
    VIEWER = "viewer"


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
