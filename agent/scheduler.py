"""Interval jobs on one thread: the agent's scheduler.

Why not APScheduler: importing it costs the agent about 3 MiB (it brings asyncio,
multiprocessing and a thread pool), while the agent needs only "run these functions every N
seconds, one at a time". Measured against the 40 MiB budget, that is the difference between
meeting it and not (see the note on issue 3). This is that, and no more:

* jobs run one after another on the calling thread, so samplers never race each other;
* a run that was missed (the laptop slept, a job ran long) is run once, not once per missed
  interval, and the next run is counted from then (coalescing);
* jobs may add, replace or remove jobs while they run (the check-in does, to apply settings).

The clock and the wait are parameters, so tests drive it without sleeping.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(order=True)
class _Entry:
    due: float
    order: int
    name: str = field(compare=False)
    generation: int = field(compare=False)


@dataclass
class Job:
    name: str
    run: Callable[[], object]
    every_s: float
    generation: int
    runs: int = 0


class Scheduler:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.jobs: dict[str, Job] = {}
        self._heap: list[_Entry] = []
        self._order = 0
        self._generation = 0

    def every(
        self, name: str, run: Callable[[], object], every_s: float, first_in_s: float = 0.0
    ) -> None:
        """Run ``run`` every ``every_s`` seconds, first in ``first_in_s``; replaces ``name``."""
        if every_s <= 0:
            raise ValueError("a job's interval must be positive")
        self._generation += 1
        self.jobs[name] = Job(name, run, every_s, self._generation)
        self._push(name, self.clock() + first_in_s, self._generation)

    def remove(self, name: str) -> None:
        self.jobs.pop(name, None)  # its heap entry is skipped when it comes up

    def _push(self, name: str, due: float, generation: int) -> None:
        self._order += 1
        heapq.heappush(self._heap, _Entry(due, self._order, name, generation))

    def next_due(self) -> float | None:
        """When the next live job is due (None if there is none)."""
        while self._heap:
            head = self._heap[0]
            job = self.jobs.get(head.name)
            if job is not None and job.generation == head.generation:
                return head.due
            heapq.heappop(self._heap)  # removed or replaced since it was queued
        return None

    def run_due(self) -> int:
        """Run every job that is due now, each once; the number run."""
        ran = 0
        while (due := self.next_due()) is not None and due <= self.clock():
            entry = heapq.heappop(self._heap)
            job = self.jobs[entry.name]
            try:
                job.run()
            except Exception:  # a job's failure is logged; the schedule goes on
                log.exception("job %s failed", job.name)
            job.runs += 1
            ran += 1
            if self.jobs.get(job.name) is job:  # not replaced or removed by its own run
                following = entry.due + job.every_s
                if following <= self.clock():  # fell behind: once now, then a fresh interval
                    following = self.clock() + job.every_s
                self._push(job.name, following, job.generation)
        return ran

    def run_until(self, stop: threading.Event) -> None:
        """Run jobs as they come due until ``stop`` is set."""
        while not stop.is_set():
            self.run_due()
            due = self.next_due()
            stop.wait(None if due is None else max(0.0, due - self.clock()))
