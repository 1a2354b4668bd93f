"""Memory of what was reported per log source, across runs and restarts, for the samplers
that read OS logs (:mod:`.app_crash`, :mod:`.peripheral_failure`).

Why: a log is read again on every run, so without memory a sampler would report the same
entry every time, and after a restart it would either repeat old history or lose what happened
while it was stopped. The helpers were in :mod:`.app_crash`, which both samplers used; they are
moved here verbatim, with their docstrings, so that module keeps only what is crash-specific.

Memory (across runs and restarts, in the state store): per source a *mark*: a floor on the
source's timeline (entries before it are done) and the fingerprints of entries at or after it
already handled; a source is read from its floor, rounded down to the second, and what is in
the fingerprints is skipped. The floor trails the time of reading by ``OVERLAP_S``, so entries
whose printed time is a little older than their arrival are not missed. On the very first run
ever (or when a source changes timeline) a source starts at *now minus one interval*: weeks of
history are not sent; a floor older than ``MAX_LOOKBACK`` (agent stopped for long) is raised
to it, and a floor in the future (the clock was set back) restarts at now minus one interval.

The state is committed one run late when a run emitted samples (by then the service has
spooled them; ``dexpulse agent once``, which does not spool, consumes nothing): a crash of the
agent between emitting and spooling repeats those samples rather than losing them.

:func:`read_marked` reads a sampler's log sources this way: a source that is not available
(tool missing, not permitted) is skipped and counted, so that the sampler says NoData only
when every source is unavailable; a source that fails otherwise is skipped too, logged, and
reported once as a "degraded" agent_health sample (:class:`SourceHealth`). At most
``MAX_PER_RUN`` samples per run, shared fairly (:func:`cap_fairly`).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from dexpulse.schema import AgentHealthSample, SampleBase

from ..platform import Host, NoData
from ..state import StateStore

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WALL = "wall"
STATE_VERSION = 1
OVERLAP_S = 30.0
MAX_LOOKBACK = timedelta(days=1)
MAX_SEEN = 500
MAX_PER_RUN = 200
MAX_KEY = 1e11  # year 5138: anything above is a damaged state file
T = TypeVar("T")

LogSource = Callable[[Host, datetime, datetime], Any]
"""``read(host, since, now)``: a backend Batch (timeline, entries, horizon, origin), or NoData."""


class Memory:
    """A sampler's state, read once, written at once after a quiet run and one run late after
    a run that emitted samples (see the module notes)."""

    def __init__(self, store: StateStore, name: str) -> None:
        self.store, self.name = store, name
        self.data: dict[str, Any] | None = None
        self.pending = False

    def begin(self) -> dict[str, Any]:
        """A working copy of the state (dropped if the run fails)."""
        if self.data is None:
            loaded = self.store.load(self.name)
            self.data = loaded if loaded.get("v") == STATE_VERSION else {"v": STATE_VERSION}
        elif self.pending:
            self.store.save(self.name, self.data)
        self.pending = False
        return copy.deepcopy(self.data)

    def end(self, data: dict[str, Any], emitted: bool) -> None:
        self.data = data
        if emitted:
            self.pending = True
        else:
            self.store.save(self.name, data)


@dataclass
class Mark:
    timeline: str
    floor: float
    seen: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, raw: Any) -> Mark | None:
        try:
            seen = {str(k): float(v) for k, v in dict(raw.get("seen", {})).items()}
            floor = float(raw["floor"])
        except (AttributeError, KeyError, TypeError, ValueError):
            return None
        if not 0 <= floor < MAX_KEY:  # also NaN: a damaged state file starts afresh
            return None
        return cls(str(raw["timeline"]), floor, seen)

    def dump(self) -> dict[str, Any]:
        return {"timeline": self.timeline, "floor": self.floor, "seen": self.seen}


def prepare(raw: Any, now: datetime, interval: timedelta) -> tuple[Mark | None, datetime]:
    """A source's mark (clamped, see the module notes) and the time to read it from."""
    mark = Mark.load(raw)
    start = now - interval
    if mark is None or mark.timeline != WALL:
        return mark, start
    floor = EPOCH + timedelta(seconds=mark.floor)
    if floor > now + timedelta(seconds=OVERLAP_S):
        floor = start  # the clock went back
    floor = max(floor, now - MAX_LOOKBACK)
    mark.floor = (floor - EPOCH).total_seconds()
    return mark, floor


