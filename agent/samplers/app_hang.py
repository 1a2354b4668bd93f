"""The ``app_hang`` sampler: every "not responding" application, once.

Why: a frozen window costs the user as much as a crash and is often the first sign of the same
fault (a hung network share, an overloaded disk), but no crash report is written for it.
A real sample (Windows Application Hang 1002)::

    {"kind": "app_hang", "ts": "2025-03-27T08:14:02.117Z", "app_name": "OUTLOOK.EXE",
     "app_version": "16.0.18526.20168", "pid": 10044,
     "app_path": "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE",
     "report_id": "0c9b2b6e-1b1c-4c1f-9a53-7d2a3f1f4c1e"}

Sources come from the OS backend (``platform.area("hangs").SOURCES``: on Windows the
Application log's hang events, on macOS spindump's ``.hang``/``.spin`` reports in the
DiagnosticReports folders); an OS without one (Linux: no system-wide record of a frozen window)
raises NoData, a normal result. Each source is read since its own mark with
:func:`.logmemory.read_marked`
(memory, first-run rule, one-run-late commit: see :mod:`.logmemory`); at most ``MAX_PER_RUN``
samples per run, shared fairly among apps.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from dexpulse.schema import SampleBase
from dexpulse.schema.events import AppHangSample

from .. import platform
from ..platform import NoData
from .base import Context, Sampler, register
from .logmemory import MAX_PER_RUN, Memory, SourceHealth, cap_fairly, read_marked

log = logging.getLogger(__name__)


@register
class AppHangSampler(Sampler):
    name = "app_hang"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.memory = Memory(ctx.state, self.name)
        self.health = SourceHealth(self.name)

    def collect(self) -> list[SampleBase]:
        backend = platform.area("hangs")  # NoData where the OS has no hang source
        state = self.memory.begin()
        now = self.ctx.clock()
        interval = timedelta(seconds=self.ctx.config.samplers.app_hang.interval_s)
        marks = state.setdefault("marks", {})
        fresh, out, unavailable = read_marked(
            backend.SOURCES, marks, self.ctx.host, now, interval, self.health, log
        )
        hangs = sorted(
            (e.sample for entries in fresh.values() for e in entries
             if isinstance(e.sample, AppHangSample)),
            key=lambda s: s.ts,
        )  # fmt: skip
        kept = cap_fairly(hangs, lambda s: s.app_name, MAX_PER_RUN)
        if len(kept) < len(hangs):
            log.warning(
                "%s: %d hangs in one run; reporting %d, dropping %d",
                self.name, len(hangs), len(kept), len(hangs) - len(kept),
            )  # fmt: skip
        out += kept
        self.memory.end(state, emitted=bool(out))
        if not out and unavailable == len(backend.SOURCES):
            raise NoData("no hang source is available on this machine")
        return out
