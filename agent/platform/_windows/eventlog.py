"""Windows event log queries through ``wevtutil qe``, parsed by :mod:`...parsers.wevt`.

One helper for the log-reading areas (crashes, hangs, peripherals, boot)::

    wevtutil qe <log> /q:*[System[(EventID=1000) and TimeCreated[@SystemTime>='<since>']]]
        /f:xml /rd:false /c:<MAX_EVENTS>

``since`` is written in UTC to the millisecond, rounded down to the second so nothing at the
boundary is skipped. ``/rd:false`` gives the oldest event first, so when ``/c:`` cuts the
answer, the events left out are the newest: the batch's horizon is then the last event
returned (read again on the next run) rather than ``now``.

wevtutil prints nothing (exit 0) when no event matches. A log that does not exist (exit
15007), access denied (exit 5) or wevtutil missing: NoData through :meth:`Host.command`.

The :class:`Batch`/:class:`Entry` shapes are those of the Linux backend (what
:func:`dexpulse.agent.samplers.logmemory.read_marked` reads): timeline ``"wall"``, key =
seconds since the epoch, a stable fingerprint per event.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, datetime

from dexpulse.schema import SampleBase

from ...parsers import ParseContext, ParseError
from ...parsers.wevt import Event, event_samples, read_xml_events
from ..host import Host
from ..logbatch import EPOCH, WALL, Batch, Entry, fingerprint

log = logging.getLogger(__name__)

MAX_EVENTS = 500
"""Events read per query and run; a longer backlog is read over the next runs."""


def system_time(since: datetime) -> str:
    """``since`` as an event log SystemTime, rounded down to the second: ``...T08:59:00.000Z``."""
    return since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def query(event_ids: Collection[int], since: datetime | None) -> str:
    """The XPath ``/q:`` of events with one of ``event_ids``, created at or after ``since``."""
    ids = " or ".join(f"EventID={n}" for n in sorted(event_ids))
    where = f"({ids})"
    if since is not None:
        where += f" and TimeCreated[@SystemTime>='{system_time(since)}']"
    return f"*[System[{where}]]"


def wevtutil_argv(
    log_name: str, event_ids: Collection[int], since: datetime | None, *, count: int = MAX_EVENTS
) -> tuple[str, ...]:
    """The exact argv run (one argument per ``/x:`` option; Windows quotes the spaces)."""
    return (
        "wevtutil", "qe", log_name, f"/q:{query(event_ids, since)}", "/f:xml", "/rd:false",
        f"/c:{count}",
    )  # fmt: skip


def read_events(
    host: Host, log_name: str, event_ids: Collection[int], since: datetime | None, now: datetime
) -> list[Event]:
    """The events of ``log_name`` with ``event_ids`` since ``since``, oldest first; NoData if
    the log cannot be read. Events that are not well-formed are skipped."""
    return _read(host, wevtutil_argv(log_name, event_ids, since), now)


def _read(host: Host, argv: tuple[str, ...], now: datetime) -> list[Event]:
    """The events ``argv`` prints (none when it prints none); NoData if it cannot run."""
    text = host.command(*argv)
    if "<Event" not in text:
        return []
    try:
        return read_xml_events(text, ParseContext(now=now))
    except ParseError as exc:
        log.debug("wevtutil %s: %s", argv[2], exc)
        return []


def newest_argv(log_name: str, event_ids: Collection[int], count: int) -> tuple[str, ...]:
    """The argv of the newest ``count`` events with ``event_ids`` (``/rd:true``: newest
    first), for a question about the latest occurrence rather than a backlog (boot event 100)."""
    return (
        "wevtutil", "qe", log_name, f"/q:{query(event_ids, None)}", "/f:xml", "/rd:true",
        f"/c:{count}",
    )  # fmt: skip


def read_newest(
    host: Host, log_name: str, event_ids: Collection[int], count: int, now: datetime
) -> list[Event]:
    """The newest ``count`` events of ``log_name`` with ``event_ids``, newest first; NoData if
    the log cannot be read (as :func:`read_events`)."""
    return _read(host, newest_argv(log_name, event_ids, count), now)


def event_batch(
    host: Host,
    source: str,
    log_name: str,
    event_ids: Collection[int],
    kind: type[SampleBase],
    since: datetime,
    now: datetime,
) -> Batch:
    """The samples of ``kind`` that the matching events map to, as a wall-clock Batch."""
    events = read_events(host, log_name, event_ids, since, now)
    entries: list[Entry] = []
    for event in events:
        for sample in event_samples(event):
            if isinstance(sample, kind):
                key = (sample.ts - EPOCH).total_seconds()
                fp = fingerprint(source, event.event_id, sample.ts.isoformat(), _identity(event))
                entries.append(Entry(key, fp, sample))
    horizon = (now - EPOCH).total_seconds()
    if len(events) >= MAX_EVENTS:  # cut by /c: the newest are still to come
        horizon = (max(e.ts for e in events) - EPOCH).total_seconds()
    return Batch(WALL, entries, horizon, EPOCH)


def _identity(event: Event) -> str:
    d = event.data
    return "|".join(
        d.get(k, "")
        for k in ("ProcessId", "AppName", "IntegratorReportId", "ReportId", "DeviceInstanceId")
    )
