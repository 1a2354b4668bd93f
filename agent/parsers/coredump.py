"""systemd-coredump's crash list (``coredumpctl list``) -> one AppCrashSample per core dump.

Why: on systemd distributions every process killed by a core-dumping signal (SIGSEGV, SIGABRT,
SIGBUS, ...) is caught by systemd-coredump and logged to the journal; ``coredumpctl list`` is the
one place that lists them all, whichever desktop or package produced the program.

Two formats:

``linux-coredumpctl-json`` (preferred): ``coredumpctl -q --json=short list --since=<ts>``, a JSON
array whose keys are exactly ``time, pid, uid, gid, sig, corefile, exe, size`` (systemd
``src/coredump/coredumpctl.c``); ``--json=pretty`` is the same array indented::

    [{"time":1669548359983740,"pid":11218,"uid":0,"gid":0,"sig":11,"corefile":"missing",
      "exe":"/usr/bin/bash","size":null}, ...]

``time`` is the journal entry's realtime in microseconds since the epoch; ``sig`` the signal
number (``null`` for entries that are not a signal core dump); ``exe`` falls back to the
process name (``comm``, no slash) when the journal has no executable path.

``linux-coredumpctl-list``: the human table of ``coredumpctl list --no-pager`` (a fallback for
systemd versions without ``--json``; EXE shortened here)::

    TIME                          PID  UID  GID SIG     COREFILE EXE                     SIZE
    Thu 2024-04-04 08:36:36 CST 89240 1000 1000 SIGSEGV present  /usr/bin/pg_waldump    32.7K

Its time is local wall-clock with a zone abbreviation ("CST" is ambiguous) and is read in
``ctx.local_tz``, to the second; ``SIG`` is a name (a number in old versions); ``-`` marks an
empty cell; the optional header and SIZE column are recognised. On a terminal the table is cut
to the screen width (EXE ends in "…"): capture it piped. The ancient ``PRESENT`` ("*") layout is
not supported.

Nothing here: ``No coredumps found.`` (stderr without ``-q``) and ``[]`` give ``[]``. With
``-q`` an empty list prints *nothing* and exits 1; empty text is refused as "not this format",
so the caller must map (empty stdout, exit code 1) to "no crashes" itself.

Signal numbers are named with a fixed Linux table (x86/ARM/generic numbering, the one
systemd uses on those), never the running OS's ``signal`` module: the parser may run on a
support person's Mac. Unknown numbers leave ``signal`` None. An ``exe`` ending in
" (deleted)" (program replaced by an update while running) is stripped of that suffix.

``report_id`` is ``coredump:<epoch seconds>:<pid>``: boot-independent, and the same in both
formats (the table only has seconds), so a crash seen once as a table and once as JSON is
still one crash. Entries without a time cannot be placed and are skipped.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from dexpulse.schema.events import AppCrashSample

from . import ParseContext, ParseError, register
from .signals import signal_name

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NONE_FOUND = "No coredumps found"
_DELETED = " (deleted)"

_ROW = re.compile(
    r"^[A-Z][a-z]{2} (?P<date>\d{4}-\d{2}-\d{2}) (?P<time>\d{2}:\d{2}:\d{2})"
    r"(?: (?P<tz>[^\s\d]\S*))?\s+"
    r"(?P<pid>\d+|-)\s+(?P<uid>\d+|-)\s+(?P<gid>\d+|-)\s+"
    r"(?P<sig>SIG[A-Z0-9+]+|\d+|-)\s+"
    r"(?P<corefile>present|missing|journal|none|truncated|inaccessible|error|-)\s+"
    r"(?P<rest>\S.*?)\s*$"
)
_SIZE = re.compile(r"^(?:\d+(?:\.\d+)?[BKMGTPE]?|-)$")


def _clean_lines(text: str) -> list[str]:
    """Lines without colours, CR, blank lines and a leading ``$ command`` / ``# command``."""
    lines = [line.rstrip() for line in _ANSI.sub("", text).replace("\r", "").split("\n")]
    lines = [line for line in lines if line.strip()]
    if lines and lines[0].lstrip().startswith(("#", "$")):
        lines = lines[1:]
    return lines


def _is_none_found(lines: list[str]) -> bool:
    return len(lines) == 1 and lines[0].strip().rstrip(".") == _NONE_FOUND


