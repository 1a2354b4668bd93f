"""The detection job: once a minute, on one replica, the new batches through the detector.

Event time, whatever the schedule: every batch is fed after the detector has evaluated the
minute boundaries before its arrival (``received_at``), so a boundary ``T`` is judged on
exactly the batches that arrived before ``T``. Whether the job runs every minute, late, or
once over a day of recorded batches (replay), the outages come out the same; that is what
makes replay equal live ingestion and lets a replica that takes over catch up.

One replica at a time: the run is one transaction that first takes a PostgreSQL advisory
transaction lock (SQLite serialises writers: the run's first statement is a write). The
replica holding the lease (``detection_state.holder``, renewed each run) keeps the detector
in memory; another replica runs only once the lease has lapsed, and then resumes from the
last snapshot (taken every ``snapshot_every`` runs) and catches up on the rows read since.

Pickle is used for the snapshot because the detector is plain Python objects written and
read only by the collector itself, in its own database.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ..db import claim_slot, transaction, try_job_lock
from ..detection.engine import DetectionConfig, Detector, from_minute, to_minute
from ..detection.features import Featurizer
from ..detection.lifecycle import Outage
from ..gcpause import gc_paused
from ..models import DetectionState
from .reader import ArrivedBatch, Cursor, last_arrived_before, read_new
from .store import EventHook, record

log = logging.getLogger(__name__)

LOCK_KEY = 0x6465_7864  # "dexd"
LEASE = timedelta(minutes=3)
HISTORY_ON_FIRST_RUN = timedelta(hours=2)


@dataclass
class Memory:
    """What the job carries from run to run (and snapshots)."""

    featurizer: Featurizer
    detector: Detector
    cursor: Cursor
    clock: int | None = None
    """The minute of the last boundary evaluated."""
    version: int = 0
    runs_since_snapshot: int = 0


@dataclass
class RunResult:
    batches: int
    changed: list[Outage] = field(default_factory=list)
    resumed: bool = False


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class DetectionJob:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        config: DetectionConfig | None = None,
        *,
        holder: str | None = None,
        snapshot_every: int | None = 15,
        on_event: EventHook | None = None,
    ) -> None:
        self.sessions = sessions
        self.config = config or DetectionConfig()
        self.holder = holder or default_holder()
        self.snapshot_every = snapshot_every
        self.on_event = on_event
        self.memory: Memory | None = None

    def run(self, now: datetime, slot: datetime | None = None) -> RunResult | None:
        """One run at clock ``now``; None when another replica holds the job, or has run the
        scheduled ``slot`` already (``db.claim_slot``)."""
        if self._leased_elsewhere(now):
            # Not even the job lock is taken: a replica that only looks would hold it just
            # when the holder tries it, and that minute would go unrun.
            return None
        try:
            with gc_paused(), transaction(self.sessions) as session:
                return self._run(session, now, slot)
        except BaseException:
            self.memory = None  # ahead of the database now: resume from it next time
            raise

    def snapshot(self) -> None:
        """Write the detector to the database now (on shutdown, at the end of a replay)."""
        if self.memory is None:
            return
        with transaction(self.sessions) as session:
            row = session.get(DetectionState, 1)
            if row is not None and row.version == self.memory.version:
                self._snapshot(row)

    # -- one run ---------------------------------------------------------------------------

    def _leased_elsewhere(self, now: datetime) -> bool:
        """Whether another replica holds a live lease, read without any lock in a transaction
        of its own (on SQLite the run's own transaction must begin with its write)."""
        with transaction(self.sessions) as session:
            held = session.execute(
                select(DetectionState.holder, DetectionState.lease_until).where(
                    DetectionState.id == 1
                )
            ).first()
        return held is not None and self._other_holds(held.holder, held.lease_until, now)

    def _other_holds(self, holder: str | None, lease_until: datetime | None, now: datetime) -> bool:
        return holder not in (None, self.holder) and lease_until is not None and lease_until > now

    def _run(self, session: Session, now: datetime, slot: datetime | None) -> RunResult | None:
        if not try_job_lock(session, LOCK_KEY):
            return None
        row = self._state_row(session, now)
        if self._other_holds(row.holder, row.lease_until, now):
            return None  # (before claiming the slot: it is the holder's to run)
        if slot is not None and not claim_slot(session, "detection", slot):
            return None
        resumed = self.memory is None or self.memory.version != row.version
        if resumed:
            self.memory = self._resume(session, row, now)
        memory = self.memory
        assert memory is not None
        batches = read_new(session, memory.cursor, now)
        changed = self._feed(memory, batches, now)
        record(session, changed, now, on_event=self.on_event)
        row.version += 1
        row.cursor = memory.cursor.at
        row.clock = now
        row.holder, row.lease_until = self.holder, now + LEASE
        row.updated_at = now
        memory.version = row.version
        memory.runs_since_snapshot += 1
        if self.snapshot_every is not None and memory.runs_since_snapshot >= self.snapshot_every:
            self._snapshot(row)
        return RunResult(len(batches), changed, resumed)

    def _feed(self, memory: Memory, batches: Sequence[ArrivedBatch], now: datetime) -> list[Outage]:
        changed: dict[str, Outage] = {}

        def advance(to: datetime) -> None:
            changed.update((o.id, o) for o in memory.detector.advance(to))
            memory.clock = to_minute(to)

        for arrived in batches:
            minute = to_minute(arrived.received_at)
            if memory.clock is None:
                memory.clock = minute
            while memory.clock < minute:
                advance(from_minute(memory.clock + 1))
            for ts, units in memory.featurizer.units(arrived.batch).items():
                memory.detector.add(ts, units)
            device = arrived.device_id
            memory.detector.arrived(device, memory.featurizer.place(device), arrived.received_at)
        if memory.clock is not None and to_minute(now) >= memory.clock:
            advance(now)
        # live outages' timelines and affected devices move every minute, status or not
        changed.update((o.id, o) for o in memory.detector.outages if o.live)
        return list(changed.values())

    # -- state -----------------------------------------------------------------------------

    def _state_row(self, session: Session, now: datetime) -> DetectionState:
        # A write first: on SQLite it takes the database's write lock for the whole run.
        session.execute(update(DetectionState).where(DetectionState.id == 1).values(updated_at=now))
        row = session.get(DetectionState, 1, populate_existing=True)
        if row is None:
            row = DetectionState(id=1, version=0, cursor=self._first_cursor(session, now),
                                 updated_at=now)  # fmt: skip
            session.add(row)
            session.flush()
        return row

    def _first_cursor(self, session: Session, now: datetime) -> int:
        """Detection starts with the last two hours of what is stored, not all history."""
        return last_arrived_before(session, now - HISTORY_ON_FIRST_RUN)

    def _resume(self, session: Session, row: DetectionState, now: datetime) -> Memory:
        if row.snapshot is not None:
            memory: Memory = pickle.loads(row.snapshot)
            log.info("detection resumes from its snapshot at version %s", row.snapshot_version)
        else:
            memory = Memory(Featurizer(), Detector(self.config), Cursor(at=row.cursor))
        memory.version = row.version
        memory.runs_since_snapshot = 0
        return memory

    def _snapshot(self, row: DetectionState) -> None:
        assert self.memory is not None
        self.memory.runs_since_snapshot = 0
        row.snapshot = pickle.dumps(self.memory, protocol=pickle.HIGHEST_PROTOCOL)
        row.snapshot_version = row.version
