"""macOS app crashes: ReportCrash's reports in the DiagnosticReports folders.

Two sources of :data:`SOURCES`, each returning a :class:`Batch` like the Linux backend's:

* ``system``: ``/Library/Logs/DiagnosticReports`` (processes of root and system daemons).
* ``user``: ``/Users/<name>/Library/Logs/DiagnosticReports`` of every user (a root daemon may
  read them all; an agent running as one user reads its own and skips the others, which are
  0700). This covers the console user's ``~/Library/Logs/DiagnosticReports``.

Only ``*.ips`` (JSON header line + JSON body since macOS 12, text body before) and legacy
``*.crash`` files directly in those folders (not ``Retired/``) modified at or after ``since``
are read, with :func:`dexpulse.agent.parsers.ips.parse_ips` / ``parse_crash``. An ``.ips``
whose header names a bug type other than a crash (``JetsamEvent``, ``stacks``, hangs: 288,
298, 409 ...) is skipped after reading its first line. ``.hang``/``.spin``/``.diag``
(spindump text) are not read: there is no parser for them yet. Files larger than
:data:`MAX_REPORT_BYTES` are skipped (a crash report is tens to hundreds of KiB).

The entry key is the file's mtime on the wall timeline, the fingerprint the file name with the
crash's time and pid, so the app_crash sampler's marks dedupe a report read twice and remember
it across restarts. The folder missing or unlistable: NoData (for ``user``: when no user's
folder could be listed); reports that exist but none of which may be read: NoData.
"""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from dexpulse.schema.events import AppCrashSample

from ...parsers import ParseContext, ParseError
from ...parsers.ips import parse_crash, parse_ips
from ..host import Host, NoData
from ..logbatch import EPOCH, WALL, Batch, Entry, fingerprint, local_zone

log = logging.getLogger(__name__)

SYSTEM_REPORTS = "/Library/Logs/DiagnosticReports"
USERS = "/Users"
USER_REPORTS = "Library/Logs/DiagnosticReports"
SUFFIXES = (".ips", ".crash")
CRASH_BUG_TYPES = frozenset({"309", "109"})
MAX_REPORT_BYTES = 4 * 1024 * 1024
MAX_USERS = 64
_HEADER_BYTES = 64 * 1024

__all__ = ["SOURCES", "THREAD_SOURCES", "Batch", "Entry", "system_reports", "user_reports"]


def _listing(directory: Path) -> list[Path]:
    """The report files of ``directory``, sorted; OSError if it cannot be listed."""
    return sorted(p for p in directory.iterdir() if p.name.endswith(SUFFIXES))


def _not_a_crash(path: Path) -> bool:
    """Whether an .ips header line names a bug type other than a crash (read: 64 KiB max)."""
    if not path.name.endswith(".ips"):
        return False
    with path.open("rb") as handle:
        first = handle.readline(_HEADER_BYTES)
    try:
        header = json.loads(first.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return False  # let the parser say what it is
    bug_type = header.get("bug_type") if isinstance(header, dict) else None
    return bug_type is not None and str(bug_type) not in CRASH_BUG_TYPES


def _parse(path: Path, ctx: ParseContext) -> list[AppCrashSample]:
    text = path.read_bytes().decode("utf-8", "replace")
    parse = parse_ips if path.name.endswith(".ips") else parse_crash
    return parse(text, ctx)


def read_reports(host: Host, directories: list[Path], since: datetime, now: datetime) -> Batch:
    """Crash reports modified since ``since`` in ``directories`` (already listable)."""
    floor = (since - EPOCH).total_seconds()
    ctx: ParseContext | None = None
    entries: list[Entry] = []
    candidates = unreadable = 0
    for directory in directories:
        try:
            reports = _listing(directory)
        except OSError:
            continue
        for path in reports:
            try:
                info = path.stat()
            except OSError:
                continue  # removed meanwhile
            if info.st_mtime < floor or not stat.S_ISREG(info.st_mode):
                continue
            if info.st_size > MAX_REPORT_BYTES:
                log.debug("skipping %s: %d bytes", path.name, info.st_size)
                continue
            candidates += 1
            ctx = ctx or ParseContext(now=now, local_tz=local_zone(host))
            try:
                if _not_a_crash(path):
                    continue
                samples = _parse(path, ctx)
            except PermissionError:
                unreadable += 1
                continue
            except OSError as exc:
                log.debug("cannot read %s: %s", path.name, exc)
                continue
            except (ParseError, ValueError) as exc:  # half-written, or not a crash report
                log.debug("skipping %s: %s", path.name, exc)
                continue
            for sample in samples:
                fp = fingerprint("ips", path.name, sample.ts.isoformat(), sample.pid)
                entries.append(Entry(info.st_mtime, fp, sample))
    if candidates and unreadable == candidates:
        raise NoData("not permitted to read the crash reports in DiagnosticReports")
    return Batch(WALL, entries, (now - EPOCH).total_seconds(), EPOCH)


def system_reports(host: Host, since: datetime, now: datetime) -> Batch:
    """Reports of ``/Library/Logs/DiagnosticReports`` modified since ``since``."""
    directory = host.path(SYSTEM_REPORTS)
    try:
        _listing(directory)
    except (FileNotFoundError, NotADirectoryError):
        raise NoData(f"{SYSTEM_REPORTS} does not exist") from None
    except PermissionError:
        raise NoData(f"not permitted to list {SYSTEM_REPORTS}") from None
    return read_reports(host, [directory], since, now)


def _user_folders(host: Host) -> Iterator[Path]:
    try:
        homes = sorted(host.path(USERS).iterdir())
    except OSError:
        return
    for home in homes[:MAX_USERS]:
        if home.name.startswith(".") or home.name == "Shared":
            continue
        yield home / USER_REPORTS


def user_reports(host: Host, since: datetime, now: datetime) -> Batch:
    """Reports of every user's ``~/Library/Logs/DiagnosticReports`` modified since ``since``."""
    listable: list[Path] = []
    for folder in _user_folders(host):
        try:
            _listing(folder)
        except OSError:
            continue  # no such folder, or another user's (0700) when not root
        listable.append(folder)
    if not listable:
        raise NoData(f"no listable {USERS}/*/{USER_REPORTS}")
    return read_reports(host, listable, since, now)


SOURCES: dict[str, Callable[[Host, datetime, datetime], Batch]] = {
    "system": system_reports,
    "user": user_reports,
}
"""Both folders; one crash is written to one of them only."""

THREAD_SOURCES: frozenset[str] = frozenset()
"""ReportCrash always names the process, never a thread."""
