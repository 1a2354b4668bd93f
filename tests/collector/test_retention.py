"""Retention and partition upkeep: the pure plan, PostgreSQL's partitions (migration 0009 and
the job), chunked deletes on SQLite, the detection reader's arrival lookups, and the wiring."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine, func, select, text
from support import (
    Collector,
    add_device,
    iso,
    make_batch,
    postgres_server_url,
    scratch_postgres_database,
)

from dexpulse.collector import migrations
from dexpulse.collector.app import create_app
from dexpulse.collector.db import make_engine, make_sessionmaker, transaction, upsert
from dexpulse.collector.models import IngestedBatch, SampleRow, ScoreDay, ScoreHour, ScoreRollup
from dexpulse.collector.outages.reader import arrivals, last_arrived_before
from dexpulse.collector.retention import (
    BATCHES,
    LOCK_KEY,
    SAMPLES,
    SCORE_HOURS,
    Partition,
    RetentionJob,
    RetentionPolicy,
    parse_partition,
    partition_of,
    plan_partitions,
)
from dexpulse.collector.settings import CollectorSettings

TODAY = date(2027, 3, 15)
NOW = datetime(2027, 3, 15, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
POLICY = RetentionPolicy()  # 30 days raw (batches 31), 396 days hourly, 7 days ahead


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


# -- the pure core -------------------------------------------------------------------------


def test_partition_names_parse_and_nothing_else_does() -> None:
    assert parse_partition(SAMPLES, "samples_p20270315") == Partition(
        date(2027, 3, 15), date(2027, 3, 16), SAMPLES
    )
    assert parse_partition(SCORE_HOURS, "score_hours_p202712") == Partition(
        date(2027, 12, 1), date(2028, 1, 1), SCORE_HOURS
    )
    for name in (
        "samples_default", "samples_p2027031", "samples_p202703150", "samples_p20271315",
        "samples_p20270230", "samples_old", "xsamples_p20270315", "samples_p20270315_old",
        "batches_p20270315", "SAMPLES_P20270315", "samples_p２０２７０３１５",
    ):  # fmt: skip
        assert parse_partition(SAMPLES, name) is None, name
    assert parse_partition(SCORE_HOURS, "score_hours_p20270315") is None
    assert parse_partition(SCORE_HOURS, "score_hours_p202713") is None
    for series, day in ((SAMPLES, date(2024, 2, 29)), (SCORE_HOURS, date(2027, 12, 31))):
        partition = partition_of(series, day)
        assert parse_partition(series, partition.name) == partition
        assert partition.start_at <= at(day) < partition.end_at


def test_the_plan_makes_today_first_then_ahead_then_back_to_the_horizon() -> None:
    plan = plan_partitions(SAMPLES, TODAY, POLICY, [])
    starts = [p.start for p in plan.create]
    assert starts[0] == TODAY
    assert starts[1:8] == days(TODAY + DAY, TODAY + 7 * DAY)
    assert starts[8:] == days(TODAY - 30 * DAY, TODAY - DAY)[::-1]
    assert plan.drop == ()
    # batches are kept a day longer than samples
    batches = plan_partitions(BATCHES, TODAY, POLICY, [])
    assert min(p.start for p in batches.create) == TODAY - 31 * DAY


def test_the_plan_drops_only_whole_partitions_past_retention_and_only_its_own() -> None:
    horizon = TODAY - 30 * DAY
    existing = [partition_of(SAMPLES, d).name for d in days(horizon - 5 * DAY, TODAY + 7 * DAY)]
    strangers = ["samples_default", "samples_old", "samples_p2027", "samples_p20270230"]
    plan = plan_partitions(SAMPLES, TODAY, POLICY, existing + strangers)
    assert plan.create == ()
    assert [p.start for p in plan.drop] == days(horizon - 5 * DAY, horizon - DAY)


def test_score_hours_go_by_whole_months() -> None:
    existing = ["score_hours_p202601", "score_hours_p202602", "score_hours_p202603"]
    plan = plan_partitions(SCORE_HOURS, TODAY, POLICY, existing)
    horizon = TODAY - 396 * DAY  # 2026-02-12: February still holds rows to keep
    assert horizon == date(2026, 2, 12)
    assert [p.name for p in plan.drop] == ["score_hours_p202601"]
    made = {p.name for p in plan.create}
    assert made == {f"score_hours_p{y}{m:02d}" for y, m in [(2026, m) for m in range(4, 13)]
                    + [(2027, 1), (2027, 2), (2027, 3)]}  # fmt: skip
    # the next month is made days_ahead before it starts
    late = plan_partitions(SCORE_HOURS, date(2027, 3, 28), POLICY, [])
    assert "score_hours_p202704" in {p.name for p in late.create}


def test_the_policy_comes_from_settings_and_settings_refuse_nonsense() -> None:
    settings = CollectorSettings(_env_file=None)
    assert settings.retention_enabled
    assert RetentionPolicy.from_settings(settings) == RetentionPolicy(30, 396, 7, 1)
    wide = CollectorSettings(_env_file=None, max_future_s=3 * 86400 + 1, retention_raw_days=10)
    assert RetentionPolicy.from_settings(wide).batch_grace_days == 4
    for bad in ({"retention_raw_days": 0}, {"retention_hourly_days": -1},
                {"partition_days_ahead": 0}, {"partition_days_ahead": 10_000}):  # fmt: skip
        with pytest.raises(ValidationError):
            CollectorSettings(_env_file=None, **bad)


# -- databases -----------------------------------------------------------------------------


def bare(url: str) -> str:
    """Migrate ``url``; on PostgreSQL drop the dated partitions the migration made around the
    wall clock, so each test's partitions are its own (the DEFAULT ones stay)."""
    engine = make_engine(url)
    migrations.upgrade(engine)
    if engine.dialect.name == "postgresql":
        names = partition_names(engine)
        with engine.begin() as conn:
            for name in names:
                conn.execute(text(f"DROP TABLE {name}"))
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of the test's own, migrated, without dated partitions."""
    if request.param == "sqlite":
        yield bare(f"sqlite:///{tmp_path / 'collector.db'}")
        return
    with scratch_postgres_database(postgres_server_url()) as url:
        yield bare(url)


