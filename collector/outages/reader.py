"""The sample rows written since the detection job last looked, as batches, in arrival order.

Why a cursor with gaps: sample ids come from a sequence, but on PostgreSQL two ingest
transactions can commit out of id order, so "every id above the last one read" would skip a
row whose transaction was still open. The reader therefore remembers the ids it has read
above its cursor; the cursor only moves over contiguous ids, and a hole left open for longer
than :data:`GAP_TIMEOUT` (a transaction that rolled back, whose ids are never used) is
stepped over. On SQLite writers are serialised and ids never leave holes.

A batch's samples are grouped back into the wire format the featurizer reads, with the
device's facts (model, OS build, tags) as the devices table has them now: what a live run
would also see.

The samples are read without their batch; each batch's arrival time is then looked up by its
id, a chunk of ids per query. On PostgreSQL ``batches`` is partitioned by ``received_at``,
where a join would probe every daily partition for each sample row; the lookup looks among
the recent partitions first (a live run finds all its batches there) and only looks in all of
them for ids it did not find. A sample whose batch is gone (retention keeps batches longer
than samples, so only after a change of settings) is skipped, as the join skipped it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Select, select
from sqlalchemy.orm import Session

from ..db import chunks
from ..models import Device, IngestedBatch, SampleRow

_Row = tuple[int, uuid.UUID, uuid.UUID, str, datetime, dict[str, Any], datetime]
GAP_TIMEOUT = timedelta(minutes=2)
PAGE = 50_000
BATCH_CHUNK = 500
"""Batch ids per arrival lookup (``batch_id IN (...)``): with 1,000, PostgreSQL 15 chose seq
scans of every daily partition (0.5 s against 7 M batches); with 500 it probes their keys."""
RECENT = timedelta(hours=6)
"""Arrivals are looked for among the batches received this recently first."""


@dataclass
class Cursor:
    at: int = 0
    """Every sample id up to this one has been read (or given up on)."""
    above: set[int] = field(default_factory=set)
    """Ids above ``at`` already read."""
    gap_since: datetime | None = None
    """When the hole just above ``at`` was first seen."""

    def advance(self, now: datetime) -> None:
        while True:
            moved = self.at + 1 in self.above
            while self.at + 1 in self.above:
                self.at += 1
                self.above.discard(self.at)
            if moved:
                # the hole now just above ``at`` is another one: its timeout starts now, not
                # when the filled hole below it was first seen (that would step over ids of
                # a transaction still open, and lose its rows)
                self.gap_since = None
            if not self.above:
                self.gap_since = None
                return
            if self.gap_since is None:
                self.gap_since = now
                return
            if now - self.gap_since < GAP_TIMEOUT:
                return
            self.at = min(self.above) - 1  # the hole was a rolled-back transaction
            self.gap_since = None


@dataclass
class ArrivedBatch:
    device_id: str
    received_at: datetime
    batch: dict[str, Any]
    """Wire format: device_id, agent (model, os_build), tags, samples (kind, ts, fields)."""


def read_new(session: Session, cursor: Cursor, now: datetime) -> list[ArrivedBatch]:
    """The batches whose samples were written since ``cursor``; moves it."""
    query = select(SampleRow.id, SampleRow.device_id, SampleRow.batch_id, SampleRow.kind,
                   SampleRow.ts, SampleRow.data)  # fmt: skip
    found = new_rows(session, cursor, now, query)
    arrived = arrivals(session, {r.batch_id for r in found}, recent=now - RECENT)
    rows = [cast(_Row, (*r, arrived[r.batch_id])) for r in found if r.batch_id in arrived]
    return list(_batches(session, rows))


def arrivals(
    session: Session, batch_ids: Collection[uuid.UUID], recent: datetime | None = None
) -> dict[uuid.UUID, datetime]:
    """batch_id -> received_at of the stored batches among ``batch_ids``: one query per
    chunk of ids, by the primary key's leading column. Given ``recent``, the batches received
    since then are looked for first (on PostgreSQL: only the newest daily partitions), and the
    rest among all of them."""
    found: dict[uuid.UUID, datetime] = {}
    for since in (recent, None) if recent is not None else (None,):
        missing = sorted(b for b in batch_ids if b not in found)
        for chunk in chunks(missing, BATCH_CHUNK):
            query = select(IngestedBatch.batch_id, IngestedBatch.received_at).where(
                IngestedBatch.batch_id.in_(chunk)
            )
            if since is not None:
                query = query.where(IngestedBatch.received_at >= since)
            found.update((b, at) for b, at in session.execute(query))
    return found


def last_arrived_before(session: Session, before: datetime) -> int:
    """The highest sample id whose batch arrived before ``before``, 0 if none: sample ids
    downward, a page at a time, until one's batch arrived before then (what the maximum over
    a join of samples with batches ``WHERE received_at < before`` gives, without the join)."""
    earlier = select(IngestedBatch.batch_id).where(IngestedBatch.received_at < before).limit(1)
    if session.execute(earlier).first() is None:
        return 0
    below: int | None = None
    while True:
        query = select(SampleRow.id, SampleRow.batch_id).order_by(SampleRow.id.desc()).limit(PAGE)
        if below is not None:
            query = query.where(SampleRow.id < below)
        page = session.execute(query).all()
        if not page:
            return 0
        arrived = arrivals(session, {batch_id for _, batch_id in page})
        for sample_id, batch_id in page:
            at = arrived.get(batch_id)
            if at is not None and at < before:
                return int(sample_id)
        below = page[-1][0]


def new_rows(
    session: Session,
    cursor: Cursor,
    now: datetime,
    query: Select[Any],
    most: int | None = None,
) -> list[Row[Any]]:
    """The rows of ``query`` (whose first column is ``SampleRow.id``) for sample ids not read
    yet, in id order, page by page; at most about ``most`` of them (whole pages). Moves
    ``cursor`` over what was read."""
    rows: list[Row[Any]] = []
    last = cursor.at
    while most is None or len(rows) < most:
        page = session.execute(
            query.where(SampleRow.id > last).order_by(SampleRow.id).limit(PAGE)
        ).all()
        rows += [r for r in page if r[0] not in cursor.above]
        if len(page) < PAGE:
            break
        last = page[-1][0]
    cursor.above.update(r[0] for r in rows)
    cursor.advance(now)
    return rows


def _batches(
    session: Session,
    rows: list[_Row],
) -> Iterator[ArrivedBatch]:
    devices = {r[1] for r in rows}
    facts: dict[uuid.UUID, tuple[str | None, str | None, dict[str, Any]]] = {}
    for chunk in chunks(sorted(devices), 500):
        for d in session.execute(
            select(Device.id, Device.model, Device.os_build, Device.tags).where(
                Device.id.in_(chunk)
            )
        ):
            facts[d.id] = (d.model, d.os_build, d.tags or {})
    grouped: dict[uuid.UUID, ArrivedBatch] = {}
    for _id, device, batch_id, kind, ts, data, received_at in rows:
        found = grouped.get(batch_id)
        if found is None:
            model, os_build, tags = facts.get(device, (None, None, {}))
            found = grouped[batch_id] = ArrivedBatch(
                str(device),
                received_at,
                {
                    "device_id": str(device),
                    "agent": {"model": model, "os_build": os_build},
                    "tags": tags,
                    "samples": [],
                },
            )
        found.batch["samples"].append({**data, "kind": kind, "ts": ts})
    yield from grouped.values()
