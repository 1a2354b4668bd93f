"""The ``peripheral_failure`` sampler: USB, Bluetooth and printer failures, each once.

Why: "my dock/headset/printer does not work" is a top helpdesk call, and a flaky cable, a
firmware regression or a printer model that fails on one driver version shows up as the same
failure on many machines. A real sample (a USB device that will not enumerate)::

    {"kind": "peripheral_failure", "ts": "2026-11-27T08:58:21.480463Z", "device_class": "usb",
     "device_id": "2-3", "error": "error -71",
     "message": "2026-11-27T09:58:21.480463+01:00 laptop kernel: usb 2-3: device descriptor
     read/64, error -71"}

(one line, wrapped here). Sources come from the OS backend (``platform.area("peripherals")``):
log sources (``LOG_SOURCES``; on Linux the kernel log and bluetoothd's journal) are read since
a high-water mark exactly as in :mod:`.app_crash` (same memory, :mod:`.logmemory`; same
first-run rule: start at now minus one interval); file sources (``FILE_SOURCES``; on Linux
CUPS's error_log) are read from a byte offset the backend keeps in an opaque cursor, which
survives rotation and truncation; on the first run only their lines of the last interval are
kept.

One sample per failure line, no collapsing (an incident of four retries is four samples: the
count is the signal), but at most ``MAX_PER_RUN`` per run, taken fairly across devices so one
flapping port cannot hide a failing printer; the rest are dropped with a log warning (no
agent_health sample: a burst is the device's problem, not the agent's).

State, NoData and failing sources behave as in :mod:`.app_crash`: committed one run late
after a run that emitted; an unavailable source (not permitted, not installed) is skipped and
only all of them unavailable is NoData.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from dexpulse.schema import SampleBase
from dexpulse.schema.events import PeripheralFailureSample

from .. import platform
from ..platform import NoData
from .base import Context, Sampler, register
from .logmemory import MAX_PER_RUN, Memory, SourceHealth, cap_fairly, read_marked

log = logging.getLogger(__name__)


@register
class PeripheralFailureSampler(Sampler):
    name = "peripheral_failure"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.memory = Memory(ctx.state, self.name)
        self.health = SourceHealth(self.name)

    def collect(self) -> list[SampleBase]:
        state = self.memory.begin()
        backend = platform.area("peripherals")
        now = self.ctx.clock()
        interval = timedelta(seconds=self.ctx.config.samplers.peripheral_failure.interval_s)
        marks: dict[str, Any] = state.setdefault("marks", {})
        cursors: dict[str, Any] = state.setdefault("cursors", {})
        sources = len(backend.LOG_SOURCES) + len(backend.FILE_SOURCES)
        fresh, out, unavailable = read_marked(
            backend.LOG_SOURCES, marks, self.ctx.host, now, interval, self.health, log
        )
        found: list[PeripheralFailureSample] = [
            entry.sample for entries in fresh.values() for entry in entries
        ]
        for source, read_file in backend.FILE_SOURCES.items():
            cursor = cursors.get(source)
            try:
                samples, cursors[source] = read_file(
                    self.ctx.host, cursor if isinstance(cursor, dict) else None, now
                )
            except NoData as why:
                log.debug("%s: source %s unavailable: %s", self.name, source, why)
                unavailable += 1
                continue
            except Exception as exc:
                out += self.health.failed(source, exc, now)
                continue
            self.health.ok(source)
            if not isinstance(cursor, dict):  # first run: only the last interval
                samples = [s for s in samples if s.ts >= now - interval]
            found += samples
        found.sort(key=lambda s: s.ts)
        kept = cap_fairly(found, _device, MAX_PER_RUN)
        if len(kept) < len(found):
            log.warning(
                "%s: %d failures in one run; reporting %d, dropping %d",
                self.name, len(found), len(kept), len(found) - len(kept),
            )  # fmt: skip
        out += kept
        self.memory.end(state, emitted=bool(out))
        if not out and unavailable == sources:
            raise NoData("no peripheral failure source is available on this machine")
        return out


def _device(sample: PeripheralFailureSample) -> tuple[str | None, str | None]:
    return sample.device_class, sample.device_id or sample.name