@pytest.fixture
def pg_url() -> Iterator[str]:
    with scratch_postgres_database(postgres_server_url()) as url:
        yield url


def partition_names(engine: Engine, parent: str | None = None) -> set[str]:
    """The dated partitions of ``parent`` (of all three partitioned tables without one)."""
    parents = [parent] if parent else ["samples", "batches", "score_hours"]
    query = text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(:t) AND c.relname NOT LIKE '%\\_default'"
    )
    with engine.connect() as conn:
        return {n for p in parents for n in conn.execute(query, {"t": p}).scalars()}


def where_rows_are(engine: Engine, table_name: str) -> dict[Any, str]:
    """Each row's key -> the partition it is stored in."""
    key = {"samples": "id", "batches": "batch_id", "score_hours": "hour"}[table_name]
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT {key}, tableoid::regclass::text FROM {table_name}"))
        return {key: where for key, where in rows}  # noqa: C416 (rows, not pairs)


def add_batch(
    conn: Any, device: uuid.UUID, received: datetime, sample_times: list[datetime]
) -> tuple[uuid.UUID, list[int]]:
    """A batch row and its Wi-Fi samples; their ids."""
    batch_id = uuid.uuid4()
    conn.execute(IngestedBatch.__table__.insert().values(
        batch_id=batch_id, device_id=device, seq=1, schema_version=1, sent_at=received,
        received_at=received, clock_offset_s=0.0, sample_count=len(sample_times),
        dropped_count=0,
    ))  # fmt: skip
    ids = []
    for ts in sample_times:
        inserted = conn.execute(
            SampleRow.__table__.insert()
            .values(device_id=device, batch_id=batch_id, kind="wifi", ts=ts, data={"rssi_dbm": -60})
            .returning(SampleRow.__table__.c.id)
        )
        ids.append(inserted.scalar_one())
    return batch_id, ids


