"""The scoring job: the samples written since its last run, folded into device-hour and
device-day scores in event time.

Each run reads the new sample rows (an id cursor with the ids read above a hole, as the
detection job's: ``outages.reader``), groups them by device and the UTC clock hour of their
``ts``, and tallies each group. A device-hour already scored with the same configuration adds
the new tally to its stored one (the cursor reads every row once, so the sum is the hour's);
one scored with another configuration is tallied again from all its samples. The hour is then
finished from the sum, and its UTC day rescored from the aggregates of its hours, which the
day keeps.
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

from ..db import chunks, transaction, try_job_lock
from ..models import SampleRow, ScoreDay, ScoreHour, ScoringState
from ..outages.reader import Cursor, new_rows
from ..scoring import Aggregates, HourScore, ScoringConfig, score_aggregates
from ..scoring.hourly import HourTally, finish, tally_samples

log = logging.getLogger(__name__)

LOCK_KEY = 0x6465_7873  # "dexs"
MOST_ROWS = 500_000
"""Sample rows read per run at most: a first run over a long history is spread over runs."""
HOUR = timedelta(hours=1)
_K = TypeVar("_K")

HourKey = tuple[uuid.UUID, datetime]
DayKey = tuple[uuid.UUID, date]


@dataclass(frozen=True)
class ScoringRun:
    samples: int
    hours: int
    days: int


def hour_of(ts: datetime) -> datetime:
    ts = ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
    return ts.replace(minute=0, second=0, microsecond=0)


class ScoringJob:
    def __init__(self, sessions: sessionmaker[Session], config: ScoringConfig) -> None:
        self.sessions = sessions
        self.config = config

    def run(self, now: datetime) -> ScoringRun | None:
        """One run at clock ``now``; None when another replica is running it."""
        with transaction(self.sessions) as session:
            return self._run(session, now)

    def _run(self, session: Session, now: datetime) -> ScoringRun | None:
        if not try_job_lock(session, LOCK_KEY):
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
        days = self._score_days(session, hours, now)
        state.cursor, state.above, state.gap_since = (
            cursor.at,
            sorted(cursor.above),
            cursor.gap_since,
        )
        state.updated_at = now
        return ScoringRun(len(rows), len(hours), days)

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
    ) -> dict[HourKey, HourScore]:
        fingerprint = self.config.fingerprint()
        stored: dict[HourKey, ScoreHour] = {}
        for chunk in chunks(list(parts), 400):
            for found in session.scalars(
                select(ScoreHour).where(tuple_(ScoreHour.device_id, ScoreHour.hour).in_(chunk))
            ):
                stored[(found.device_id, hour_of(found.hour))] = found
        scored: dict[HourKey, HourScore] = {}
        for key, part in parts.items():
            row: ScoreHour | None = stored.get(key)
            kept = (
                _stored_tally(row) if row is not None and row.fingerprint == fingerprint else None
            )
            if kept is not None:
                tally = kept + tally_samples(part, self.config)
            elif row is None:  # the cursor reads every row once: these are all it has
                tally = tally_samples(part, self.config)
            else:  # another configuration's tally (or an unreadable one): the whole hour again
                tally = tally_samples(self._hour_samples(session, key), self.config)
            hour = scored[key] = finish(tally, self.config)
            if row is None:
                row = ScoreHour(device_id=key[0], hour=key[1])
                session.add(row)
            row.fingerprint, row.score = fingerprint, hour.score
            row.tally, row.document, row.updated_at = tally.to_json(), hour.to_json(), now
        session.flush()
        return scored

    def _hour_samples(self, session: Session, key: HourKey) -> list[tuple[str, Mapping[str, Any]]]:
        device, hour = key
        rows = session.execute(
            select(SampleRow.kind, SampleRow.data).where(
                SampleRow.device_id == device, SampleRow.ts >= hour, SampleRow.ts < hour + HOUR
            )
        )
        return [(kind, data) for kind, data in rows]

    def _score_days(
        self, session: Session, hours: Mapping[HourKey, HourScore], now: datetime
    ) -> int:
        """Rescore the days of ``hours``. A day keeps its hours' aggregates (``hours``: hour
        -> aggregates JSON), so only the changed hours are replaced and the sum scored again;
        its hours' documents are never read back."""
        fingerprint = self.config.fingerprint()
        by_day: dict[date, dict[uuid.UUID, dict[str, HourScore]]] = defaultdict(
            lambda: defaultdict(dict)
        )
        for (device, hour), scored in hours.items():
            by_day[hour.date()][device][hour.isoformat()] = scored
        for day, devices in by_day.items():
            stored = {
                row.device_id: row
                for chunk in chunks(list(devices), 400)
                for row in session.scalars(
                    select(ScoreDay).where(ScoreDay.day == day, ScoreDay.device_id.in_(chunk))
                )
            }
            for device, changed in devices.items():
                row = stored.get(device)
                if row is None:
                    row = ScoreDay(device_id=device, day=day, hours={})
                    session.add(row)
                merged: dict[str, Aggregates | dict[str, Any]] = dict(row.hours)
                merged.update((h, s.aggregates) for h, s in changed.items())
                parts = [  # in hour order, so the float sums are those of score_period
                    a if isinstance(a, Aggregates) else Aggregates.from_json(a)
                    for _, a in sorted(merged.items())
                ]
                period = score_aggregates(parts, self.config)
                row.hours = {
                    **{h: a for h, a in row.hours.items() if h not in changed},
                    **{h: s.aggregates.to_json() for h, s in changed.items()},
                }
                row.fingerprint, row.score = fingerprint, period.score
                row.document, row.updated_at = period.to_json(), now
        return sum(len(devices) for devices in by_day.values())


def _stored_tally(row: ScoreHour) -> HourTally | None:
    """The stored tally, or None (logged) when it cannot be read: the hour is then tallied
    again from its samples rather than failing every run."""
    try:
        return HourTally.from_json(row.tally)
    except ValueError:
        log.warning("unreadable tally of device %s hour %s; retallying it", row.device_id, row.hour)
        return None


def schedule_callable(job: ScoringJob, clock: Callable[[], datetime]) -> Callable[[], None]:
    """The function the scheduler calls every minute: errors are logged, never raised."""

    def tick() -> None:
        try:
            job.run(clock())
        except Exception:
            log.exception("scoring run failed; the next run starts from the same rows")

    return tick