def _sample(ts: datetime, pid: int | None, sig: object, exe: str | None) -> AppCrashSample:
    path: str | None = None
    name = "unknown"
    if exe:
        exe = exe.removesuffix(_DELETED).strip()
        if "/" in exe:
            path = exe
            name = exe.rstrip("/").rsplit("/", 1)[-1] or exe
        elif exe:
            name = exe  # systemd printed the process name (comm): no path known
    seconds = (ts - _EPOCH) // timedelta(seconds=1)
    report_id = f"coredump:{seconds}:{pid if pid is not None else name}"
    try:
        return AppCrashSample(
            ts=ts,
            app_name=name[:256],
            app_path=path,
            signal=signal_name(sig),
            pid=pid,
            report_id=report_id[:256],
        )
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise ParseError(f"coredumpctl entry for {name!r} has an invalid value: {exc}") from None


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 <= value < 2**32:
        return value
    if isinstance(value, str) and value.strip().isdigit() and int(value) < 2**32:
        return int(value)
    return None


@register(
    "linux-coredumpctl-json",
    description="systemd-coredump crash list as JSON: one app_crash per core dump",
    carries_time=True,
    example="coredumpctl -q --json=short list --since=<ts>",
)
def parse_coredumpctl_json(text: str, ctx: ParseContext) -> list[AppCrashSample]:
    lines = _clean_lines(text)
    if _is_none_found(lines):
        return []
    body = "\n".join(lines).strip()
    if not body:
        raise ParseError("empty text: is this the output of `coredumpctl --json=short list`?")
    try:
        data: Any = json.loads(body)
    except (json.JSONDecodeError, RecursionError):
        raise ParseError(
            "not a JSON array: is this the output of `coredumpctl --json=short list`?"
            " (the plain table is format linux-coredumpctl-list)"
        ) from None
    if not isinstance(data, list):
        raise ParseError(
            "JSON is not an array: `coredumpctl --json=short list` prints a list of entries"
            " (journalctl -o json output is not this format)"
        )
    samples: list[AppCrashSample] = []
    for index, raw in enumerate(data):
        if not isinstance(raw, dict):
            raise ParseError(f"entry {index} is not a JSON object: not coredumpctl list output")
        entry = {str(key).lower(): value for key, value in raw.items()}
        if "time" not in entry or not ({"pid", "exe"} & entry.keys()):
            raise ParseError(
                f"entry {index} lacks coredumpctl's keys (time, pid, sig, exe):"
                " is this the output of `coredumpctl --json=short list`?"
            )
        usec = entry["time"]
        if isinstance(usec, str) and usec.strip().isdigit():
            usec = int(usec)
        if not isinstance(usec, int) or isinstance(usec, bool) or usec < 0:
            continue  # no time: the crash cannot be placed (systemd prints null only if unset)
        try:
            ts = _EPOCH + timedelta(microseconds=usec)
        except OverflowError:
            raise ParseError(f"entry {index} has an impossible time {usec}") from None
        exe = entry.get("exe")
        pid = _int_or_none(entry.get("pid"))
        samples.append(_sample(ts, pid, entry.get("sig"), exe if isinstance(exe, str) else None))
    return samples


def _local_time(date: str, clock: str, zone: str | None, ctx: ParseContext) -> datetime:
    year, month, day = (int(part) for part in date.split("-"))
    hour, minute, second = (int(part) for part in clock.split(":"))
    tz = UTC if zone in ("UTC", "GMT") else ctx.local_tz
    try:
        local = datetime(year, month, day, hour, minute, second, tzinfo=tz)
        if zone and local.tzname() != zone:
            other = local.replace(fold=1)  # the repeated hour when DST ends
            if other.tzname() == zone:
                local = other
        return local.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ParseError(f"impossible time {date} {clock} in coredumpctl list") from None


@register(
    "linux-coredumpctl-list",
    description="systemd-coredump crash list as the human table (fallback without --json)",
    carries_time=True,
    example="coredumpctl list --no-pager",
)
def parse_coredumpctl_list(text: str, ctx: ParseContext) -> list[AppCrashSample]:
    lines = _clean_lines(text)
    if _is_none_found(lines):
        return []
    if not lines:
        raise ParseError("empty text: is this the output of `coredumpctl list --no-pager`?")
    has_size: bool | None = None
    header = lines[0].split()
    if header[:1] == ["TIME"] and {"PID", "SIG", "EXE"} <= set(header):
        has_size = "SIZE" in header
        lines = lines[1:]
    samples: list[AppCrashSample] = []
    for line in lines:
        match = _ROW.match(line.strip())
        if match is None:
            raise ParseError(
                f"line {line.strip()[:80]!r} is not a row of `coredumpctl list`"
                " (TIME PID UID GID SIG COREFILE EXE SIZE)"
            )
        rest = match["rest"]
        parts = rest.rsplit(None, 1)
        if len(parts) == 2 and (has_size or (has_size is None and _SIZE.match(parts[1]))):
            rest = parts[0]
        pid = None if match["pid"] == "-" else _int_or_none(match["pid"])
        ts = _local_time(match["date"], match["time"], match["tz"], ctx)
        samples.append(_sample(ts, pid, match["sig"], None if rest == "-" else rest))
    return samples
