"""Group commit: many requests' batches in one transaction, each answered on its own merits,
and a batch the database rejects failing nobody else; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from support import Collector, make_batch, now

from dexpulse.collector.db import make_sessionmaker, transaction
from dexpulse.collector.errors import ApiError
from dexpulse.collector.ingest import Pending, prepare, write
from dexpulse.collector.models import Device, IngestedBatch, SampleRow
from dexpulse.collector.timeline import TimePolicy
from dexpulse.collector.writer import Answer, BatchWriter
from dexpulse.schema import Batch, IngestResponse


def pending(device: str, **envelope: object) -> Pending:
    batch = Batch.model_validate(make_batch(device, **envelope))
    return prepare(uuid.UUID(device), batch, now(), TimePolicy())


def stored(collector: Collector) -> tuple[int, int]:
    with collector.sessions() as session:
        batches = session.scalar(select(func.count()).select_from(IngestedBatch))
        samples = session.scalar(select(func.count()).select_from(SampleRow))
    return int(batches or 0), int(samples or 0)


class Gated(BatchWriter):
    """Starts writing only once opened, so a test decides what has queued up by then; and
    records the size of every transaction it tries."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        super().__init__(sessions)
        self.gate = threading.Event()
        self.sizes: list[int] = []

    def _run(self) -> None:
        self.gate.wait(timeout=30)
        super()._run()

    def _write(self, group: list[tuple[Pending, Answer]]) -> None:
        self.sizes.append(len(group))
        super()._write(group)


def test_one_transaction_answers_each_batch_on_its_own_merits(collector: Collector) -> None:
    a, b, gone = collector.enroll("a"), collector.enroll("b"), collector.enroll("gone")
    taken = pending(a.device_id)
    writer = BatchWriter(collector.sessions)
    assert isinstance(writer.submit(taken).result(timeout=30), IngestResponse)
    with transaction(collector.sessions) as session:
        device = session.get(Device, uuid.UUID(gone.device_id))
        assert device is not None
        device.revoked_at = now()
    twice, fresh = pending(b.device_id), pending(a.device_id)
    group = [
        fresh,
        pending(b.device_id, batch_id=str(taken.batch.batch_id)),  # a's batch id
        twice,
        twice,  # delivered twice, both in this group
        pending(gone.device_id),  # revoked meanwhile
        pending(b.device_id, seq=9),
        pending(b.device_id, batch_id=str(fresh.batch.batch_id)),  # a's, earlier in the group
    ]
    with transaction(collector.sessions) as session:
        results = write(session.connection(), group, session)
    outcome = [
        r.error if isinstance(r, ApiError) else ("duplicate" if r.duplicate else "stored")
        for r in results
    ]
    assert outcome == [
        "stored", "batch_id_conflict", "stored", "duplicate", "token_revoked", "stored",
        "batch_id_conflict",
    ]  # fmt: skip
    assert stored(collector) == (4, 4)  # the first batch and three of the group
    with collector.sessions() as session:
        b_row = session.get(Device, uuid.UUID(b.device_id))
        assert b_row is not None and b_row.last_seq == 9
    writer.close()


def test_requests_that_arrive_together_share_a_transaction(collector: Collector) -> None:
    device = collector.enroll()
    writer = Gated(collector.sessions)
    futures = [writer.submit(pending(device.device_id, seq=i)) for i in range(60)]
    writer.gate.set()
    answers = [f.result(timeout=60) for f in futures]
    writer.close()
    assert all(isinstance(a, IngestResponse) and not a.duplicate for a in answers)
    assert writer.sizes == [60] and writer.groups == 1
    assert stored(collector) == (60, 60)
    with collector.sessions() as session:
        row = session.get(Device, uuid.UUID(device.device_id))
        assert row is not None and row.last_seq == 59


def test_a_batch_the_database_rejects_fails_only_itself(collector: Collector) -> None:
    good, other = collector.enroll("good"), collector.enroll("other")
    poison = pending(good.device_id)
    stranger = uuid.uuid4()  # no such device: its sample row breaks a foreign key
    poison.rows = [(stranger, *row[1:]) for row in poison.rows]
    writer = Gated(collector.sessions)
    futures = [
        writer.submit(p) for p in (pending(good.device_id), poison, pending(other.device_id))
    ]
    writer.gate.set()
    failed = futures[1].exception(timeout=30)
    writer.close()
    assert isinstance(failed, IntegrityError)
    assert all(isinstance(futures[i].result(), IngestResponse) for i in (0, 2))
    assert writer.sizes == [3, 1, 1, 1]  # the group, then each alone
    assert stored(collector) == (2, 2)


def test_an_unreachable_database_fails_the_group_at_once(
    collector: Collector, tmp_path: Path
) -> None:
    device = collector.enroll()
    nowhere = create_engine(f"sqlite:///{tmp_path / 'missing' / 'collector.db'}")
    writer = Gated(make_sessionmaker(nowhere))
    futures = [writer.submit(pending(device.device_id, seq=i)) for i in range(3)]
    writer.gate.set()
    failures = [f.exception(timeout=30) for f in futures]
    writer.close()
    assert all(isinstance(e, OperationalError) for e in failures)
    assert writer.sizes == [3]  # no batch-by-batch retries against a database that is gone


def test_closing_writes_what_is_queued(collector: Collector) -> None:
    device = collector.enroll()
    writer = BatchWriter(collector.sessions)
    futures = [writer.submit(pending(device.device_id, seq=i)) for i in range(20)]
    writer.close()
    assert all(f.done() and isinstance(f.result(), IngestResponse) for f in futures)
    assert stored(collector) == (20, 20)
