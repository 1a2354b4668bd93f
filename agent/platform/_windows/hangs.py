"""Windows app hangs: Application Hang (event 1002) and WER's hang reports (1001).

One source, ``application_hang``: ``wevtutil qe Application`` for EventIDs 1001 and 1002 since
the sampler's mark (see :mod:`.eventlog`), mapped by
:func:`dexpulse.agent.parsers.wevt.samples_from_events`: 1002 gives an AppHangSample with pid
and path; a WER 1001 only when its bucket is AppHangB1/AppHangXProcB1 (crash buckets are
skipped), and it is dropped when a 1002 read in the same query has its Report Id (both are
logged for the same hang; 1002 is the richer). A 1001 read in a later run than its 1002 is
kept: ``report_id`` lets the collector dedupe.

``SOURCES`` has the shape of the crash backend's (``read(host, since, now) -> Batch``), for
:func:`dexpulse.agent.samplers.logmemory.read_marked`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from dexpulse.schema.events import AppHangSample

from ...parsers.wevt import samples_from_events
from ..host import Host
from ..logbatch import EPOCH, WALL, Batch, Entry, fingerprint
from .eventlog import MAX_EVENTS, read_events

APPLICATION_LOG = "Application"
HANG_EVENTS = (1001, 1002)


def application_hangs(host: Host, since: datetime, now: datetime) -> Batch:
    """Application Hang 1002 (and WER hang 1001) events since ``since`` as AppHangSamples."""
    events = read_events(host, APPLICATION_LOG, HANG_EVENTS, since, now)
    entries = [
        Entry(
            (s.ts - EPOCH).total_seconds(),
            fingerprint("application_hang", s.ts.isoformat(), s.app_name, s.pid, s.report_id),
            s,
        )
        for s in samples_from_events(events)
        if isinstance(s, AppHangSample)
    ]
    horizon = (now - EPOCH).total_seconds()
    if len(events) >= MAX_EVENTS:
        horizon = (max(e.ts for e in events) - EPOCH).total_seconds()
    return Batch(WALL, entries, horizon, EPOCH)


SOURCES: dict[str, Callable[[Host, datetime, datetime], Batch]] = {
    "application_hang": application_hangs,
}
