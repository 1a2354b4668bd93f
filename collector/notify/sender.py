"""Sending one rendered request, and when to try again.

:func:`deliver` never raises: the delivery job records an :class:`Outcome` per attempt and
decides from ``ok`` and ``retry`` alone. What is worth retrying: 408, 425, 429 and 5xx, and
transport failures (refused connection, DNS, timeout), which a receiver that is restarting or
overloaded produces and later stops producing. Any other 4xx means the request itself is
wrong (bad URL, revoked webhook, bad credentials, refused payload): sending it again gives the
same answer, so it fails at once and the error shows what the receiver said. A 3xx is not
followed (re-POSTing to wherever a receiver points is not something to do silently) and
fails the same way.

Backoff (:func:`next_attempt_delay`) is exponential with full jitter: attempt ``n`` waits a
uniform random time in ``[0, min(10 min, 5 s * 2**(n-1))]``, so many collectors (or many
events) retrying one receiver do not arrive in waves. A ``Retry-After`` the receiver sent is
honoured as a floor (up to an hour). With :data:`MAX_ATTEMPTS` = 18 the 17 waits add up to
about 55 minutes on average (at most about 110): a receiver down for under an hour misses
nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from .formats import OutgoingRequest

BASE_DELAY_S = 5.0
MAX_DELAY_S = 600.0
MAX_RETRY_AFTER_S = 3600.0
MAX_ATTEMPTS = 18
EXCERPT_BYTES = 512
RETRY_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to. ``retry`` is only ever true when ``ok`` is false."""

    ok: bool
    retry: bool
    status: int | None = None
    retry_after_s: float | None = None
    error: str | None = None
    response_excerpt: str = ""
    """The start of the response body (what Slack or TOPdesk said was wrong)."""


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP-date; None when
    absent or unreadable. Clamped to [0, an hour]: a receiver cannot park a delivery."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - now).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _reference_time(response: httpx.Response) -> datetime:
    """The receiver's own clock (its ``Date`` header) for an HTTP-date ``Retry-After``, so
    clock skew between us and it does not matter; ours when it sent none."""
    try:
        stated = parsedate_to_datetime((response.headers.get_list("date") or [""])[0])
        return stated if stated.tzinfo else stated.replace(tzinfo=UTC)
    except (TypeError, ValueError, IndexError):
        return datetime.now(UTC)


def _classify(response: httpx.Response, excerpt: str) -> Outcome:
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(ok=True, retry=False, status=status, response_excerpt=excerpt)
    error = f"HTTP {status} {response.reason_phrase}".strip()
    if status in RETRY_STATUSES or status >= 500:
        delay = parse_retry_after(response.headers.get("retry-after"), _reference_time(response))
        return Outcome(False, True, status, delay, error, excerpt)
    if 300 <= status < 400:
        error += " (redirects are not followed; update the destination's URL)"
    return Outcome(False, False, status, None, error, excerpt)


def deliver(client: httpx.Client, request: OutgoingRequest) -> Outcome:
    """Send ``request`` with ``client`` (whose transport the caller chooses) and classify the
    answer. Reads at most :data:`EXCERPT_BYTES` of the response body."""
    try:
        with client.stream(
            request.method,
            request.url,
            headers=request.headers,
            content=request.body,
            timeout=httpx.Timeout(request.timeout_s),
            follow_redirects=False,
        ) as response:
            raw = b""
            for chunk in response.iter_bytes():
                raw += chunk
                if len(raw) >= EXCERPT_BYTES:
                    break
            excerpt = raw[:EXCERPT_BYTES].decode("utf-8", "replace")
            return _classify(response, excerpt)
    except httpx.TimeoutException as exc:
        return Outcome(False, True, error=f"timed out after {request.timeout_s:g} s ({_name(exc)})")
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        return Outcome(False, False, error=f"unusable URL: {exc}")
    except httpx.TransportError as exc:
        return Outcome(False, True, error=f"{_name(exc)}: {exc}")
    except Exception as exc:  # the contract is "never raises"; the job retries, then gives up
        return Outcome(False, True, error=f"unexpected {_name(exc)}: {exc}")


def _name(exc: BaseException) -> str:
    return type(exc).__name__


def next_attempt_delay(attempt: int, retry_after_s: float | None, rng: random.Random) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 = the first) before the
    next: full jitter over ``min(MAX_DELAY_S, BASE_DELAY_S * 2**(attempt-1))``, at least the
    receiver's ``Retry-After`` (capped at an hour)."""
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    ceiling = min(MAX_DELAY_S, BASE_DELAY_S * 2 ** min(attempt - 1, 30))
    delay = rng.uniform(0.0, ceiling)
    if retry_after_s is not None and retry_after_s > 0:
        delay = max(delay, min(retry_after_s, MAX_RETRY_AFTER_S))
    return delay


def gives_up(attempt: int) -> bool:
    """True when ``attempt`` attempts have been made and there will be no more."""
    return attempt >= MAX_ATTEMPTS