def add_scores(conn: Any, device: uuid.UUID, hours: list[datetime], day_list: list[date]) -> None:
    for hour in hours:
        conn.execute(ScoreHour.__table__.insert().values(
            device_id=device, hour=hour, fingerprint="f", score=90.0, tally={}, aggregates={},
            updated_at=hour,
        ))  # fmt: skip
    for day in day_list:
        conn.execute(ScoreDay.__table__.insert().values(
            device_id=device, day=day, fingerprint="f", score=90.0, document={},
            updated_at=at(day),
        ))  # fmt: skip
        conn.execute(ScoreRollup.__table__.insert().values(
            day=day, dimension="fleet", value="all", devices=1, score_sum=90.0, at_target=1,
            losses={}, components={}, histogram={"900": 1}, updated_at=at(day),
        ))  # fmt: skip


def test_retention_removes_exactly_the_expired_rows(fresh_url: str) -> None:
    """On PostgreSQL by dropping partitions (and from DEFAULT, in chunks), on SQLite by
    chunked deletes; either way exactly the rows before each table's horizon go."""
    engine = make_engine(fresh_url)
    postgres = engine.dialect.name == "postgresql"
    job = RetentionJob(engine, POLICY, chunk=3)
    if postgres:  # the partitions the runs of the 40 days before would have left
        for back in range(40, 0, -1):
            assert job.run(NOW - back * DAY) is not None
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        device, other = add_device(session, "l1"), add_device(session, "l2")
        conn = session.connection()
        samples_horizon = at(TODAY - 30 * DAY, 0)
        batches_horizon = at(TODAY - 31 * DAY, 0)
        kept_samples, kept_batches = set(), set()
        for back in range(36, -1, -1):  # a batch at noon every day, two samples each
            day = TODAY - back * DAY
            for who in (device, other):
                batch, ids = add_batch(conn, who, at(day), [at(day, 11), at(day, 12)])
                kept_samples |= {i for i, ts in zip(ids, [at(day, 11), at(day, 12)], strict=True)
                                 if ts >= samples_horizon}  # fmt: skip
                if at(day) >= batches_horizon:
                    kept_batches.add(batch)
        # a batch received just before the samples' horizon with a sample placed after it
        late_batch, late_ids = add_batch(conn, device, samples_horizon - timedelta(minutes=2),
                                         [samples_horizon + timedelta(minutes=2)])  # fmt: skip
        kept_samples |= set(late_ids)
        kept_batches.add(late_batch)
        hours_horizon = at(TODAY - 396 * DAY, 0)
        hours = [hours_horizon - 2 * DAY, hours_horizon - timedelta(hours=1), hours_horizon,
                 at(TODAY, 9)]  # fmt: skip
        add_scores(conn, device, hours, [TODAY - 397 * DAY, TODAY - 396 * DAY, TODAY])
    result = job.run(NOW)
    assert result is not None and result.finished and not result.failed
    with engine.connect() as conn:
        assert set(conn.execute(select(SampleRow.id)).scalars()) == kept_samples
        assert set(conn.execute(select(IngestedBatch.batch_id)).scalars()) == kept_batches
        kept_hours = set(conn.execute(select(ScoreHour.hour)).scalars())
        kept_days = set(conn.execute(select(ScoreDay.day)).scalars())
        kept_rollups = set(conn.execute(select(ScoreRollup.day)).scalars())
    assert kept_days == kept_rollups == {TODAY - 396 * DAY, TODAY}
    if postgres:  # whole months: February 2026 still holds hours to keep
        assert kept_hours == set(hours)
        # yesterday's run left the partitions from 31 (32) days back; older rows are in DEFAULT
        assert result.dropped == [f"samples_p{TODAY - 31 * DAY:%Y%m%d}",
                                  f"batches_p{TODAY - 32 * DAY:%Y%m%d}"]  # fmt: skip
        assert result.deleted == {"samples": 20, "batches": 8, "score_days": 1,
                                  "score_rollups": 1}  # fmt: skip
    else:
        assert kept_hours == {hours_horizon, at(TODAY, 9)}
        assert result.deleted == {"samples": 24, "batches": 10, "score_hours": 2, "score_days": 1,
                                  "score_rollups": 1}  # fmt: skip
        with engine.connect() as conn:  # no sample outlived its batch; checks are back on
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    again = job.run(NOW)
    assert again is not None and again.idle
    engine.dispose()


