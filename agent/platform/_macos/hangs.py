"""macOS app hangs: spindump's hang reports in the DiagnosticReports folders.

When an app stops answering events (the spinning cursor), spindump samples it and writes a
report; spindump(8) names ``/Library/Logs/DiagnosticReports`` as where they go, and public
reports show ``<App>_<YYYY-MM-DD-HHMMSS>_<host>.hang`` files there (syslog of the time:
"spindump: Saved spin report for Übersicht version 0.5 (17) to
/Library/Logs/DiagnosticReports/..."). Two sources of :data:`SOURCES`, the folders the crash
backend reads, found by its own functions (:func:`.crashes.system_folder`,
:func:`.crashes.user_folders`) and walked by :func:`.crashes.scan_reports`:

* ``system``: ``/Library/Logs/DiagnosticReports``;
* ``user``: every user's ``~/Library/Logs/DiagnosticReports``.

Files read (modified at or after ``since``, directly in the folder):

* ``*.hang`` and ``*.spin``: spindump text, parsed by
  :func:`dexpulse.agent.parsers.spindump.parse_spindump_hang`.
* ``*.ips`` whose first line is a JSON header and whose body is spindump *text* (spindump
  stores its resource reports that way, e.g. ``cpu_resource`` with bug_type 202); the parser
  keeps only those whose ``Event:`` is a hang. Bug types known not to be app hangs are skipped
  after the first line: 109/309 crashes (read by the crash backend), 298 Jetsam events, 288
  stackshots (``stacks-*.ips``: every process, no hung app), 409 system watchdog timeouts
  (WindowServer and other daemons, JSON body), 210 kernel panics, 202/145 CPU and disk-write
  resource reports. **Verified**: those meanings, from public reports and the parsers that
  read them. **Not verified**: which bug type, if any, a hang written as ``.ips`` carries (288
  is sometimes called a hang, but every public sample of it is a stackshot), so ``.ips`` are
  recognised by their content, never by a bug-type number.

Only the first :data:`HEAD_BYTES` of a report are read: the hung app's header is at the top,
and a report with every process's stacks can run to megabytes. The entry key is the file's
mtime, the fingerprint the file name with the hang's time and pid (``"hang"``), so the
app_hang sampler's marks report each hang once across runs and restarts. NoData as for crash
reports: a folder missing or unlistable, or reports none of which may be read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from dexpulse.schema.events import AppHangSample

from ...parsers import ParseContext
from ...parsers.spindump import parse_spindump_hang
from ..host import Host
from ..logbatch import Batch
from .crashes import scan_reports, system_folder, user_folders

SUFFIXES = (".hang", ".spin", ".ips")
HEAD_BYTES = 256 * 1024
_HEADER_BYTES = 64 * 1024
NOT_HANG_BUG_TYPES = frozenset({"109", "309", "298", "288", "409", "210", "202", "145"})


def _read_hang(path: Path, ctx: ParseContext) -> list[AppHangSample]:
    """The hang of one report file ([] for an .ips that is not spindump text)."""
    with path.open("rb") as handle:
        if path.name.endswith(".ips"):
            first = handle.readline(_HEADER_BYTES)
            try:
                header = json.loads(first.decode("utf-8", "replace"))
            except (ValueError, RecursionError):
                return []
            if not isinstance(header, dict):
                return []
            if str(header.get("bug_type")) in NOT_HANG_BUG_TYPES:
                return []
            rest = handle.read(HEAD_BYTES)
            if rest.lstrip().startswith(b"{"):
                return []  # a JSON body: not spindump text
            data = first + rest
        else:
            data = handle.read(HEAD_BYTES)
    return parse_spindump_hang(data.decode("utf-8", "replace"), ctx)


def _scan(host: Host, folders: list[Path], since: datetime, now: datetime) -> Batch:
    return scan_reports(
        host, folders, since, now, suffixes=SUFFIXES, read=_read_hang, tag="hang", max_bytes=None
    )


def system_hangs(host: Host, since: datetime, now: datetime) -> Batch:
    """Hang reports of ``/Library/Logs/DiagnosticReports`` modified since ``since``."""
    return _scan(host, [system_folder(host)], since, now)


def user_hangs(host: Host, since: datetime, now: datetime) -> Batch:
    """Hang reports of every user's ``~/Library/Logs/DiagnosticReports``."""
    return _scan(host, user_folders(host), since, now)


SOURCES: dict[str, Callable[[Host, datetime, datetime], Batch]] = {
    "system": system_hangs,
    "user": user_hangs,
}
"""Both folders, as for crashes; the shape :func:`...samplers.logmemory.read_marked` reads."""
