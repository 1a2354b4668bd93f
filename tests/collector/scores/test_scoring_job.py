"""The scoring job against a real database (SQLite and PostgreSQL): what it stores equals the
pure core run on the same samples, however the samples arrive (in parts, late, under a new
configuration)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from scores_support import core_hours, send, stream
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from support import add_device, iso, migrated

from dexpulse.collector.models import ScoreDay, ScoreHour
from dexpulse.collector.scores.job import ScoringJob
from dexpulse.collector.scoring import Aggregates, HourScore, ScoringConfig, score_period
from dexpulse.collector.settings import CollectorSettings

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
CONFIG = ScoringConfig()


def stored_hours(sessions: sessionmaker[Session], device: uuid.UUID) -> dict[datetime, ScoreHour]:
    with sessions() as session:
        rows = session.scalars(select(ScoreHour).where(ScoreHour.device_id == device)).all()
        return {row.hour: row for row in rows}


def stored_day(sessions: sessionmaker[Session], device: uuid.UUID, day: date) -> dict[str, Any]:
    with sessions() as session:
        row = session.get(ScoreDay, (device, day))
        assert row is not None
        return row.document


def stored_as(row: ScoreHour) -> tuple[float | None, Aggregates, str]:
    """What a stored hour holds: its score, aggregates and configuration fingerprint."""
    return row.score, Aggregates.from_json(row.aggregates), row.fingerprint


def kept(hour: HourScore) -> tuple[float | None, Aggregates, str]:
    """What the job stores of the core's ``hour`` (the breakdown is made from the rest)."""
    return hour.score, hour.aggregates, hour.fingerprint


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    with migrated(db_url) as made:
        yield made


def devices(sessions: sessionmaker[Session], n: int) -> list[uuid.UUID]:
    with sessions.begin() as session:
        return [add_device(session, f"laptop-{i}") for i in range(n)]


def test_stored_hours_and_days_are_the_core_on_the_same_samples(
    sessions: sessionmaker[Session],
) -> None:
    a, b = devices(sessions, 2)
    samples = {a: stream(T0, 150, 3), b: stream(T0 + 20 * MIN, 90, 5)}
    for device, mine in samples.items():
        for i in range(0, len(mine), 40):  # batches of ten minutes
            send(sessions, device, mine[i : i + 40], T0 + 3 * timedelta(hours=1))
    run = ScoringJob(sessions, CONFIG, day_slots=1).run(T0 + 3 * timedelta(hours=1))
    assert run is not None and run.samples == 4 * 240 and run.hours == 5 and run.days == 2
    for device, mine in samples.items():
        expected = core_hours(mine, CONFIG)
        stored = stored_hours(sessions, device)
        assert set(stored) == set(expected)
        for hour, score in expected.items():
            assert stored[hour].score == score.score
            assert stored_as(stored[hour]) == kept(score)
        day = score_period(expected.values(), CONFIG)
        assert stored_day(sessions, device, T0.date()) == day.to_json()
    assert ScoringJob(sessions, CONFIG, day_slots=1).run(
        T0 + 4 * timedelta(hours=1)
    ) == run.__class__(0, 0, 0)


