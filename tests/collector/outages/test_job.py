"""The detection job's IO: the cursor over sample ids (holes included), the lease that keeps
it on one replica, the advisory lock, and a failover in the middle of an outage that ends
with the outages a single job finds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from outage_support import T0, ingest
from recorded import START, record
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from support import add_device, migrated

from dexpulse.collector.db import transaction
from dexpulse.collector.models import DetectionState, OutageEvent, SampleRow
from dexpulse.collector.outages.job import LEASE, LOCK_KEY, DetectionJob, RunResult
from dexpulse.collector.outages.reader import GAP_TIMEOUT, ArrivedBatch, Cursor, read_new
from dexpulse.collector.outages.replay import outages_json, replay
from dexpulse.collector.timeline import TimePolicy

S = timedelta(seconds=1)
MIN = timedelta(minutes=1)


# -- the cursor, pure ---------------------------------------------------------------------------


def seen(cursor: Cursor, ids: set[int], now: datetime) -> Cursor:
    """What :func:`read_new` does with the ids it read."""
    cursor.above.update(ids)
    cursor.advance(now)
    return cursor


def test_contiguous_ids_move_the_cursor() -> None:
    """Ids read without a hole below them move the cursor over them and leave nothing above."""
    cursor = seen(Cursor(), {1, 2, 3}, T0)
    assert (cursor.at, cursor.above, cursor.gap_since) == (3, set(), None)
    seen(cursor, {4, 5}, T0 + S)
    assert (cursor.at, cursor.above) == (5, set())


def test_a_hole_holds_the_cursor_until_it_fills() -> None:
    """An id missing below ids already read (a transaction still open) holds the cursor; the
    ids above are remembered; when the missing one arrives the cursor moves over all of them."""
    cursor = seen(Cursor(at=10), {11, 13, 14}, T0)
    assert (cursor.at, cursor.above, cursor.gap_since) == (11, {13, 14}, T0)
    seen(cursor, set(), T0 + GAP_TIMEOUT - S)
    assert cursor.at == 11
    seen(cursor, {12}, T0 + GAP_TIMEOUT - S)
    assert (cursor.at, cursor.above, cursor.gap_since) == (14, set(), None)


def test_a_hole_older_than_the_gap_timeout_is_stepped_over() -> None:
    """A hole nobody fills within GAP_TIMEOUT (a rolled-back transaction's ids) is given up."""
    cursor = seen(Cursor(at=10), {13}, T0)
    seen(cursor, set(), T0 + GAP_TIMEOUT - S)
    assert cursor.at == 10
    seen(cursor, set(), T0 + GAP_TIMEOUT)
    assert (cursor.at, cursor.above, cursor.gap_since) == (13, set(), None)


def test_the_gap_timeout_counts_from_when_each_hole_was_seen() -> None:
    """When one hole fills and the cursor moves up to the next, that next hole gets its own
    GAP_TIMEOUT: it is not stepped over on the clock of the hole before it."""
    cursor = seen(Cursor(), {2}, T0)  # 1 missing since T0
    seen(cursor, {1, 5}, T0 + 90 * S)  # 1 arrives: at 2; 3-4 missing, first seen now
    assert (cursor.at, cursor.above) == (2, {5})
    seen(cursor, set(), T0 + 125 * S)  # GAP_TIMEOUT after the first hole, 35 s after this one
    assert cursor.at == 2
    seen(cursor, set(), T0 + 90 * S + GAP_TIMEOUT)
    assert (cursor.at, cursor.above) == (5, set())


# -- read_new on both databases ---------------------------------------------------------------


def _samples(batches: list[ArrivedBatch]) -> list[tuple[str, int]]:
    return [(b.device_id, s["rssi_dbm"]) for b in batches for s in b.batch["samples"]]


def _rows(session: Session, device: Any, at: datetime, ids: list[int]) -> None:
    """A stored batch whose samples have the given ids (to make holes on purpose)."""
    batch = ingest(session, device, at, samples=len(ids))
    rows = session.scalars(
        select(SampleRow).where(SampleRow.batch_id == batch.batch_id).order_by(SampleRow.id)
    ).all()
    for row, wanted in zip(rows, ids, strict=True):
        row.id = wanted
    session.flush()


def test_read_new_returns_each_row_once_and_waits_for_holes(db_url: str) -> None:
    """Rows above a hole are returned at once and never again; the row that fills the hole is
    returned when it appears, with what is new and without what was read before; a hole given
    up on is not read later."""
    with migrated(db_url) as sessions:
        with transaction(sessions) as session:
            device = add_device(session, "laptop-1")
            _rows(session, device, T0, [101, 102, 104])
        cursor = Cursor(at=100)
        with sessions() as session:
            first = read_new(session, cursor, T0 + S)
            again = read_new(session, cursor, T0 + 2 * S)
        assert _samples(first) == [(str(device), -60), (str(device), -61), (str(device), -62)]
        assert again == [] and (cursor.at, cursor.above) == (102, {104})
        with transaction(sessions) as session:
            _rows(session, device, T0 + 3 * S, [103])
            _rows(session, device, T0 + 4 * S, [106])
        with sessions() as session:
            filled = read_new(session, cursor, T0 + 5 * S)
        assert _samples(filled) == [(str(device), -60), (str(device), -60)]
        assert (cursor.at, cursor.above) == (104, {106})
        with sessions() as session:
            assert read_new(session, cursor, T0 + 5 * S + GAP_TIMEOUT) == []
        assert (cursor.at, cursor.above) == (106, set())
        with transaction(sessions) as session:
            _rows(session, device, T0 + 6 * S, [105])  # too late: its hole was given up
        with sessions() as session:
            assert read_new(session, cursor, T0 + 7 * S + GAP_TIMEOUT) == []


@pytest.mark.postgres
def test_a_transaction_committing_late_is_not_lost(pg_url: str) -> None:
    """PostgreSQL hands out sample ids at insert and transactions commit in any order: a batch
    whose transaction is still open when a later one (higher ids) commits is read once it
    commits, not skipped because the cursor went past its ids."""
    with migrated(pg_url) as sessions:
        with transaction(sessions) as session:
            slow, fast = add_device(session, "slow"), add_device(session, "fast")
        cursor = Cursor()
        with sessions() as open_tx, open_tx.begin():
            ingest(open_tx, slow, T0, samples=3)  # ids allocated, not committed
            with transaction(sessions) as session:
                ingest(session, fast, T0 + S, samples=2)
            with sessions() as session:
                assert [b.device_id for b in read_new(session, cursor, T0 + 2 * S)] == [str(fast)]
                ids = session.scalars(select(SampleRow.id).order_by(SampleRow.id)).all()
            assert cursor.at == 0 and cursor.above == set(ids)  # the open ids are below them
        with sessions() as session:
            late = read_new(session, cursor, T0 + 3 * S)
            everything = session.scalar(select(func.max(SampleRow.id)))
        assert [(b.device_id, len(b.batch["samples"])) for b in late] == [(str(slow), 3)]
        assert (cursor.at, cursor.above) == (everything, set())


# -- one replica at a time ----------------------------------------------------------------------


def _state(sessions: sessionmaker[Session]) -> tuple[int, str | None]:
    with sessions() as session:
        row = session.get(DetectionState, 1)
        assert row is not None
        return row.version, row.holder


def test_the_lease_keeps_a_second_replica_out_until_it_lapses(db_url: str) -> None:
    """Two jobs on one database: while the first one's lease is valid the second does not
    run; once it lapses the second takes over (resumed, reading only what the first had not
    read) and keeps the job, and now the first is kept out."""
    with migrated(db_url) as sessions:
        a = DetectionJob(sessions, holder="a")
        b = DetectionJob(sessions, holder="b")
        with transaction(sessions) as session:
            device = add_device(session, "laptop-1")
            ingest(session, device, T0 + 10 * S)
        first = a.run(T0 + MIN)
        assert first is not None and first.batches == 1
        with transaction(sessions) as session:
            ingest(session, device, T0 + 70 * S)
        assert b.run(T0 + 2 * MIN) is None
        assert b.run(T0 + MIN + LEASE - S) is None
        assert _state(sessions) == (1, "a")
        took = b.run(T0 + MIN + LEASE)
        assert took is not None and took.resumed and took.batches == 1
        assert a.run(T0 + MIN + LEASE + MIN) is None
        with transaction(sessions) as session:
            ingest(session, device, T0 + 5 * MIN)
        carried = b.run(T0 + 5 * MIN + 5 * S)
        assert carried is not None and not carried.resumed and carried.batches == 1
        assert _state(sessions) == (3, "b")


def test_a_replica_kept_out_by_the_lease_leaves_the_slot_to_the_holder(db_url: str) -> None:
    """The scheduled slot is claimed only by a replica that will run it: the one kept out by
    the holder's lease, firing first, must not take the minute from the holder."""
    with migrated(db_url) as sessions:
        a = DetectionJob(sessions, holder="a")
        b = DetectionJob(sessions, holder="b")
        assert a.run(T0 + MIN, slot=T0 + MIN) is not None
        assert b.run(T0 + 2 * MIN, slot=T0 + 2 * MIN) is None  # a's lease: not b's to run
        assert a.run(T0 + 2 * MIN + S, slot=T0 + 2 * MIN) is not None
        assert a.run(T0 + 2 * MIN + 2 * S, slot=T0 + 2 * MIN) is None  # run once


def test_a_replica_kept_out_by_the_lease_does_not_take_the_job_lock(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replicas fire in the same second: had the kept-out one taken the advisory lock only to
    find the lease, the holder trying it that instant would skip, and the minute go unrun."""
    import dexpulse.collector.outages.job as job_module

    taken: list[int] = []
    real = job_module.try_job_lock

    def counted(session: Session, key: int) -> bool:
        taken.append(key)
        return real(session, key)

    monkeypatch.setattr(job_module, "try_job_lock", counted)
    with migrated(db_url) as sessions:
        a = DetectionJob(sessions, holder="a")
        b = DetectionJob(sessions, holder="b")
        assert a.run(T0 + MIN, slot=T0 + MIN) is not None and len(taken) == 1
        assert b.run(T0 + 2 * MIN, slot=T0 + 2 * MIN) is None
        assert len(taken) == 1  # b looked at the lease without the lock
        assert b.run(T0 + MIN + LEASE + S, slot=T0 + MIN + LEASE) is not None  # lapsed
        assert len(taken) == 2


@pytest.mark.postgres
def test_the_advisory_lock_keeps_a_replica_out(pg_url: str) -> None:
    """On PostgreSQL a run first takes the advisory transaction lock: while another connection
    holds it, the run does nothing at all, and once it is released the run goes ahead."""
    with migrated(pg_url) as sessions:
        job = DetectionJob(sessions, holder="a")
        other = create_engine(pg_url)
        try:
            with other.connect() as conn:
                conn.execute(select(func.pg_advisory_xact_lock(LOCK_KEY)))
                assert job.run(T0) is None
                with sessions() as session:
                    assert session.get(DetectionState, 1) is None
                conn.rollback()
        finally:
            other.dispose()
        assert job.run(T0) is not None
        assert _state(sessions) == (1, "a")


# -- failover over a recorded fleet -------------------------------------------------------------


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("recorded") / "batches.jsonl"
    record(path)
    return path


class Failover:
    """Job "a" until ``dies_at``; from then on job "b" (another holder, nothing in memory),
    which the lease keeps out until it lapses. Duck-types the job for :func:`replay`."""

    def __init__(self, sessions: sessionmaker[Session], dies_at: datetime) -> None:
        self.sessions = sessions
        self.a = DetectionJob(sessions, holder="a", snapshot_every=10)
        self.b = DetectionJob(sessions, holder="b", snapshot_every=10)
        self.dies_at = dies_at
        self.refused: list[datetime] = []
        self.takeover: RunResult | None = None
        self.taken_over: list[tuple[str, str]] = []
        """(id, status) of the outages b's first run changed, as they were then."""
        self.state_at_takeover: tuple[int, int | None] = (0, None)

    def run(self, now: datetime) -> RunResult | None:
        if now < self.dies_at:
            return self.a.run(now)
        if self.takeover is None:
            with self.sessions() as session:
                row = session.get(DetectionState, 1)
                assert row is not None
                self.state_at_takeover = (row.version, row.snapshot_version)
        result = self.b.run(now)
        if result is None:
            self.refused.append(now)
        elif self.takeover is None:
            self.takeover = result
            self.taken_over = [(o.id, o.status) for o in result.changed]
        return result

    def snapshot(self) -> None:
        (self.a if self.takeover is None else self.b).snapshot()


Replayed = tuple[list[dict[str, object]], list[tuple[str, str, datetime]]]


def _replay(path: Path, db: Path, make_job: Callable[[sessionmaker[Session]], Any]) -> Replayed:
    """Replay the recording, the job run every minute; the outages and all their events."""
    with migrated(f"sqlite:///{db}") as sessions:
        job = make_job(sessions)
        result = replay(path, sessions, job, TimePolicy(), MIN)
        assert not result.rejected
        with sessions() as session:
            events = session.execute(
                select(OutageEvent.outage_id, OutageEvent.event, OutageEvent.minute).order_by(
                    OutageEvent.id
                )
            ).all()
        return outages_json(sessions, result.outage_ids), [tuple(e) for e in events]


def test_a_failover_mid_outage_finds_what_one_job_finds(recording: Path, tmp_path: Path) -> None:
    """Replica "a" dies in the middle of the access point's outage, nine runs after its last
    snapshot; "b" is kept out for the rest of the lease, then resumes from that snapshot,
    catches up, and carries on until the outage resolves. The stored outages and their events
    are exactly those of one job that never stopped: nothing lost, nothing announced twice."""
    single = _replay(recording, tmp_path / "single.db", lambda s: DetectionJob(s, holder="one"))
    assert single[0] and single[1]
    dies_at = START + timedelta(minutes=90)  # detected at 10:23, resolved at 10:42
    jobs: list[Failover] = []

    def failover(sessions: sessionmaker[Session]) -> Failover:
        jobs.append(Failover(sessions, dies_at))
        return jobs[0]

    assert _replay(recording, tmp_path / "failover.db", failover) == single
    [job] = jobs
    assert job.refused == [dies_at, dies_at + MIN]  # a's last run was at dies_at - 1 min
    assert job.takeover is not None and job.takeover.resumed and job.takeover.batches > 0
    version, snapshot_version = job.state_at_takeover
    assert snapshot_version is not None and version - snapshot_version == 9  # runs b catches up on
    assert any(status != "resolved" for _, status in job.taken_over)  # b took over a live one
