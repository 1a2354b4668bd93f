"""HMAC-SHA256 signatures for webhook bodies, and their verification.

``X-Dexpulse-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``.

The timestamp is inside the signed text so a captured request cannot be replayed later than
the receiver's tolerance (5 minutes by default); the receiver dedupes within that window by
``X-Dexpulse-Delivery``. A retry is signed again with its own time, so retries spread over an
hour stay verifiable. Several ``v1=`` entries are accepted, which lets a receiver check against
old and new secret during a rotation. The time is a parameter, never read from a clock here,
so signing is pure and testable.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

SIGNATURE_HEADER = "X-Dexpulse-Signature"
DEFAULT_TOLERANCE_S = 300.0


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def _mac(secret: str | bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(_key(secret), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def _unix(now: float | datetime) -> float:
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return now.timestamp()
    return float(now)


def verify_signature(
    secret: str | bytes,
    header: str | None,
    body: bytes,
    now: float | datetime,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> bool:
    """True when ``header`` signs exactly ``body`` with ``secret`` and its timestamp is within
    ``tolerance_s`` of ``now`` (unix seconds or an aware datetime), either side. Constant-time
    comparison; a malformed header is False, not an error."""
    if not header:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs(_unix(now) - timestamp) > tolerance_s:
        return False
    expected = _mac(secret, timestamp, body).encode()
    # compare every candidate (no early exit) so timing does not tell which one matched;
    # as bytes, since compare_digest refuses non-ASCII str
    matches = [hmac.compare_digest(expected, c.encode("utf-8", "replace")) for c in candidates]
    return any(matches)
