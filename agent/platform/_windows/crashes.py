"""Windows app crashes: Application Error (event 1000) in the Application log.

One source, ``application_error``: ``wevtutil qe Application`` for EventID 1000 since the
sampler's mark (see :mod:`.eventlog` for the exact query, the count cap and NoData), each event
mapped by :func:`dexpulse.agent.parsers.wevt.event_samples` to an AppCrashSample (pid from the
hex ProcessId, exception code, WER's IntegratorReportId as ``report_id``).

Windows Error Reporting's 1001 APPCRASH report of the same crash is not read: 1000 already has
the crash, with the pid and the faulting module. Hangs (1002) are :mod:`.hangs`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from dexpulse.schema.events import AppCrashSample

from ..host import Host
from ..logbatch import Batch
from .eventlog import event_batch

APPLICATION_LOG = "Application"
CRASH_EVENTS = (1000,)


def application_errors(host: Host, since: datetime, now: datetime) -> Batch:
    """Application Error 1000 events since ``since`` as AppCrashSamples."""
    return event_batch(
        host, "application_error", APPLICATION_LOG, CRASH_EVENTS, AppCrashSample, since, now
    )


SOURCES: dict[str, Callable[[Host, datetime, datetime], Batch]] = {
    "application_error": application_errors,
}
"""Crash sources (one on Windows)."""

THREAD_SOURCES: frozenset[str] = frozenset()
"""No Windows source names a thread instead of the process."""
