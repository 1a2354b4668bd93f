"""Time for the simulator: minutes as integers, timestamps as strings, durations as text.

Why integers: the simulation walks 10,000 devices minute by minute for days, and building a
``datetime`` per sample would dominate its cost. Time is kept as UTC epoch minutes (the
simulation's step) and milliseconds (sample and send times); a timestamp string is built from
a cached per-minute prefix (``2026-11-23T08:01:``) plus seconds and milliseconds, always in
UTC with a ``Z``. The default start is a fixed Monday, not "last Monday", so the same
arguments give the same bytes in any week.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

DEFAULT_START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
"""A Monday, 06:00 UTC: before the working day of the European sites."""

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.I)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``2h``, ``1h30m``, ``7d``, ``2w`` (a bare number is minutes)."""
    cleaned = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", cleaned):
        return timedelta(minutes=float(cleaned))
    pos, seconds = 0, 0.0
    for match in _DURATION.finditer(cleaned):
        if cleaned[pos : match.start()].strip():
            break
        seconds += float(match.group(1)) * _UNIT_S[match.group(2).lower()]
        pos = match.end()
    if pos == 0 or cleaned[pos:].strip():
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 30m, 2h, 1h30m, 7d)")
    return timedelta(seconds=seconds)


def parse_utc(text: str) -> datetime:
    """An ISO 8601 time; one without an offset is taken as UTC. Returned in UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def minute_of(when: datetime) -> int:
    return int(when.timestamp() // 60)


def at_minute(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, UTC)


def iso_ms(ms: int) -> str:
    """An epoch-milliseconds instant as the wire's UTC timestamp."""
    return Stamper().stamp(ms)


class Stamper:
    """Formats epoch milliseconds as ``YYYY-MM-DDTHH:MM:SS.mmmZ``, caching minute prefixes."""

    def __init__(self) -> None:
        self._prefix: dict[int, str] = {}

    def prefix(self, minute: int) -> str:
        text = self._prefix.get(minute)
        if text is None:
            if len(self._prefix) > 4096:
                self._prefix.clear()
            text = datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:")
            self._prefix[minute] = text
        return text

    def stamp(self, ms: int) -> str:
        minute, rest = divmod(ms, 60_000)
        prefix = self._prefix.get(minute) or self.prefix(minute)
        return f"{prefix}{rest // 1000:02d}.{rest % 1000:03d}Z"
