"""macOS app crashes: ReportCrash's reports in the DiagnosticReports folders.

Two sources of :data:`SOURCES`, each returning a :class:`Batch` like the Linux backend's:

* ``system``: ``/Library/Logs/DiagnosticReports`` (processes of root and system daemons).
* ``user``: ``/Users/<name>/Library/Logs/DiagnosticReports`` of every user (a root daemon may
  read them all; an agent running as one user reads its own and skips the others, which are
  0700). This covers the console user's ``~/Library/Logs/DiagnosticReports``.

Only ``*.ips`` (JSON header line + JSON body since macOS 12, text body before) and legacy
``*.crash`` files directly in those folders (not ``Retired/``) modified at or after ``since``
are read, with :func:`dexpulse.agent.parsers.ips.parse_ips` / ``parse_crash``. An ``.ips``
whose header names a bug type other than a crash (Jetsam events 298, stackshots 288, watchdog
409, spindump reports ...) is skipped after reading its first line. ``.hang``/``.spin``
(spindump text) are read by :mod:`.hangs`, which reuses this module's folder walk
(:func:`system_folder`, :func:`user_folders`, :func:`scan_reports`). Files larger than
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
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from dexpulse.schema import SampleBase
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

__all__ = [
    "SOURCES", "THREAD_SOURCES", "Batch", "Entry", "ReportReader", "scan_reports",
    "system_folder", "system_reports", "user_folders", "user_reports",
]  # fmt: skip

ReportReader = Callable[[Path, ParseContext], Sequence[SampleBase]]
"""Reads one report file into samples ([] when it is not of the reader's kind); may raise
OSError (PermissionError: not ours to read), ParseError or ValueError (skipped)."""


def _listing(directory: Path, suffixes: tuple[str, ...] = SUFFIXES) -> list[Path]:
    """The report files of ``directory``, sorted; OSError if it cannot be listed."""
    return sorted(p for p in directory.iterdir() if p.name.endswith(suffixes))


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


def _read_crash(path: Path, ctx: ParseContext) -> list[AppCrashSample]:
    if _not_a_crash(path):
        return []
    text = path.read_bytes().decode("utf-8", "replace")
    parse = parse_ips if path.name.endswith(".ips") else parse_crash
    return parse(text, ctx)


def scan_reports(
    host: Host,
    directories: list[Path],
    since: datetime,
    now: datetime,
    *,
    suffixes: tuple[str, ...],
    read: ReportReader,
    tag: str,
    max_bytes: int | None,
) -> Batch:
    """The samples ``read`` finds in the report files (``suffixes``) of ``directories``
    modified since ``since``; files over ``max_bytes`` are skipped (None: the reader bounds
    its own reads). Entry key: the file's mtime; fingerprint: ``tag``, file name, sample time
    and pid. NoData when there were candidates and none of them could be read."""
    floor = (since - EPOCH).total_seconds()
    ctx: ParseContext | None = None
    entries: list[Entry] = []
    candidates = unreadable = 0
    for directory in directories:
        try:
            reports = _listing(directory, suffixes)
        except OSError:
            continue
        for path in reports:
            try:
                info = path.stat()
            except OSError:
                continue  # removed meanwhile
            if info.st_mtime < floor or not stat.S_ISREG(info.st_mode):
                continue
            if max_bytes is not None and info.st_size > max_bytes:
                log.debug("skipping %s: %d bytes", path.name, info.st_size)
                continue
            candidates += 1
            ctx = ctx or ParseContext(now=now, local_tz=local_zone(host))
            try:
                samples = read(path, ctx)
            except PermissionError:
                unreadable += 1
                continue
            except OSError as exc:
                log.debug("cannot read %s: %s", path.name, exc)
                continue
            except (ParseError, ValueError) as exc:  # half-written, or not of this kind
                log.debug("skipping %s: %s", path.name, exc)
                continue
            for sample in samples:
                pid = getattr(sample, "pid", None)
                fp = fingerprint(tag, path.name, sample.ts.isoformat(), pid)
                entries.append(Entry(info.st_mtime, fp, sample))
    if candidates and unreadable == candidates:
        raise NoData("not permitted to read the reports in DiagnosticReports")
    return Batch(WALL, entries, (now - EPOCH).total_seconds(), EPOCH)


def read_reports(host: Host, directories: list[Path], since: datetime, now: datetime) -> Batch:
    """Crash reports modified since ``since`` in ``directories`` (already listable)."""
    return scan_reports(
        host, directories, since, now,
        suffixes=SUFFIXES, read=_read_crash, tag="ips", max_bytes=MAX_REPORT_BYTES,
    )  # fmt: skip


def system_folder(host: Host) -> Path:
    """``/Library/Logs/DiagnosticReports`` under the host's root; NoData if not listable."""
    directory = host.path(SYSTEM_REPORTS)
    try:
        _listing(directory)
    except (FileNotFoundError, NotADirectoryError):
        raise NoData(f"{SYSTEM_REPORTS} does not exist") from None
    except PermissionError:
        raise NoData(f"not permitted to list {SYSTEM_REPORTS}") from None
    return directory


def system_reports(host: Host, since: datetime, now: datetime) -> Batch:
    """Reports of ``/Library/Logs/DiagnosticReports`` modified since ``since``."""
    return read_reports(host, [system_folder(host)], since, now)


def _user_folders(host: Host) -> Iterator[Path]:
    try:
        homes = sorted(host.path(USERS).iterdir())
    except OSError:
        return
    for home in homes[:MAX_USERS]:
        if home.name.startswith(".") or home.name == "Shared":
            continue
        yield home / USER_REPORTS


def user_folders(host: Host) -> list[Path]:
    """Every user's listable ``~/Library/Logs/DiagnosticReports``; NoData if none is."""
    listable: list[Path] = []
    for folder in _user_folders(host):
        try:
            _listing(folder)
        except OSError:
            continue  # no such folder, or another user's (0700) when not root
        listable.append(folder)
    if not listable:
        raise NoData(f"no listable {USERS}/*/{USER_REPORTS}")
    return listable


def user_reports(host: Host, since: datetime, now: datetime) -> Batch:
    """Reports of every user's ``~/Library/Logs/DiagnosticReports`` modified since ``since``."""
    return read_reports(host, user_folders(host), since, now)


SOURCES: dict[str, Callable[[Host, datetime, datetime], Batch]] = {
    "system": system_reports,
    "user": user_reports,
}
"""Both folders; one crash is written to one of them only."""

THREAD_SOURCES: frozenset[str] = frozenset()
"""ReportCrash always names the process, never a thread."""
