"""The ``app_crash`` sampler: every application crash, once, from whichever OS source saw it.

Why: a crashing app is the most direct harm to a user's day, and the fleet-wide count per app
and version is what tells an outage ("Teams 24.1 crashes on every login") from bad luck.
A real sample (systemd-coredump on Fedora, the kernel line merged in)::

    {"kind": "app_crash", "ts": "2026-11-27T08:59:01.214Z", "app_name": "gnome-shell",
     "app_path": "/usr/bin/gnome-shell", "module_name": "libmutter-13.so.0",
     "signal": "SIGSEGV", "pid": 2211, "report_id": "coredump:1795769941:2211"}

Sources come from the OS backend (``platform.area("crashes").SOURCES``; on Linux
systemd-coredump, apport and the kernel log), each read since its own high-water mark.

Memory (across runs and restarts, in the state store): per source a *mark*, a floor on the
source's timeline and the fingerprints of the entries already handled, kept and clamped as
described in :mod:`.logmemory`. On the very first run ever a source starts at *now minus one
interval*: weeks of history are not sent.

Dedup: one crash is often seen twice (the kernel's segfault line and systemd-coredump's
entry; coredump and apport). Two records are one crash when their names agree (on the
kernel's 15 characters), their times are within ``DEDUP_WINDOW_S`` and their pids agree or
one is unknown, or when one comes from a source that names the faulting *thread* (the kernel)
and its id is above the other's process id. The richer record is kept, its gaps filled from
the other, with the earlier time. Thread-level (kernel-only) records are held back until they
are ``DEDUP_WINDOW_S`` old, so a core dump still being written can absorb them; the crashes
reported recently are remembered so a late duplicate is dropped. The kernel's pid is a thread
id and its name the thread's: a crash in a renamed worker thread ("gdbus") stays two records.

At most ``MAX_PER_RUN`` samples per run, shared fairly among apps; the rest are dropped with
a log warning (a crash-looping service cannot flood the spool).

The state is committed one run late when a run emitted samples (see :mod:`.logmemory`): a
crash of the agent between emitting and spooling repeats those samples rather than losing
them. A source that is not available (tool missing, not permitted) is skipped; only when every
source is unavailable does the sampler say NoData. A source that fails otherwise is skipped
too, logged, and reported once as a "degraded" agent_health sample.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dexpulse.schema import SampleBase
from dexpulse.schema.events import AppCrashSample

from .. import platform
from ..platform import NoData
from .base import Context, Sampler, register
from .logmemory import EPOCH, MAX_PER_RUN, Memory, SourceHealth, cap_fairly, read_marked

log = logging.getLogger(__name__)

DEDUP_WINDOW_S = 120.0
MAX_HELD = 100
MAX_RECENT = 200
COMM_LEN = 15  # the kernel's process names are cut to TASK_COMM_LEN - 1
_FIELDS = (
    "app_version", "app_path", "module_name", "module_version", "exception_code", "signal",
    "pid", "report_id",
)  # fmt: skip


@dataclass
class Crash:
    sample: AppCrashSample
    sources: frozenset[str]
    thread_level: bool
    """Known only from a source whose pid is a thread id."""

    def matches(self, other: Crash) -> bool:
        a, b = self.sample, other.sample
        if abs((a.ts - b.ts).total_seconds()) > DEDUP_WINDOW_S:
            return False
        if a.app_name[:COMM_LEN] != b.app_name[:COMM_LEN]:
            return False
        if a.pid is None or b.pid is None or a.pid == b.pid:
            return True
        if self.thread_level != other.thread_level:
            thread, process = (a, b) if self.thread_level else (b, a)
            return (thread.pid or 0) > (process.pid or 0)
        return False

    def merged(self, other: Crash) -> Crash:
        first, second = sorted((self, other), key=_richness, reverse=True)
        base, extra = first.sample, second.sample
        update: dict[str, Any] = {
            name: getattr(extra, name)
            for name in _FIELDS
            if getattr(base, name) is None and getattr(extra, name) is not None
        }
        if first.thread_level and not second.thread_level and extra.pid is not None:
            update["pid"] = extra.pid
        update["ts"] = min(base.ts, extra.ts)
        thread_level = self.thread_level and other.thread_level
        return Crash(base.model_copy(update=update), self.sources | other.sources, thread_level)

    def dump(self) -> dict[str, Any]:
        return {"sources": sorted(self.sources), "sample": self.sample.model_dump(mode="json")}

    def brief(self) -> list[Any]:
        s = self.sample
        return [(s.ts - EPOCH).total_seconds(), s.pid, s.app_name[:COMM_LEN], self.thread_level]


def _richness(crash: Crash) -> tuple[int, bool]:
    filled = sum(getattr(crash.sample, name) is not None for name in _FIELDS)
    return filled, not crash.thread_level


def _held(raw: Any, thread_sources: frozenset[str]) -> list[Crash]:
    out: list[Crash] = []
    for item in raw if isinstance(raw, list) else []:
        try:
            sources = frozenset(str(s) for s in item["sources"])
            sample = AppCrashSample.model_validate(item["sample"])
        except (KeyError, TypeError, ValueError):
            continue
        out.append(Crash(sample, sources, sources <= thread_sources))
    return out


def _recent(raw: Any) -> list[Crash]:
    out: list[Crash] = []
    for item in raw if isinstance(raw, list) else []:
        try:
            ts, pid, name, thread_level = item
            sample = AppCrashSample(
                ts=EPOCH + timedelta(seconds=float(ts)), app_name=str(name), pid=pid
            )
        except (TypeError, ValueError):
            continue
        out.append(Crash(sample, frozenset(), bool(thread_level)))
    return out


@register
class AppCrashSampler(Sampler):
    name = "app_crash"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.memory = Memory(ctx.state, self.name)
        self.health = SourceHealth(self.name)

    def collect(self) -> list[SampleBase]:
        state = self.memory.begin()
        backend = platform.area("crashes")
        thread_sources: frozenset[str] = backend.THREAD_SOURCES
        now = self.ctx.clock()
        interval = timedelta(seconds=self.ctx.config.samplers.app_crash.interval_s)
        marks: dict[str, Any] = state.setdefault("marks", {})
        fresh, out, unavailable = read_marked(
            backend.SOURCES, marks, self.ctx.host, now, interval, self.health, log
        )
        found: list[Crash] = []
        for source, entries in fresh.items():
            level = source in thread_sources
            found += [Crash(e.sample, frozenset({source}), level) for e in entries]
        out += self._dedupe(state, found, thread_sources, now)
        self.memory.end(state, emitted=bool(out))
        if not out and unavailable == len(backend.SOURCES):
            raise NoData("no crash source is available on this machine")
        return out

    def _dedupe(
        self,
        state: dict[str, Any],
        found: list[Crash],
        thread_sources: frozenset[str],
        now: datetime,
    ) -> list[SampleBase]:
        recent = _recent(state.get("recent"))
        pool = _held(state.get("held"), thread_sources)
        for crash in sorted(found, key=lambda c: c.sample.ts):
            if any(crash.matches(old) for old in recent):
                continue  # already reported in an earlier run
            matches = [i for i, other in enumerate(pool) if crash.matches(other)]
            if matches:  # the same pid first, then a thread of the process
                pid = crash.sample.pid
                index = next((i for i in matches if pool[i].sample.pid == pid), matches[0])
                pool[index] = pool[index].merged(crash)
            else:
                pool.append(crash)
        hold_until = now - timedelta(seconds=DEDUP_WINDOW_S)
        ready = [c for c in pool if not c.thread_level or c.sample.ts <= hold_until]
        held = [c for c in pool if c.thread_level and c.sample.ts > hold_until]
        held.sort(key=lambda c: c.sample.ts)
        if len(held) > MAX_HELD:
            ready += held[: len(held) - MAX_HELD]
            held = held[len(held) - MAX_HELD :]
        ready.sort(key=lambda c: c.sample.ts)
        kept = cap_fairly(ready, lambda c: c.sample.app_name, MAX_PER_RUN)
        if len(kept) < len(ready):
            log.warning(
                "%s: %d crashes in one run; reporting %d, dropping %d",
                self.name, len(ready), len(kept), len(ready) - len(kept),
            )  # fmt: skip
        recent += ready
        recent.sort(key=lambda c: c.sample.ts)
        state["recent"] = [c.brief() for c in recent[-MAX_RECENT:]]
        state["held"] = [c.dump() for c in held]
        return [c.sample for c in kept]
