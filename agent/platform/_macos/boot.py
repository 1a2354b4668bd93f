"""macOS boot: which boot this is, when it started, and how long until the login window.

* ``sysctl -n kern.bootsessionuuid``: a random UUID drawn at every boot (the identity "this
  boot" is remembered by). Where it is missing, the boot time in whole seconds stands in.
* ``sysctl -n kern.boottime``: ``{ sec = 1732694400, usec = 123456 } Wed Nov 27 07:58:12
  2026``, the boot time in seconds since the epoch (the first number is what counts).
* ``ps -axo pid=,lstart=,comm=``: when each process started, in local time to the second,
  and its executable (full path on macOS; the line is wrapped here)::

        98 Fri Nov 27 08:58:40 2026     /System/Library/CoreServices/loginwindow.app/
                                         Contents/MacOS/loginwindow

  ``lstart`` is strftime's ``%c`` of the C locale (the agent runs tools with ``LC_ALL=C``),
  read by :func:`parse_ps_lstart` in the zone of ``/etc/localtime``.

``boot_duration_s`` is a **proxy**: the time from ``kern.boottime`` until the first
``loginwindow`` process of this boot started, i.e. until macOS could show the login window
(or log the user in automatically). It leaves out the firmware time before the kernel (and, on
FileVault Macs, the password prompt before it) and everything after: the user's logon, Finder
and login items. The earliest loginwindow is taken (fast user switching starts one per
session); if it started more than :data:`LOGINWINDOW_WITHIN` after boot, the first one was
replaced (a logout restarts it) and the duration is unknown: None. A start more than a few
seconds *before* the boot time means the clock was stepped since: None as well.

While no loginwindow runs yet, :func:`boot_sample` returns None and the boot sampler asks
again on its next run. ``logon_duration_s`` stays None: no cheap source says when the user's
session became usable (the Dock's start time includes however long the password took).
The phases of ``BootSample`` (firmware, loader, kernel, userspace) have no macOS source.
``ps`` missing or failing: NoData.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

from dexpulse.schema import BootSample

from ...parsers.logtime import MONTHS
from ..host import Host, NoData
from ..logbatch import local_zone

BOOT_SESSION = ("sysctl", "-n", "kern.bootsessionuuid")
BOOT_TIME = ("sysctl", "-n", "kern.boottime")
PS_START = ("ps", "-axo", "pid=,lstart=,comm=")
LOGINWINDOW = "loginwindow"
LOGINWINDOW_WITHIN = timedelta(minutes=15)
CLOCK_SLACK = timedelta(seconds=2)
_SEC = re.compile(r"\bsec\s*=\s*(\d+)")
_UUID = re.compile(r"^[0-9a-fA-F-]{8,64}$")
_PS_LINE = re.compile(
    r"^\s*(?P<pid>\d+)\s+(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s+(?P<mon>[A-Z][a-z]{2})\s+"
    r"(?P<day>\d{1,2})\s+(?P<hms>\d\d:\d\d:\d\d)\s+(?P<year>\d{4})\s+(?P<comm>\S.*?)\s*$"
)


def boot_time(host: Host) -> datetime | None:
    """When this boot started (``kern.boottime``, whole seconds), UTC; None if unknown."""
    try:
        text = host.command(*BOOT_TIME)
    except NoData:
        return None
    m = _SEC.search(text)
    if m is None:
        return None
    try:
        return datetime.fromtimestamp(int(m[1]), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def boot_id(host: Host) -> str:
    """This boot's session UUID (lower case), else its boot time; NoData if neither."""
    try:
        value = host.command(*BOOT_SESSION).strip().lower()
    except NoData:
        value = ""
    if _UUID.match(value):
        return value
    booted = boot_time(host)
    if booted is None:
        raise NoData("neither kern.bootsessionuuid nor kern.boottime can be read")
    return str(int(booted.timestamp()))


def parse_ps_lstart(text: str, zone: tzinfo) -> list[tuple[int, datetime, str]]:
    """``(pid, start in UTC, executable)`` per line of ``ps -axo pid=,lstart=,comm=``; lines
    that are not of that shape are skipped. Pure: the local zone is given."""
    out: list[tuple[int, datetime, str]] = []
    for line in text.splitlines():
        m = _PS_LINE.match(line)
        if m is None or m["mon"] not in MONTHS:
            continue
        try:
            hour, minute, second = (int(part) for part in m["hms"].split(":"))
            local = datetime(
                int(m["year"]), MONTHS[m["mon"]], int(m["day"]), hour, minute, second, tzinfo=zone
            )
            out.append((int(m["pid"]), local.astimezone(UTC), m["comm"]))
        except (ValueError, OverflowError):
            continue
    return out


def loginwindow_starts(processes: list[tuple[int, datetime, str]]) -> list[datetime]:
    """When each running loginwindow process started."""
    return [started for _, started, comm in processes if comm.rsplit("/", 1)[-1] == LOGINWINDOW]


def boot_duration(booted: datetime, starts: list[datetime]) -> float | None:
    """Seconds from ``booted`` to the first loginwindow of this boot; None if that one is
    gone (started more than LOGINWINDOW_WITHIN after boot) or the clock was stepped."""
    ours = [started for started in starts if started >= booted - CLOCK_SLACK]
    if not ours:
        return None
    elapsed = min(ours) - booted
    if elapsed > LOGINWINDOW_WITHIN:
        return None
    return max(0.0, elapsed.total_seconds())


def boot_sample(host: Host, ts: datetime) -> BootSample | None:
    """This boot (``ts``: its start) and its boot-to-login-window time; None while no
    loginwindow runs yet; NoData if ps cannot be run."""
    starts = loginwindow_starts(parse_ps_lstart(host.command(*PS_START), local_zone(host)))
    if not starts:
        return None  # too early: ask again on the next run
    return BootSample(ts=ts, boot_duration_s=boot_duration(ts, starts))
