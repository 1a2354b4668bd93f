"""What PowerShell's ``ConvertTo-Json`` prints, read back: the shapes that differ by version.

Why: on Windows the agent reads CIM/WMI classes (battery, drivers, device problems, device
facts) and file versions through one ``powershell`` call each, which prints JSON. The JSON is
plain, but three things in it depend on how and where it was produced, and every reader of it
(:mod:`.windows_cim`, :mod:`.windows_pnp`) must handle them alike:

* **One object or an array.** ``$items | ConvertTo-Json`` prints a bare object when the
  pipeline carried one item and an array for two or more (nothing at all for none); an array
  held as a property value stays an array. Windows PowerShell 5.1 also prints an array that
  carries extended properties as ``{"value": [...], "Count": 2}``. :func:`as_list` takes all
  of these.
* **Dates.** Windows PowerShell 5.1 writes a DateTime as ``"\\/Date(1700000000000)\\/"``
  (milliseconds since the epoch, UTC; DataContract style adds an offset, ``\\/Date(ms+0100)\\/``,
  that does not change the instant), and a DateTime that went through ``Get-Date`` as
  ``{"value": "\\/Date(...)\\/", "DisplayHint": 2, "DateTime": "Tuesday, ..."}``; PowerShell 7
  writes ISO 8601 (``"2023-11-14T23:13:20.5+01:00"``). :func:`json_date` reads all three; an
  ISO time without an offset is ambiguous and read as unknown.
* **Non-ASCII text.** The console code page of a service is not UTF-8, so the agent's
  scripts escape every non-ASCII character as ``\\uXXXX`` before printing
  (:mod:`dexpulse.agent.platform._windows.powershell`); ``json.loads`` undoes that.

Pure functions: text in, plain values out, :class:`~dexpulse.agent.parsers.ParseError` with a
message for a person when the text is not JSON (a PowerShell error printed to stdout, a
truncated answer).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from . import ParseError
from .wifi_common import clean_text

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS_DATE = re.compile(r"^\\?/Date\((-?\d{1,15})([+-]\d{4})?\)\\?/$")
_ISO_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


def load(text: str, what: str) -> Any:
    """The JSON value of ``text`` (None for an empty answer, which is what PowerShell prints
    for a pipeline that carried nothing); ParseError naming ``what`` if it is not JSON."""
    body = text.replace("\ufeff", "").strip()
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ParseError(
            f"{what}: the PowerShell answer is not JSON ({exc}); it begins {body[:80]!r}"
        ) from None


def as_list(value: Any) -> list[Any]:
    """``value`` as a list: None -> [], an object -> [object], 5.1's {"value": [...],
    "Count": n} -> the list."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and set(value) == {"value", "Count"}:
        inner = value["value"]
        return inner if isinstance(inner, list) else [inner]
    return [value]


def as_dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of ``value`` (see :func:`as_list`); anything else in it is dropped."""
    return [item for item in as_list(value) if isinstance(item, dict)]


def number(value: Any) -> float | None:
    """A finite JSON number, or a string of one (CIM uint64 can arrive as text); else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def integer(value: Any) -> int | None:
    """A whole number (see :func:`number`), else None."""
    result = number(value)
    return int(result) if result is not None and result.is_integer() else None


def text(value: Any, limit: int = 256) -> str | None:
    """A string property fit for the wire (NULs dropped, stripped, bounded); None if empty or
    not a string."""
    return clean_text(value, limit) if isinstance(value, str) else None


def flag(value: Any) -> bool | None:
    """A CIM boolean (true JSON booleans; "True"/"False" strings from some providers)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().lower())
    return None


def json_date(value: Any) -> datetime | None:
    """A DateTime as ConvertTo-Json wrote it (see the module notes), as an aware UTC datetime;
    None when it is missing, not a date, or has no offset to place it."""
    if isinstance(value, dict):
        value = value.get("value", value.get("DateTime"))
    if not isinstance(value, str):
        return None
    raw = value.strip()
    match = _MS_DATE.match(raw)
    if match is not None:
        try:
            return EPOCH + timedelta(milliseconds=int(match[1]))
        except OverflowError:
            return None
    if not _ISO_OFFSET.search(raw):
        return None  # local time of an unknown zone
    iso = raw[:-1] + "+00:00" if raw.endswith("Z") else raw
    head, dot, rest = iso.partition(".")
    if dot:  # .NET writes 7 fraction digits; Python reads at most 6
        digits = re.match(r"\d*", rest)
        fraction = digits[0] if digits else ""
        iso = f"{head}.{fraction[:6].ljust(6, '0')}{rest[len(fraction) :]}"
    try:
        stamp = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return stamp.astimezone(UTC) if stamp.tzinfo is not None else None