def test_days_are_rescored_a_slot_of_devices_a_run_and_none_later_than_its_slots(
    sessions: sessionmaker[Session],
) -> None:
    """Each run rescores the stale days of the devices whose id falls in the run's slot;
    every changed day is rescored within ``day_slots`` runs, and then equals the core."""
    slots = 4
    fleet = devices(sessions, 12)
    samples = {device: stream(T0, 30, 2 + i) for i, device in enumerate(fleet)}
    for device, mine in samples.items():
        send(sessions, device, mine, T0 + 40 * MIN)
    job = ScoringJob(sessions, CONFIG, day_slots=slots)
    now = T0 + 40 * MIN
    slot = int(now.timestamp() // 60) % slots
    run = job.run(now)
    due = {d for d in fleet if d.int % slots == slot}
    assert run is not None and run.hours == 12 and run.days == len(due)
    with sessions() as session:
        scored = set(session.scalars(select(ScoreDay.device_id)))
    assert scored == due
    rescored = run.days
    for k in range(1, slots):  # no new samples: the stale days of the other slots follow
        later = job.run(now + k * MIN)
        assert later is not None and later.hours == 0
        rescored += later.days
    assert rescored == 12
    for device, mine in samples.items():
        day = score_period(core_hours(mine, CONFIG).values(), CONFIG)
        assert stored_day(sessions, device, T0.date()) == day.to_json()
    quiet = job.run(now + slots * MIN)
    assert quiet is not None and quiet.days == 0


def test_a_day_stale_longer_than_its_slots_is_rescored_whatever_its_slot(
    sessions: sessionmaker[Session],
) -> None:
    """Runs were missed (the collector was down): what has waited ``day_slots`` minutes is
    due in the next run."""
    fleet = devices(sessions, 6)
    for i, device in enumerate(fleet):
        send(sessions, device, stream(T0, 10, 3 + i), T0 + 15 * MIN)
    job = ScoringJob(sessions, CONFIG, day_slots=10)
    first = job.run(T0 + 15 * MIN)
    assert first is not None
    late = job.run(T0 + 25 * MIN)
    assert late is not None and first.days + late.days == 6


def test_an_hour_scored_batch_by_batch_equals_the_hour_scored_at_once(
    sessions: sessionmaker[Session],
) -> None:
    [device] = devices(sessions, 1)
    mine = stream(T0, 60, 7)
    job = ScoringJob(sessions, CONFIG, day_slots=1)
    for i in range(0, len(mine), 4):  # one batch a minute, the job after each
        send(sessions, device, mine[i : i + 4], T0 + (i // 4 + 1) * MIN)
        job.run(T0 + (i // 4 + 1) * MIN)
    [(hour, expected)] = core_hours(mine, CONFIG).items()
    assert stored_as(stored_hours(sessions, device)[hour]) == kept(expected)


def test_a_late_batch_rescores_the_hours_it_belongs_to_and_only_those(
    sessions: sessionmaker[Session],
) -> None:
    [device] = devices(sessions, 1)
    job = ScoringJob(sessions, CONFIG, day_slots=1)
    early, now = stream(T0, 180, 3), T0 + 3 * timedelta(hours=1)
    send(sessions, device, early, now)
    job.run(now)
    before = stored_hours(sessions, device)
    # a laptop that was offline sends what it sampled during the second hour, an hour later
    late = [
        {"kind": "app_crash", "ts": iso(T0 + 70 * MIN + i * MIN), "app_name": "Teams.exe"}
        for i in range(3)
    ]
    send(sessions, device, late, now + timedelta(hours=1))
    assert job.run(now + timedelta(hours=1)) is not None
    after = stored_hours(sessions, device)
    second = T0 + timedelta(hours=1)
    assert [h for h in after if after[h].updated_at != before[h].updated_at] == [second]
    expected = core_hours(early + late, CONFIG)
    assert stored_as(after[second]) == kept(expected[second])
    assert after[second].score is not None and before[second].score is not None
    assert after[second].score < before[second].score
    assert (
        stored_day(sessions, device, T0.date()) == score_period(expected.values(), CONFIG).to_json()
    )


def test_a_new_configuration_applies_to_the_hours_computed_after_it(
    sessions: sessionmaker[Session],
) -> None:
    [device] = devices(sessions, 1)
    first, now = stream(T0, 120, 3), T0 + 2 * timedelta(hours=1)
    send(sessions, device, first, now)
    ScoringJob(sessions, CONFIG, day_slots=1).run(now)
    strict = ScoringConfig.model_validate({"thresholds": {"rssi_dbm": {"good": -50, "poor": -60}}})
    assert strict.fingerprint() != CONFIG.fingerprint()
    more = stream(T0 + 60 * MIN + 59 * MIN + 30 * timedelta(seconds=1), 1, 3)  # the second hour
    send(sessions, device, more, now + MIN)
    ScoringJob(sessions, strict, day_slots=1).run(now + MIN)
    stored = stored_hours(sessions, device)
    second = T0 + timedelta(hours=1)
    # the hour that received a sample is retallied whole under the new thresholds
    assert stored[second].fingerprint == strict.fingerprint()
    assert stored_as(stored[second]) == kept(core_hours(first + more, strict)[second])
    # the other keeps the score it was computed with, and says so
    assert stored[T0].fingerprint == CONFIG.fingerprint()
    assert stored_as(stored[T0]) == kept(core_hours(first, CONFIG)[T0])


def test_the_scoring_configuration_is_read_from_the_environment_as_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEXPULSE_SCORING", '{"thresholds": {"rssi_dbm": {"good": -60}}}')
    settings = CollectorSettings(_env_file=None)
    assert settings.scoring.fingerprint() != CONFIG.fingerprint()
    monkeypatch.setenv("DEXPULSE_SCORING", '{"thresholds": {"rssi_dbm": {"good": -80}}}')
    with pytest.raises(ValidationError, match="poor .* must be at or below good"):
        CollectorSettings(_env_file=None)


def test_an_unreadable_stored_tally_is_retallied_from_the_samples(
    sessions: sessionmaker[Session],
) -> None:
    [device] = devices(sessions, 1)
    first, now = stream(T0, 30, 3), T0 + timedelta(hours=1)
    send(sessions, device, first, now)
    job = ScoringJob(sessions, CONFIG, day_slots=1)
    job.run(now)
    with sessions.begin() as session:
        row = session.get(ScoreHour, (device, T0))
        assert row is not None
        row.tally = {"seen": "many"}
    more = stream(T0 + 30 * MIN, 30, 3)
    send(sessions, device, more, now + MIN)
    assert job.run(now + MIN) is not None
    stored = stored_hours(sessions, device)[T0]
    assert stored_as(stored) == kept(core_hours(first + more, CONFIG)[T0])
