"""Linux app crashes: systemd-coredump, apport reports and the kernel's segfault lines.

Three sources, each read by one function of :data:`SOURCES` that returns a :class:`Batch`:

* ``coredump``: ``coredumpctl -q --json=short list --since=@<epoch>`` (systemd versions
  without ``--json`` say "unrecognized option": the plain table is read instead). With
  ``-q`` and no crashes it prints nothing and exits 1: that is "no crashes". Not installed:
  NoData. Exit 1
  with a message (typically "No journal files were opened due to insufficient permissions"):
  NoData, the agent may not read the journal.
* ``apport``: ``/var/crash/*.crash`` modified at or after ``since``. Only the text head of a
  report is read (up to the first ``Key: base64`` attachment, at most 512 KiB), never the core
  dump that follows. Missing or unlistable directory: NoData; reports that exist but none of
  which may be read (0640 ``<uid>:whoopsie``): NoData.
* ``kernel``: segfault and trap lines of the kernel log; see :func:`kernel_log`, which
  ``peripherals`` shares for its USB failures.

A :class:`Batch` says where each entry sits on a timeline (``key``), a stable fingerprint
(``fp``) and the sample; the sampler keeps its own high-water marks over these. Timeline
``"wall"`` means ``key`` = seconds since the epoch; ``"boot:<boot id>"`` means seconds since
that boot (dmesg, which keeps no wall-clock time).
"""

from __future__ import annotations

import logging
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dexpulse.schema import SampleBase
from dexpulse.schema.events import AppCrashSample, PeripheralFailureSample

from ...parsers import ParseContext, ParseError
from ...parsers.apport import parse_apport
from ...parsers.coredump import parse_coredumpctl_json, parse_coredumpctl_list
from ...parsers.kernel_log import parse_kernel_log
from ..host import Host, NoData
from ..logbatch import EPOCH, WALL, Batch, Entry, fingerprint, local_zone
from . import boot

log = logging.getLogger(__name__)

COREDUMPCTL_JSON = ("coredumpctl", "-q", "--json=short", "list")
COREDUMPCTL_TABLE = ("coredumpctl", "-q", "--no-pager", "--no-legend", "list")
# _TRANSPORT=kernel rather than -k: -k implies -b, which would lose the kernel lines of the
# previous boot written after the last run (a crash just before shutdown).
JOURNAL_KERNEL = ("journalctl", "_TRANSPORT=kernel", "-o", "short-iso-precise", "--no-pager", "-q")
DMESG = ("dmesg",)
CRASH_DIR = "/var/crash"
APPORT_HEAD_BYTES = 512 * 1024
_LINE_CHUNK = 64 * 1024


def since_arg(since: datetime) -> str:
    """``--since=@<whole seconds>``, rounded down so nothing at the boundary is skipped."""
    return f"--since=@{(since - EPOCH) // timedelta(seconds=1)}"


def _wall(samples: list[SampleBase], now: datetime, source: str) -> Batch:
    entries = [
        Entry((s.ts - EPOCH).total_seconds(), fingerprint(source, *_identity(s)), s)
        for s in samples
    ]
    return Batch(WALL, entries, (now - EPOCH).total_seconds(), EPOCH)


def _identity(sample: SampleBase) -> tuple[object, ...]:
    if isinstance(sample, PeripheralFailureSample):
        return (sample.ts.isoformat(), sample.message)
    if isinstance(sample, AppCrashSample):
        return (sample.ts.isoformat(), sample.pid, sample.app_name, sample.report_id)
    return (sample.ts.isoformat(),)


# -- systemd-coredump ------------------------------------------------------------------------


def coredumps(host: Host, since: datetime, now: datetime) -> Batch:
    """Core dumps systemd-coredump logged since ``since``."""
    argv = (*COREDUMPCTL_JSON, since_arg(since))
    result = host.run(argv, host.timeout_s)  # NoData when coredumpctl is not installed
    parse = parse_coredumpctl_json
    if result.returncode != 0 and _json_unsupported(result.stderr):
        result = host.run((*COREDUMPCTL_TABLE, since_arg(since)), host.timeout_s)
        parse = parse_coredumpctl_list
    if not result.stdout.strip():
        if result.returncode == 0 or _no_coredumps(result.stderr):
            return _wall([], now, "coredump")
        raise NoData(f"coredumpctl exited {result.returncode}: {result.stderr.strip()[:200]}")
    table = parse is parse_coredumpctl_list  # local wall-clock times, to the second
    ctx = ParseContext(now=now, local_tz=local_zone(host) if table else UTC)
    return _wall(list(parse(result.stdout, ctx)), now, "coredump")


def _json_unsupported(stderr: str) -> bool:
    return "--json" in stderr or "unrecognized option" in stderr


def _no_coredumps(stderr: str) -> bool:
    return not stderr.strip() or "No coredumps found" in stderr


# -- apport ----------------------------------------------------------------------------------


