"""Template filters: times, durations and numbers as the console shows them (UTC)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any


def when(value: datetime | str | None) -> str:
    """``2026-12-02 14:05 UTC``; an empty string for nothing."""
    if value is None or value == "":
        return ""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(value: datetime | str | None) -> str:
    if value is None or value == "":
        return ""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.astimezone(UTC).isoformat() if at.tzinfo else at.replace(tzinfo=UTC).isoformat()


def span(seconds: float | timedelta | None) -> str:
    """``45 s``, ``12 min``, ``3 h 05 min``, ``2 d 4 h``."""
    if seconds is None:
        return ""
    total = int(seconds.total_seconds() if isinstance(seconds, timedelta) else seconds)
    total = max(total, 0)
    if total < 60:
        return f"{total} s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def percent(value: Any, digits: int = 0) -> str:
    if not isinstance(value, int | float):
        return "–"
    return f"{value * 100:.{digits}f} %"


def number(value: Any, digits: int = 1) -> str:
    if not isinstance(value, int | float):
        return "–"
    return f"{value:.{digits}f}"


FILTERS: dict[str, Callable[..., str]] = {
    "when": when,
    "iso": iso,
    "span": span,
    "percent": percent,
    "number": number,
}