def take(
    mark: Mark | None, batch: Any, now: datetime, interval: timedelta
) -> tuple[list[Any], Mark]:
    """The entries of ``batch`` (a backend Batch) not handled before, and the updated mark."""
    timeline: str = batch.timeline
    origin: datetime = batch.origin
    if mark is None or mark.timeline != timeline:
        new_boot = mark is not None and mark.timeline.startswith("boot:")
        new_boot = new_boot and timeline.startswith("boot:")
        floor = 0.0 if new_boot else (now - interval - origin).total_seconds()
        mark = Mark(timeline, floor)
    fresh = [e for e in batch.entries if e.key >= mark.floor and e.fp not in mark.seen]
    for entry in batch.entries:
        if entry.key >= mark.floor:
            mark.seen[entry.fp] = max(entry.key, mark.seen.get(entry.fp, entry.key))
    if batch.horizon is not None:
        mark.floor = max(mark.floor, batch.horizon - OVERLAP_S)
    seen = sorted(((k, fp) for fp, k in mark.seen.items() if k >= mark.floor), reverse=True)
    if len(seen) > MAX_SEEN:
        mark.floor = seen[MAX_SEEN - 1][0]
        seen = [item for item in seen if item[0] >= mark.floor][: 2 * MAX_SEEN]
    mark.seen = {fp: k for k, fp in seen}
    return fresh, mark


def cap_fairly(items: list[T], group: Callable[[T], Hashable], limit: int) -> list[T]:
    """At most ``limit`` of ``items`` (in order), taken round-robin across groups."""
    if len(items) <= limit:
        return items
    groups: dict[Hashable, list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault(group(item), []).append(index)
    chosen: list[int] = []
    depth = 0
    while len(chosen) < limit:
        for indices in groups.values():
            if depth < len(indices) and len(chosen) < limit:
                chosen.append(indices[depth])
        depth += 1
    return [items[i] for i in sorted(chosen)]


class SourceHealth:
    """Sources that failed (not NoData): logged, and reported once per breakage."""

    def __init__(self, component: str) -> None:
        self.component = component
        self.broken: set[str] = set()

    def failed(self, source: str, exc: Exception, now: datetime) -> list[SampleBase]:
        what = f"{type(exc).__name__}: {exc}"[:2000]
        if source in self.broken:
            log.debug("%s: source %s still failing: %s", self.component, source, what)
            return []
        self.broken.add(source)
        log.warning("%s: source %s failed: %s", self.component, source, what, exc_info=exc)
        message = f"source {source} skipped: {what}"
        return [
            AgentHealthSample(ts=now, component=self.component, status="degraded", message=message)
        ]

    def ok(self, source: str) -> None:
        if source in self.broken:
            self.broken.discard(source)
            log.info("%s: source %s works again", self.component, source)


def read_marked(
    sources: Mapping[str, LogSource],
    marks: dict[str, Any],
    host: Host,
    now: datetime,
    interval: timedelta,
    health: SourceHealth,
    logger: logging.Logger,
) -> tuple[dict[str, list[Any]], list[SampleBase], int]:
    """Read each of ``sources`` since its mark in ``marks`` (the state's, updated in place).

    Returns the entries not handled before (backend Entries: ``key``, ``fp``, ``sample``) per
    source read, in the order of ``sources``; the agent_health samples for sources that failed
    (see :class:`SourceHealth`); and how many sources were unavailable (NoData, logged at debug
    on ``logger``, the sampler's). A source that is unavailable or fails keeps its mark.
    """
    fresh: dict[str, list[Any]] = {}
    out: list[SampleBase] = []
    unavailable = 0
    for source, read in sources.items():
        mark, since = prepare(marks.get(source), now, interval)
        try:
            batch = read(host, since, now)
        except NoData as why:
            logger.debug("%s: source %s unavailable: %s", health.component, source, why)
            unavailable += 1
            continue
        except Exception as exc:  # one broken source must not silence the others
            out += health.failed(source, exc, now)
            continue
        health.ok(source)
        entries, mark = take(mark, batch, now, interval)
        marks[source] = mark.dump()
        fresh[source] = entries
    return fresh, out, unavailable
