"""The scoring job: the samples written since its last run, folded into device-hour and
device-day scores in event time.

Each run reads the new sample rows (an id cursor with the ids read above a hole, as the
detection job's: ``outages.reader``), groups them by device and the UTC clock hour of their
``ts``, and tallies each group. A device-hour already scored with the same configuration adds
the new tally to its stored one (the cursor reads every row once, so the sum is the hour's);
one scored with another configuration is tallied again from all its samples. The hour is then
scored from the sum and written with its aggregates (its breakdown is composed from them when
asked), and its UTC day marked stale. A stale day is rescored from its hours' aggregates
within ``day_slots`` runs (minutes): each run takes one slot of the devices, so the fleet's
days are spread evenly over the runs instead of all being rescored every minute.
A late batch from a laptop that was offline thus lands in the hours its samples belong to,
and rescores exactly those hours and their days.

A configuration change applies to the hours and days computed after it: an hour is retallied
under the new thresholds when a sample of it next arrives; older hours keep the score they
were computed with (their ``fingerprint`` says which configuration that was).

One replica at a time: the run is one transaction that first takes a PostgreSQL advisory
transaction lock (on SQLite the run's first statement is a write, which serialises it). All
state is in the database, so any replica can take the next run.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from ..db import chunks, claim_slot, transaction, try_job_lock, upsert
from ..gcpause import gc_paused
from ..models import SampleRow, ScoreDay, ScoreDayStale, ScoreHour, ScoringState
from ..outages.reader import Cursor, new_rows
from ..scoring import Aggregates, ScoringConfig, score_aggregates
from ..scoring.hourly import HourTally, score_tally, tally_samples
from .rollups import refresh_due

log = logging.getLogger(__name__)

LOCK_KEY = 0x6465_7873  # "dexs"
MOST_ROWS = 500_000
"""Sample rows read per run at most: a first run over a long history is spread over runs."""
DAY_SLOTS = 10
"""A changed day is rescored within this many runs (minutes): each run rescores one slot's
devices' days, so a fleet's days cost a tenth of them each minute rather than all of them."""
HOUR = timedelta(hours=1)
HOUR_KEYS = ("device_id", "hour")
HOUR_COLUMNS = ("fingerprint", "score", "tally", "aggregates", "updated_at")
DAY_KEYS = ("device_id", "day")
DAY_COLUMNS = ("fingerprint", "score", "document", "updated_at")

HourKey = tuple[uuid.UUID, datetime]


@dataclass(frozen=True)
class ScoringRun:
    samples: int
    hours: int
    days: int


def hour_of(ts: datetime) -> datetime:
    if ts.tzinfo is not UTC:  # the database's times are UTC already (db.UtcDateTime)
        ts = ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
    return ts.replace(minute=0, second=0, microsecond=0)


class ScoringJob:
    def __init__(
        self, sessions: sessionmaker[Session], config: ScoringConfig, day_slots: int = DAY_SLOTS
    ) -> None:
        if day_slots < 1:
            raise ValueError("day_slots must be at least 1")
        self.sessions = sessions
        self.config = config
        self.day_slots = day_slots

    def run(self, now: datetime, slot: datetime | None = None) -> ScoringRun | None:
        """One run at clock ``now``; None when another replica is running it, or has run
        the scheduled ``slot`` already (``db.claim_slot``)."""
        with gc_paused(), transaction(self.sessions) as session:
            return self._run(session, now, slot)

    def _run(self, session: Session, now: datetime, slot: datetime | None) -> ScoringRun | None:
        if not try_job_lock(session, LOCK_KEY):
            return None
        if slot is not None and not claim_slot(session, "scoring", slot):
            return None
        state = self._state(session, now)
        cursor = Cursor(state.cursor, set(state.above), state.gap_since)
        query = select(SampleRow.id, SampleRow.device_id, SampleRow.kind, SampleRow.ts,
                       SampleRow.data)  # fmt: skip
        rows = new_rows(session, cursor, now, query, most=MOST_ROWS)
        parts: dict[HourKey, list[tuple[str, Mapping[str, Any]]]] = defaultdict(list)
        for row in rows:
            parts[(row.device_id, hour_of(row.ts))].append((row.kind, row.data))
        hours = self._score_hours(session, parts, now)
        days, changed = self._score_days(session, now)
        refresh_due(session, changed, self.config.xla_target, now)
        state.cursor, state.above, state.gap_since = (
            cursor.at,
            sorted(cursor.above),
            cursor.gap_since,
        )
        state.updated_at = now
        return ScoringRun(len(rows), hours, days)

    def _state(self, session: Session, now: datetime) -> ScoringState:
        # A write first: on SQLite it takes the database's write lock for the whole run.
        session.execute(update(ScoringState).where(ScoringState.id == 1).values(updated_at=now))
        state = session.get(ScoringState, 1, populate_existing=True)
        if state is None:
            state = ScoringState(id=1, cursor=0, above=[], gap_since=None, updated_at=now)
            session.add(state)
            session.flush()
        return state

    def _score_hours(
        self,
        session: Session,
        parts: Mapping[HourKey, list[tuple[str, Mapping[str, Any]]]],
        now: datetime,
    ) -> int:
        """Fold each hour's new samples into its stored tally, score it, and write all the
        hours in one statement; mark their days stale. Returns the number of hours."""
        fingerprint = self.config.fingerprint()
        stored: dict[HourKey, tuple[str, dict[str, Any]]] = {}
        columns = (ScoreHour.device_id, ScoreHour.fingerprint, ScoreHour.tally)
        by_hour: dict[datetime, list[uuid.UUID]] = defaultdict(list)
        for device, hour in parts:
            by_hour[hour].append(device)
        for hour, devices in by_hour.items():  # (hour, devices IN): the primary key's index
            for chunk in chunks(devices, 400):
                query = select(*columns).where(
                    ScoreHour.hour == hour, ScoreHour.device_id.in_(chunk)
                )
                for device, made_with, tally in session.execute(query):
                    stored[(device, hour)] = (made_with, tally)
        rows: list[dict[str, Any]] = []
        for key, part in parts.items():
            found = stored.get(key)
            kept = _stored_tally(key, found[1]) if found and found[0] == fingerprint else None
            if kept is not None:
                tally = kept + tally_samples(part, self.config)
            elif found is None:  # the cursor reads every row once: these are all it has
                tally = tally_samples(part, self.config)
            else:  # another configuration's tally (or an unreadable one): the whole hour again
                tally = tally_samples(self._hour_samples(session, key), self.config)
            score, aggregates = score_tally(tally, self.config)
            rows.append({
                "device_id": key[0], "hour": key[1], "fingerprint": fingerprint, "score": score,
                "tally": tally.to_json(), "aggregates": aggregates.to_json(), "updated_at": now,
            })  # fmt: skip
        upsert(session, ScoreHour, rows, HOUR_KEYS, HOUR_COLUMNS)
        days = {(device, hour.date()) for device, hour in parts}
        marks = [{"device_id": device, "day": day, "since": now} for device, day in days]
        upsert(session, ScoreDayStale, marks, DAY_KEYS)  # an older mark is kept
        return len(rows)

    def _hour_samples(self, session: Session, key: HourKey) -> list[tuple[str, Mapping[str, Any]]]:
        device, hour = key
        rows = session.execute(
            select(SampleRow.kind, SampleRow.data).where(
                SampleRow.device_id == device, SampleRow.ts >= hour, SampleRow.ts < hour + HOUR
            )
        )
        return [(kind, data) for kind, data in rows]

    def _score_days(self, session: Session, now: datetime) -> tuple[int, set[date]]:
        """Rescore the stale days that are due in this run from their hours' aggregates.

        A day is due when its device's slot comes round (``device_id mod day_slots`` equals
        the run's minute mod ``day_slots``) or when it has been stale for ``day_slots``
        minutes (a missed run). The fleet's days are thus rescored evenly spread over the
        runs, each within ``day_slots`` minutes of its latest hour."""
        slots = self.day_slots
        slot = int(now.timestamp() // 60) % slots
        overdue = now - timedelta(minutes=slots)
        due: dict[date, list[uuid.UUID]] = defaultdict(list)
        for device, day, since in session.execute(select(ScoreDayStale.__table__)):
            if device.int % slots == slot or since <= overdue:
                due[day].append(device)
        fingerprint = self.config.fingerprint()
        rows: list[dict[str, Any]] = []
        for day, devices in due.items():
            start = datetime.combine(day, time(), UTC)
            for chunk in chunks(devices, 400):
                query = (
                    select(ScoreHour.device_id, ScoreHour.aggregates)
                    .where(ScoreHour.device_id.in_(chunk))
                    .where(ScoreHour.hour >= start, ScoreHour.hour < start + timedelta(days=1))
                    .order_by(ScoreHour.device_id, ScoreHour.hour)  # hour order: the sums of
                )  # score_period, to the last bit
                hours: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
                for device, data in session.execute(query):
                    hours[device].append(data)
                for device in chunk:
                    try:
                        total = Aggregates.sum_json(hours[device])
                    except (KeyError, TypeError, ValueError, AttributeError):
                        log.warning("unreadable hour aggregates of device %s on %s", device, day)
                        continue  # the day keeps its score until its hours are scored again
                    period = score_aggregates([total], self.config)
                    rows.append({
                        "device_id": device, "day": day, "fingerprint": fingerprint,
                        "score": period.score, "document": period.to_json(), "updated_at": now,
                    })  # fmt: skip
                session.execute(
                    delete(ScoreDayStale).where(
                        ScoreDayStale.day == day, ScoreDayStale.device_id.in_(chunk)
                    )
                )
        upsert(session, ScoreDay, rows, DAY_KEYS, DAY_COLUMNS)
        return len(rows), set(due)


def _stored_tally(key: HourKey, tally: Mapping[str, Any]) -> HourTally | None:
    """The stored tally, or None (logged) when it cannot be read: the hour is then tallied
    again from its samples rather than failing every run."""
    try:
        return HourTally.from_json(tally)
    except ValueError:
        log.warning("unreadable tally of device %s hour %s; retallying it", *key)
        return None
