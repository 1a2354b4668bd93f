"""Linux peripheral failures: USB enumeration errors, Bluetooth connects, CUPS printers.

* ``kernel``: the USB lines of the kernel log, read by :func:`.crashes.kernel_log` (the same
  reading the crash sampler uses; each sampler keeps its own high-water mark).
* ``bluetooth``: ``journalctl -u bluetooth -o short-iso-precise --since=@<epoch> -q
  --no-pager``, read by :func:`dexpulse.agent.parsers.bluez.parse_bluez`. A selection with
  only systemd's own lines about the unit ("Started Bluetooth service") gives nothing.
  journalctl not installed or failing (no journal access): NoData.
* ``cups``: ``/var/log/cups/error_log`` read from a remembered byte offset, see
  :func:`cups_failures`. Missing (no CUPS, or ``ErrorLog syslog``) or unreadable: NoData.

The first two return a :class:`.crashes.Batch` (timeline, keys, fingerprints); CUPS returns
its samples and an opaque cursor the sampler stores for the next run.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from dexpulse.schema.events import PeripheralFailureSample

from ...parsers import ParseContext, ParseError
from ...parsers.bluez import parse_bluez
from ...parsers.cups import parse_cups
from ..host import Host, NoData
from ..logbatch import EPOCH, WALL, Batch, Entry, fingerprint
from .crashes import kernel_log, since_arg

log = logging.getLogger(__name__)

JOURNAL_BLUETOOTH = (
    "journalctl", "-u", "bluetooth", "-o", "short-iso-precise", "-q", "--no-pager",
)  # fmt: skip
CUPS_LOG = "/var/log/cups/error_log"
CUPS_ROTATED = ("/var/log/cups/error_log.O", "/var/log/cups/error_log.1")
"""Where the previous log goes: cupsd's own rotation (".O") or logrotate (".1")."""
CUPS_FIRST_READ = 64 * 1024
"""On the very first run only the end of the log is read (the sampler keeps its last minute)."""
CUPS_MAX_READ = 1024 * 1024
"""Bytes read per run and file; a longer backlog is read over the next runs."""
_CHECK = 64
"""Bytes before the offset whose checksum tells a log truncated and refilled from ours."""


def usb_failures(host: Host, since: datetime, now: datetime) -> Batch:
    return kernel_log(host, since, now).only(PeripheralFailureSample)


def bluetooth_failures(host: Host, since: datetime, now: datetime) -> Batch:
    result = host.run((*JOURNAL_BLUETOOTH, since_arg(since)), host.timeout_s)
    if result.returncode != 0:
        raise NoData(f"journalctl exited {result.returncode}: {result.stderr.strip()[:200]}")
    samples: list[PeripheralFailureSample] = []
    if result.stdout.strip():
        try:
            samples = parse_bluez(result.stdout, ParseContext(now=now))
        except ParseError:
            samples = []  # the unit's lines were all systemd's, none bluetoothd's
    entries = [
        Entry((s.ts - EPOCH).total_seconds(), fingerprint("bluetooth", s.message), s)
        for s in samples
    ]
    return Batch(WALL, entries, (now - EPOCH).total_seconds(), EPOCH)


def cups_failures(
    host: Host, cursor: dict[str, Any] | None, now: datetime
) -> tuple[list[PeripheralFailureSample], dict[str, Any]]:
    """Failure lines CUPS appended to its error_log since ``cursor``, and the new cursor.

    The cursor is ``{"inode", "offset", "check"}``: the log file, how far it was read (only
    whole lines are consumed) and a checksum of the bytes just before the offset. A new inode
    means the log was rotated: the rest of the old file (found by its inode as error_log.O or
    error_log.1) is read first, then the new one from its start. The same inode but a shorter
    file, or different bytes before the offset, means it was truncated: read from the start.
    Without a cursor (first run) only the last 64 KiB are read.
    """
    path = host.path(CUPS_LOG)
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise NoData(f"{CUPS_LOG} does not exist") from None
    except PermissionError:
        raise NoData(f"not permitted to read {CUPS_LOG}") from None
    chunks: list[bytes] = []
    start = 0
    if cursor is None:
        start = max(0, info.st_size - CUPS_FIRST_READ)
    elif cursor.get("inode") == info.st_ino:
        offset = int(cursor.get("offset", 0))
        if offset <= info.st_size and _check(path, offset) == cursor.get("check"):
            start = offset
    else:
        rotated = _rotated(host, cursor.get("inode"))
        if rotated is not None:
            tail, _ = _read_lines(rotated, int(cursor.get("offset", 0)), final=True)
            chunks.append(tail)
    data, offset = _read_lines(path, start, skip_partial=cursor is None and start > 0)
    chunks.append(data)
    text = b"".join(chunks).decode("utf-8", "replace")
    samples: list[PeripheralFailureSample] = []
    if text.strip():
        samples = parse_cups(text, ParseContext(now=now))
    return samples, {"inode": info.st_ino, "offset": offset, "check": _check(path, offset)}


def _read_lines(
    path: Path, start: int, *, final: bool = False, skip_partial: bool = False
) -> tuple[bytes, int]:
    """Whole lines from ``start`` (at most CUPS_MAX_READ bytes) and the offset after them.

    ``final``: the file no longer grows, so a last line without a newline counts too.
    ``skip_partial``: ``start`` may be mid-line; drop the bytes up to the first newline.
    """
    try:
        with path.open("rb") as handle:
            handle.seek(start)
            data = handle.read(CUPS_MAX_READ)
    except PermissionError:
        raise NoData(f"not permitted to read {path.name}") from None
    consumed = len(data)
    if not final or consumed == CUPS_MAX_READ:
        consumed = data.rfind(b"\n") + 1
    data = data[:consumed]
    if skip_partial:
        cut = data.find(b"\n") + 1
        data = data[cut:]
    return data, start + consumed


def _check(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, offset - _CHECK))
            before = handle.read(min(offset, _CHECK))
    except OSError:
        return ""
    return f"{zlib.crc32(before):08x}"


def _rotated(host: Host, inode: object) -> Path | None:
    for name in CUPS_ROTATED:
        candidate = host.path(name)
        try:
            if candidate.stat().st_ino == inode:
                return candidate
        except OSError:
            continue
    log.debug("cups error_log rotated; the previous file is gone")
    return None


LOG_SOURCES: dict[str, Callable[[Host, datetime, datetime], Batch]] = {
    "kernel": usb_failures,
    "bluetooth": bluetooth_failures,
}
FILE_SOURCES: dict[
    str,
    Callable[
        [Host, dict[str, Any] | None, datetime],
        tuple[list[PeripheralFailureSample], dict[str, Any]],
    ],
] = {"cups": cups_failures}
