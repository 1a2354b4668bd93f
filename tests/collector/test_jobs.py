"""Scheduled jobs: a slot (the minute or hour a schedule fired for) is claimed once, whichever
replica comes first; each process counts its runs by outcome."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from support import migrated

from dexpulse.collector.db import claim_slot, transaction
from dexpulse.collector.jobs import Jobs
from dexpulse.collector.metrics import Metrics
from dexpulse.collector.models import JobSlot

NOON = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def claim(sessions: sessionmaker[Session], job: str, slot: datetime) -> bool:
    with transaction(sessions) as session:
        return claim_slot(session, job, slot)


def test_a_slot_is_claimed_once_and_a_later_one_again(db_url: str) -> None:
    with migrated(db_url) as sessions:
        assert claim(sessions, "scoring", NOON)
        assert not claim(sessions, "scoring", NOON)  # the other replica, just after
        assert not claim(sessions, "scoring", NOON - timedelta(minutes=1))  # a late clock
        assert claim(sessions, "detection", NOON)  # jobs do not share slots
        assert claim(sessions, "scoring", NOON + timedelta(minutes=1))
        with sessions() as session:
            row = session.scalars(select(JobSlot).where(JobSlot.job == "scoring")).one()
        assert (row.slot, row.runs) == (NOON + timedelta(minutes=1), 2)
        assert row.runner.endswith(f":{os.getpid()}")


def test_a_run_that_fails_leaves_its_slot_to_the_next_replica(db_url: str) -> None:
    with migrated(db_url) as sessions:
        try:
            with transaction(sessions) as session:
                assert claim_slot(session, "scoring", NOON)
                raise RuntimeError("the run failed")
        except RuntimeError:
            pass
        assert claim(sessions, "scoring", NOON)


def test_the_scheduler_runs_each_slot_and_counts_the_outcomes(db_url: str) -> None:
    with migrated(db_url) as sessions:
        clock = [NOON + timedelta(seconds=35)]
        jobs = Jobs(None, None, lambda: clock[0], metrics=Metrics(sessions))
        slots: list[datetime] = []

        def run(now: datetime, slot: datetime) -> object | None:
            with transaction(sessions) as session:
                if not claim_slot(session, "scoring", slot):
                    return None
                slots.append(slot)
                if now.minute == 2 and now.second == 35:
                    raise RuntimeError("the database went away")
                return slot

        tick = jobs._scheduled("scoring", run, timedelta(minutes=1))
        for minute, second in ((0, 35), (0, 36), (1, 35), (2, 35), (2, 40)):
            clock[0] = NOON.replace(minute=minute, second=second)
            tick()  # never raises
        assert slots == [NOON, NOON.replace(minute=1), NOON.replace(minute=2),
                         NOON.replace(minute=2)]  # fmt: skip
        counted = jobs.metrics.job_runs  # type: ignore[union-attr]
        assert counted.labels("scoring", "ran")._value.get() == 3
        assert counted.labels("scoring", "skipped")._value.get() == 1
        assert counted.labels("scoring", "failed")._value.get() == 1