def apport_reports(host: Host, since: datetime, now: datetime) -> Batch:
    """Apport crash reports written (modified) since ``since``; key = the file's mtime."""
    directory = host.path(CRASH_DIR)
    try:
        reports = sorted(p for p in directory.iterdir() if p.name.endswith(".crash"))
    except (FileNotFoundError, NotADirectoryError):
        raise NoData(f"{CRASH_DIR} does not exist (apport is not installed)") from None
    except PermissionError:
        raise NoData(f"not permitted to list {CRASH_DIR}") from None
    floor = (since - EPOCH).total_seconds()
    ctx: ParseContext | None = None
    entries: list[Entry] = []
    candidates = unreadable = 0
    for path in reports:
        try:
            info = path.stat()
        except OSError:
            continue  # removed meanwhile
        if info.st_mtime < floor or not stat.S_ISREG(info.st_mode):
            continue
        candidates += 1
        try:
            head = read_report_head(path)
        except PermissionError:
            unreadable += 1
            continue
        except OSError as exc:
            log.debug("cannot read %s: %s", path.name, exc)
            continue
        ctx = ctx or ParseContext(now=now, local_tz=local_zone(host))
        try:
            samples = parse_apport(head, ctx)
        except (ParseError, ValueError) as exc:  # half-written, or not a crash report
            log.debug("skipping %s: %s", path.name, exc)
            continue
        for sample in samples:
            fp = fingerprint("apport", path.name, sample.ts.isoformat(), sample.pid)
            entries.append(Entry(info.st_mtime, fp, sample))
    if candidates and unreadable == candidates:
        raise NoData(f"not permitted to read the crash reports in {CRASH_DIR}")
    return Batch(WALL, entries, (now - EPOCH).total_seconds(), EPOCH)


def read_report_head(path: Path, limit: int = APPORT_HEAD_BYTES) -> str:
    """The text fields of an apport report: up to the first binary (``Key: base64``) field.

    Apport writes text fields first and base64 attachments (the core dump, hundreds of MB)
    last, so this stops before them; lines longer than 64 KiB keep their first 64 KiB.
    """
    parts: list[bytes] = []
    total = 0
    skipping = False  # inside the rest of an over-long line
    with path.open("rb") as handle:
        while total < limit:
            line = handle.readline(_LINE_CHUNK)
            if not line:
                break
            whole = line.endswith(b"\n")
            if skipping:
                skipping = not whole
                continue
            if not line.startswith((b" ", b"\t")) and line.rstrip().endswith(b": base64"):
                break
            parts.append(line if whole else line + b"\n")
            total += len(line)
            skipping = not whole
    return b"".join(parts).decode("utf-8", "replace")


# -- the kernel log (shared with peripherals) ------------------------------------------------


def kernel_log(host: Host, since: datetime, now: datetime) -> Batch:
    """Kernel segfault/trap lines (AppCrashSample) and USB failures (PeripheralFailureSample).

    From the journal (every boot since ``since``, so the end of the previous boot is not
    lost); only where journalctl is not installed from ``dmesg`` (this boot's ring buffer,
    placed with /proc/stat's btime, timeline "boot:<boot id>" keyed by seconds since boot).
    Not permitted (no journal access, ``kernel.dmesg_restrict``): NoData.
    """
    try:
        result = host.run((*JOURNAL_KERNEL, since_arg(since)), host.timeout_s)
    except NoData:
        return _dmesg(host)
    if result.returncode != 0:
        raise NoData(f"journalctl exited {result.returncode}: {result.stderr.strip()[:200]}")
    samples: list[SampleBase] = []
    if result.stdout.strip():
        samples = list(parse_kernel_log(result.stdout, ParseContext(now=now)))
    return _wall(samples, now, "kernel")


def _dmesg(host: Host) -> Batch:
    result = host.run(DMESG, host.timeout_s)
    if result.returncode != 0:
        raise NoData(f"dmesg exited {result.returncode}: {result.stderr.strip()[:200]}")
    booted = boot.boot_time(host)
    if booted is None:
        raise NoData("no boot time in /proc/stat: cannot place dmesg's lines")
    try:
        boot_id = boot.boot_id(host)
    except NoData:
        boot_id = str(int((booted - EPOCH).total_seconds()))
    entries: list[Entry] = []
    if result.stdout.strip():
        # Placed at the epoch, each line's ts is its raw seconds since boot: the key, stable
        # whatever btime says later; the sample then gets the wall-clock time.
        raw = ParseContext(now=EPOCH, boot_time=EPOCH)
        for sample in parse_kernel_log(result.stdout, raw):
            key = (sample.ts - EPOCH).total_seconds()
            placed = sample.model_copy(update={"ts": booted + timedelta(seconds=key)})
            entries.append(Entry(key, fingerprint("dmesg", key, *_identity(sample)[1:]), placed))
    horizon = max((e.key for e in entries), default=None)
    return Batch(f"boot:{boot_id}", entries, horizon, booted)


def kernel_crashes(host: Host, since: datetime, now: datetime) -> Batch:
    return kernel_log(host, since, now).only(AppCrashSample)


SOURCES: dict[str, Callable[[Host, datetime, datetime], Batch]] = {
    "coredump": coredumps,
    "apport": apport_reports,
    "kernel": kernel_crashes,
}
"""Crash sources in order of richness; the sampler dedupes across them."""

THREAD_SOURCES = frozenset({"kernel"})
"""Sources whose ``pid`` may be a thread id (the kernel names the faulting thread)."""