def test_a_run_stops_when_its_budget_is_spent_and_the_next_carries_on(tmp_path: Path) -> None:
    engine = make_engine(bare(f"sqlite:///{tmp_path / 'collector.db'}"))
    ticks = iter(range(1000))
    job = RetentionJob(engine, POLICY, chunk=2, monotonic=lambda: float(next(ticks)))
    with transaction(make_sessionmaker(engine)) as session:
        device = add_device(session, "l1")
        add_batch(session.connection(), device, at(TODAY - 40 * DAY), [at(TODAY - 40 * DAY)] * 9)
    first = job.run(NOW, budget_s=3)
    assert first is not None and not first.finished
    assert 0 < first.deleted["samples"] < 9
    rest = job.run(NOW)
    assert rest is not None and rest.finished
    assert first.deleted["samples"] + rest.deleted["samples"] == 9
    assert rest.deleted["batches"] == 1
    engine.dispose()


# -- PostgreSQL: migration 0009 -----------------------------------------------------------


@pytest.mark.postgres
def test_migration_0009_keeps_the_rows_both_ways(pg_url: str) -> None:
    engine = make_engine(pg_url)
    migrations.upgrade(engine, "0008")
    first = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0) - 3 * DAY
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO devices (id, token_hash, hostname, os, tags, enrolled_at) "
            "VALUES (:d, 'x', 'l1', 'linux', '{}', :t)"
        ), {"d": (device := uuid.uuid4()), "t": first})  # fmt: skip
        stored = [add_batch(conn, device, first + i * DAY, [first + i * DAY - timedelta(hours=7),
                                                            first + i * DAY])
                  for i in range(3)]  # fmt: skip
        add_scores(conn, device, [first - 40 * DAY, first], [])

    def contents() -> list[list[tuple[Any, ...]]]:
        with engine.connect() as conn:
            return [
                sorted((tuple(r) for r in conn.execute(text(f"SELECT * FROM {t}"))), key=str)
                for t in ("samples", "batches", "score_hours")
            ]

    before = contents()
    migrations.upgrade(engine)
    assert contents() == before
    placed = where_rows_are(engine, "samples")
    for _, ids in stored:
        for sample_id in ids:
            ts = next(r[4] for r in before[0] if r[0] == sample_id)
            assert placed[sample_id] == f"samples_p{ts:%Y%m%d}"
    assert set(where_rows_are(engine, "batches").values()) == {
        f"batches_p{first + i * DAY:%Y%m%d}" for i in range(3)
    }
    assert set(where_rows_are(engine, "score_hours").values()) == {
        f"score_hours_p{first - 40 * DAY:%Y%m}",
        f"score_hours_p{first:%Y%m}",
    }
    today = datetime.now(UTC).date()
    assert {f"samples_p{d:%Y%m%d}" for d in days(today, today + 7 * DAY)} <= partition_names(
        engine, "samples"
    )
    # ids go on from the same sequence; a sample whose batch is gone and a batch id stored
    # twice (both possible once partitioned) come back as well as the old schema allows
    with engine.begin() as conn:
        orphan_batch, (orphan,) = add_batch(conn, device, first, [first])
        conn.execute(text("DELETE FROM batches WHERE batch_id = :b"), {"b": orphan_batch})
        twice = stored[0][0]
        conn.execute(text(
            "INSERT INTO batches SELECT batch_id, device_id, seq, schema_version, sent_at, "
            "received_at + interval '1 day', clock_offset_s, sample_count, dropped_count "
            "FROM batches WHERE batch_id = :b"
        ), {"b": twice})  # fmt: skip
    assert orphan > max(r[0] for r in before[0])
    migrations.downgrade(engine, "0008")
    with engine.connect() as conn:
        partitioned = conn.execute(text("SELECT count(*) FROM pg_partitioned_table")).scalar()
        assert partitioned == 0
        definition = text("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                          "WHERE conname = 'fk_samples_batch_id_batches'")  # fmt: skip
        key = conn.execute(definition).scalar()
        assert key == "FOREIGN KEY (batch_id) REFERENCES batches(batch_id) NOT VALID"
        serial = conn.execute(text("SELECT pg_get_serial_sequence('samples', 'id')")).scalar()
        assert serial == "public.samples_id_seq"
    after = contents()
    assert [r for r in after[0] if r[0] != orphan] == before[0]
    assert after[1] == before[1]  # the batch stored twice: its first arrival
    assert after[2] == before[2]
    migrations.upgrade(engine)
    assert contents() == after
    engine.dispose()


# -- PostgreSQL: the job -------------------------------------------------------------------


@pytest.mark.postgres
def test_upkeep_makes_partitions_ahead_and_drops_expired_ones(pg_url: str) -> None:
    engine = make_engine(bare(pg_url))
    job = RetentionJob(engine, POLICY)
    first = job.run(NOW)
    assert first is not None and not first.failed and first.dropped == []
    samples = {f"samples_p{d:%Y%m%d}" for d in days(TODAY - 30 * DAY, TODAY + 7 * DAY)}
    batches = {f"batches_p{d:%Y%m%d}" for d in days(TODAY - 31 * DAY, TODAY + 7 * DAY)}
    assert partition_names(engine, "samples") == samples
    assert partition_names(engine, "batches") == batches
    assert first.created[0] == f"samples_p{TODAY:%Y%m%d}"  # today's first
    assert len(partition_names(engine, "score_hours")) == 14  # 2026-02 .. 2027-03
    later = job.run(NOW + 10 * DAY)
    assert later is not None and not later.failed
    assert set(later.created) == {
        f"{t}_p{d:%Y%m%d}" for t in ("samples", "batches")
        for d in days(TODAY + 8 * DAY, TODAY + 17 * DAY)
    } | {"score_hours_p202704"}  # fmt: skip
    assert set(later.dropped) == {f"samples_p{d:%Y%m%d}" for d in days(
        TODAY - 30 * DAY, TODAY - 21 * DAY)} | {f"batches_p{d:%Y%m%d}" for d in days(
        TODAY - 31 * DAY, TODAY - 22 * DAY)}  # fmt: skip
    assert partition_names(engine, "samples") == {
        f"samples_p{d:%Y%m%d}" for d in days(TODAY - 20 * DAY, TODAY + 17 * DAY)
    }
    # a table whose name looks like a partition but is not one is never touched
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE samples_p20200101 (x int)"))
    assert job.run(NOW + 10 * DAY).idle  # type: ignore[union-attr]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT to_regclass('samples_p20200101')")).scalar()
    engine.dispose()


@pytest.mark.postgres
def test_rows_in_default_move_when_their_partition_is_made(pg_url: str) -> None:
    engine = make_engine(bare(pg_url))
    job = RetentionJob(engine, POLICY)
    assert job.run(NOW) is not None
    ahead = TODAY + 20 * DAY  # beyond the days made ahead: ingest puts such rows in DEFAULT
    with transaction(make_sessionmaker(engine)) as session:
        device = add_device(session, "l1")
        batch, ids = add_batch(
            session.connection(), device, at(ahead), [at(ahead, 1), at(ahead, 2)]
        )
        add_scores(session.connection(), device, [at(TODAY + 400 * DAY)], [])
    assert set(where_rows_are(engine, "samples").values()) == {"samples_default"}
    assert where_rows_are(engine, "batches") == {batch: "batches_default"}
    moved = job.run(NOW + 15 * DAY)
    assert moved is not None and not moved.failed
    assert moved.moved == {f"samples_p{ahead:%Y%m%d}": 2, f"batches_p{ahead:%Y%m%d}": 1}
    assert where_rows_are(engine, "samples") == dict.fromkeys(ids, f"samples_p{ahead:%Y%m%d}")
    assert where_rows_are(engine, "batches") == {batch: f"batches_p{ahead:%Y%m%d}"}
    assert set(where_rows_are(engine, "score_hours").values()) == {"score_hours_default"}
    engine.dispose()


@pytest.mark.postgres
def test_a_partition_whose_locks_are_busy_waits_for_the_next_run(pg_url: str) -> None:
    """A long query holding the DEFAULT partition: making samples' partitions gives up after
    the lock timeout (rather than queueing readers behind it); the other tables go on."""
    engine = make_engine(bare(pg_url))
    job = RetentionJob(engine, POLICY, lock_timeout_ms=100)
    with engine.connect() as reader:
        reader.execute(text("SELECT count(*) FROM samples_default"))  # holds it until rollback
        busy = job.run(NOW)
        reader.rollback()
    assert busy is not None and len(busy.failed) == 1
    assert busy.failed[0].startswith(f"create samples_p{TODAY:%Y%m%d}: canceling statement")
    assert not any(name.startswith("samples") for name in busy.created)
    assert f"batches_p{TODAY:%Y%m%d}" in busy.created
    again = job.run(NOW)
    assert again is not None and not again.failed
    assert set(again.created) == {f"samples_p{d:%Y%m%d}" for d in days(
        TODAY - 30 * DAY, TODAY + 7 * DAY)}  # fmt: skip
    engine.dispose()


@pytest.mark.postgres
def test_ingest_lands_in_day_partitions_and_a_day_without_one_in_default(pg_url: str) -> None:
    """Through the API: today's and yesterday's samples in their days' partitions, the batch
    in today's; a sample older than the kept days (ingest accepts 60 days here) lands in
    DEFAULT instead of failing, and the next run deletes it."""
    settings = CollectorSettings(
        database_url=pg_url, detection_enabled=False, scoring_enabled=False,
        max_sample_age_days=60, _env_file=None,
    )  # fmt: skip
    with TestClient(create_app(settings, clock=lambda: NOW)) as client:
        collector = Collector(client)
        device = collector.enroll()
        samples = [{"kind": "wifi", "ts": iso(ts), "rssi_dbm": -60}
                   for ts in (NOW, NOW - DAY, NOW - 40 * DAY)]  # fmt: skip
        posted = collector.post(device, make_batch(device.device_id, samples, sent_at=iso(NOW)))
        assert posted.status_code == 200, posted.text
        engine = client.app.state.engine  # type: ignore[attr-defined]
        assert sorted(where_rows_are(engine, "samples").values()) == sorted(
            [f"samples_p{TODAY:%Y%m%d}", f"samples_p{TODAY - DAY:%Y%m%d}", "samples_default"]
        )
        assert set(where_rows_are(engine, "batches").values()) == {f"batches_p{TODAY:%Y%m%d}"}
        result = client.app.state.jobs.retention.run(NOW)  # type: ignore[attr-defined]
        assert result.deleted == {"samples": 1}
        assert set(where_rows_are(engine, "samples").values()) == {
            f"samples_p{TODAY:%Y%m%d}",
            f"samples_p{TODAY - DAY:%Y%m%d}",
        }


@pytest.mark.postgres
def test_one_replica_runs_the_job_at_a_time(pg_url: str) -> None:
    engine = make_engine(bare(pg_url))
    inside, release = threading.Event(), threading.Event()

    class Slow(RetentionJob):
        def _create(self, *args: Any) -> None:
            inside.set()
            release.wait(10)
            super()._create(*args)

    slow, quick = Slow(engine, POLICY), RetentionJob(make_engine(pg_url), POLICY)
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(slow.run(NOW)))
    worker.start()
    try:
        assert inside.wait(10)
        assert quick.run(NOW) is None  # the other holds the lock
    finally:
        release.set()
        worker.join(10)
    assert results[0] is not None and results[0].created
    assert quick.run(NOW) is not None  # given back when done
    with engine.connect() as conn:  # by a plain session too
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
        assert quick.run(NOW) is None
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
    quick.engine.dispose()
    engine.dispose()


