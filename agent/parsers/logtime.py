"""Timestamps at the start of Linux log lines -> aware UTC datetimes (shared by log parsers).

Why: the kernel log, bluetoothd and CUPS reach a support person as ``dmesg`` in one of its
styles, ``journalctl`` output, a syslog file or CUPS's own error_log, and each styles its time
differently. These pure helpers recognise one stamp at the start of a line and return the
instant in UTC plus the rest of the line::

    Feb  5 06:51:02 host kernel: ...            syslog, journalctl short; year and zone from ctx
    Feb 05 06:51:02.123456 host kernel: ...     journalctl short-precise
    2025-02-05T06:51:02+0100 host kernel: ...   journalctl short-iso(-precise), rsyslog RFC 3339
    2025-02-05T06:51:02,123456+01:00 usb ...    dmesg --time-format=iso (comma: no syslog header)
    [12345.678901] usb 2-3: ...                 dmesg, journalctl short-monotonic: since boot
    [Feb 5 06:51] lact[523318]: ...             dmesg -H / -e: minute of the first line ...
    [  +0.000018] Code: ...                     ... then seconds since the previous line
    [Tue Feb  5 06:51:02 2025] ...              dmesg -T (local wall clock)
    [05/Feb/2025:06:51:02 +0100] [Job 12] ...   CUPS error_log

Placing rules (documented approximations):

* Year-less stamps (syslog, ``dmesg -H``) take ``ctx.year``; without it the year of ``ctx.now``
  in ``ctx.local_tz``, or the year before when that would put the line more than a day after
  ``ctx.now`` (a December line read in January).
* Zone-less stamps are wall-clock time in ``ctx.local_tz``.
* ``[12345.678901]`` counts seconds since boot and needs ``ctx.boot_time``; without it the stamp
  is recognised but ``ts`` is None (the caller decides what to stamp). Like ``dmesg -T`` this
  ignores time spent suspended, so lines after a resume are placed too early.
* ``dmesg -H`` prints a line's minute only when it changes (``[Feb 5 06:51]``, or
  ``[Feb15 06:51]``: strftime ``%b%e``) and otherwise its distance from the previous line;
  the minute line is placed at second 0, so such times may be up to a minute early. A delta
  with no placed line before it has ``ts`` None.
* Month names are English (the C locale); a localized ``journalctl`` month is not a stamp.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from enum import StrEnum

from . import ParseContext

MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_MON = "(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DOW = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_HMS = r"(?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})(?:[.,](?P<frac>\d{1,9}))?"
_OFFSET = r"(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)"


class Style(StrEnum):
    SYSLOG = "syslog"
    ISO = "iso"
    DMESG_ISO = "dmesg-iso"
    DMESG_BOOT = "dmesg"
    DMESG_HUMAN = "dmesg-human"
    DMESG_DELTA = "dmesg-delta"
    DMESG_CTIME = "dmesg-ctime"
    CUPS = "cups"

    @property
    def is_dmesg(self) -> bool:
        """Stamps only ``dmesg`` prints: every such line is a kernel message, no header."""
        return self.value.startswith("dmesg")


_PATTERNS: tuple[tuple[Style, re.Pattern[str]], ...] = (
    (Style.DMESG_BOOT, re.compile(r"\[\s*(?P<sec>\d+\.\d+)(?:\s*<\s*[+-]?\d+\.\d+>)?\]")),
    (Style.DMESG_DELTA, re.compile(r"\[\s*(?P<delta>[+-]\d+\.\d+)\]")),
    (
        Style.DMESG_HUMAN,
        re.compile(rf"\[{_MON} {{0,2}}(?P<d>\d{{1,2}}) (?P<h>\d{{2}}):(?P<mi>\d{{2}})\]"),
    ),
    (
        Style.DMESG_CTIME,
        re.compile(
            rf"\[{_DOW} {_MON} +(?P<d>\d{{1,2}}) {_HMS} (?P<y>\d{{4}})"
            r"(?:\s*<\s*[+-]?\d+\.\d+>)?\]"
        ),
    ),
    (
        Style.CUPS,
        re.compile(rf"\[(?P<d>\d{{1,2}})/{_MON}/(?P<y>\d{{4}}):{_HMS} (?P<tz>[+-]\d{{4}})\]"),
    ),
    (
        Style.ISO,
        re.compile(rf"(?P<y>\d{{4}})-(?P<mo>\d{{2}})-(?P<d>\d{{2}})[T ]{_HMS}{_OFFSET}?(?=\s|$)"),
    ),
    (Style.SYSLOG, re.compile(rf"{_MON} +(?P<d>\d{{1,2}}) {_HMS}(?=\s|$)")),
)
_HEADER = re.compile(
    r"(?P<host>\S+) (?:[a-z0-9]+\.[a-z]+ )?"  # busybox syslogd: "host daemon.debug ident: "
    r"(?P<ident>[^\s\[\]:]+)(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)"
)


@dataclass(frozen=True)
class Stamp:
    style: Style
    ts: datetime | None
    """The instant in UTC; None when the line cannot be placed (see the module notes)."""
    rest: str
    """The line after the stamp and the blanks that follow it."""


@dataclass(frozen=True)
class SyslogHeader:
    host: str
    ident: str
    pid: int | None
    message: str


def parse_stamp(line: str, ctx: ParseContext, previous: datetime | None = None) -> Stamp | None:
    """The stamp at the start of ``line``, or None if it starts with none of the known styles.

    ``previous`` is the time of the line before (only ``dmesg -H`` deltas need it).
    """
    text = line.lstrip()
    for style, pattern in _PATTERNS:
        match = pattern.match(text)
        if match is None:
            continue
        try:
            ts = _instant(style, match, ctx, previous)
        except (ValueError, OverflowError):
            return None  # e.g. "Feb 30": shaped like a stamp but no such time
        if style is Style.ISO and "," in match.group(0):
            style = Style.DMESG_ISO
        return Stamp(style, ts, text[match.end() :].lstrip())
    return None


def split_timestamp(
    line: str, ctx: ParseContext, previous: datetime | None = None
) -> tuple[datetime | None, str]:
    """``(UTC time or None, rest of the line)``; the whole line when there is no stamp."""
    stamp = parse_stamp(line, ctx, previous)
    if stamp is None:
        return None, line.strip()
    return stamp.ts, stamp.rest


def stamped_lines(text: str, ctx: ParseContext) -> Iterator[tuple[str, Stamp | None]]:
    """Each non-blank line (stripped) with its stamp, chaining ``dmesg -H`` deltas.

    Tolerates CRLF and drops a leading ``$ command`` or ``# command`` line.
    """
    previous: datetime | None = None
    first = True
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if first and line.startswith(("$ ", "# ")):
            first = False
            continue
        first = False
        stamp = parse_stamp(line, ctx, previous)
        if stamp is not None:
            previous = stamp.ts
        yield line, stamp


def journal_had_no_entries(text: str) -> bool:
    """True if journalctl said its selection was empty (``-- No entries --``)."""
    return any(line.strip() == "-- No entries --" for line in text.splitlines())


def parse_syslog_header(rest: str) -> SyslogHeader | None:
    """``host ident[pid]: message`` after a syslog or journal stamp; None if not shaped so."""
    match = _HEADER.fullmatch(rest)
    if match is None:
        return None
    pid = match["pid"]
    return SyslogHeader(
        match["host"], match["ident"], int(pid) if pid and len(pid) < 10 else None, match["msg"]
    )


def local_to_utc(naive: datetime, zone: tzinfo) -> datetime:
    """A wall-clock time in ``zone`` as an aware UTC datetime."""
    return naive.replace(tzinfo=zone).astimezone(UTC)


def _instant(
    style: Style, m: re.Match[str], ctx: ParseContext, previous: datetime | None
) -> datetime | None:
    if style is Style.DMESG_BOOT:
        if ctx.boot_time is None:
            return None
        boot = ctx.boot_time if ctx.boot_time.tzinfo else ctx.boot_time.replace(tzinfo=UTC)
        return (boot + timedelta(seconds=float(m["sec"]))).astimezone(UTC)
    if style is Style.DMESG_DELTA:
        return None if previous is None else previous + timedelta(seconds=float(m["delta"]))
    month = MONTHS[m["mon"]] if m.groupdict().get("mon") else int(m["mo"])
    day, hour, minute = int(m["d"]), int(m["h"]), int(m["mi"])
    second = int(m["s"]) if m.groupdict().get("s") else 0
    micro = int((m["frac"] + "000000")[:6]) if m.groupdict().get("frac") else 0
    if m.groupdict().get("y"):
        naive = datetime(int(m["y"]), month, day, hour, minute, second, micro)  # noqa: DTZ001
    else:
        naive = _guess_year(month, day, hour, minute, second, micro, ctx)
    offset = m.groupdict().get("tz")
    if offset:
        return naive.replace(tzinfo=_zone(offset)).astimezone(UTC)
    return local_to_utc(naive, ctx.local_tz)


def _guess_year(
    month: int, day: int, hour: int, minute: int, second: int, micro: int, ctx: ParseContext
) -> datetime:
    if ctx.year is not None:
        return datetime(ctx.year, month, day, hour, minute, second, micro)  # noqa: DTZ001
    year = ctx.now.astimezone(ctx.local_tz).year
    try:
        naive = datetime(year, month, day, hour, minute, second, micro)  # noqa: DTZ001
    except ValueError:  # 29 February of a common year: the line is from an earlier leap year
        naive = None
    if naive is None or local_to_utc(naive, ctx.local_tz) > ctx.now + timedelta(days=1):
        naive = datetime(year - 1, month, day, hour, minute, second, micro)  # noqa: DTZ001
    return naive


def _zone(text: str) -> tzinfo:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or "0")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))