# -- both: upserts, the reader's lookups, the wiring ---------------------------------------


def test_score_hours_upsert_on_conflict_still_works(db_url: str) -> None:
    engine = make_engine(db_url)
    migrations.upgrade(engine)
    sessions = make_sessionmaker(engine)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with transaction(sessions) as session:
        device = add_device(session, "l1")
    for score in (70.0, 80.0):
        row = {"device_id": device, "hour": hour, "fingerprint": "f", "score": score,
               "tally": {}, "aggregates": {}, "updated_at": hour}  # fmt: skip
        with transaction(sessions) as session:
            upsert(session, ScoreHour, [row], ("device_id", "hour"), ("score",))
    with engine.connect() as conn:
        assert conn.execute(select(ScoreHour.score)).scalars().all() == [80.0]
    if engine.dialect.name == "postgresql":
        assert set(where_rows_are(engine, "score_hours").values()) == {f"score_hours_p{hour:%Y%m}"}
    engine.dispose()


def test_arrivals_and_the_first_cursor_match_the_join_they_replace(fresh_url: str) -> None:
    engine = make_engine(fresh_url)
    RetentionJob(engine, POLICY).run(NOW)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        device = add_device(session, "l1")
        conn = session.connection()
        stored = {}
        for minutes in (600, 300, 125, 119, 30, 0):  # arrivals, minutes before NOW
            received = NOW - timedelta(minutes=minutes)
            batch, _ = add_batch(conn, device, received, [received, received])
            stored[batch] = received
        gone = uuid.uuid4()
    with sessions() as session:
        found = arrivals(session, [*stored, gone], recent=NOW - timedelta(hours=6))
        assert found == {b: r for b, r in stored.items() if r >= NOW - timedelta(hours=10)}
        assert arrivals(session, [*stored, gone]) == stored
        for hours in (0, 1, 2, 5, 11, 24):
            before = NOW - timedelta(hours=hours)
            joined = session.scalar(
                select(func.max(SampleRow.id))
                .join(IngestedBatch, IngestedBatch.batch_id == SampleRow.batch_id)
                .where(IngestedBatch.received_at < before)
            )
            assert last_arrived_before(session, before) == (joined or 0), hours
    engine.dispose()


def test_the_collector_runs_retention_at_startup_and_hourly(
    settings: CollectorSettings, tmp_path: Path
) -> None:
    engine = make_engine(settings.resolved_database_url())
    migrations.upgrade(engine)
    expired = datetime.now(UTC) - 45 * DAY
    with transaction(make_sessionmaker(engine)) as session:
        device = add_device(session, "l1")
        add_batch(session.connection(), device, expired, [expired])
    with TestClient(create_app(settings)) as client:
        scheduler = client.app.state.jobs.scheduler  # type: ignore[attr-defined]
        assert scheduler.get_job("retention").trigger.interval == timedelta(hours=1)
        assert Collector(client).count("samples") == 0  # deleted before the app served
        if engine.dialect.name == "postgresql":
            today = datetime.now(UTC).date()
            names = partition_names(engine, "samples")
            assert {
                f"samples_p{d:%Y%m%d}" for d in days(today - 30 * DAY, today + 7 * DAY)
            } <= names
    off = settings.model_copy(update={"retention_enabled": False})
    with TestClient(create_app(off)) as client:
        assert client.app.state.jobs.scheduler.get_job("retention") is None  # type: ignore[attr-defined]
    engine.dispose()
