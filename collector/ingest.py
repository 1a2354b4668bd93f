"""Storing one validated batch: exactly once, all or nothing.

The caller authenticates the device and validates the batch; this module decides duplicates,
places samples in event time (see :mod:`timeline`) and writes the batch row, its samples and
the device's last-seen facts in the caller's transaction, so a failure leaves nothing behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Connection,
    Table,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from dexpulse.schema import Batch, IngestResponse

from .db import json_dumps
from .errors import ApiError
from .models import Device, IngestedBatch, SampleRow
from .surveys.store import device_groups, take_responses
from .timeline import Placement, TimePolicy, place

_ENVELOPE_ONLY = {"kind", "ts"}
REVOKED = "this device's token was revoked; enroll again"
CONFLICT = "this batch_id was already used by another device"
SAMPLES = cast(Table, SampleRow.__table__)
BATCHES = cast(Table, IngestedBatch.__table__)
DEVICES = cast(Table, Device.__table__)
_BATCH_LOCK_CLASS = 0x6465_7862  # "dexb": the two-key advisory locks of batch ids
_CLAIM_COLUMNS = (
    "batch_id", "device_id", "seq", "schema_version", "sent_at", "received_at",
    "clock_offset_s", "sample_count", "dropped_count",
)  # fmt: skip
# Statements built once: building and hashing a statement per batch cost more than running it.
_CLAIM = (
    insert(BATCHES)
    .from_select(
        list(_CLAIM_COLUMNS),
        select(*(bindparam(c, type_=BATCHES.c[c].type) for c in _CLAIM_COLUMNS)).where(
            ~exists().where(
                BATCHES.c.batch_id == bindparam("batch_id", type_=BATCHES.c.batch_id.type)
            )
        ),
    )
    .returning(BATCHES.c.batch_id)
)
_OWNER = select(BATCHES.c.device_id).where(BATCHES.c.batch_id == bindparam("batch_id"))
_UNCLAIM = delete(BATCHES).where(BATCHES.c.batch_id == bindparam("b_id"))
_LOCK = text(
    "SELECT pg_advisory_xact_lock(:c, k) FROM (SELECT unnest(CAST(:keys AS integer[])) AS k "
    "ORDER BY k) AS ordered"
)
_RECOUNT = (
    update(BATCHES)
    .where(BATCHES.c.batch_id == bindparam("b_id"))
    .values(sample_count=bindparam("n"))
)
_SAMPLE_COLUMNS = ("device_id", "batch_id", "kind", "ts", "data")
_OPTIONAL_FACTS = ("os_version", "os_build", "model", "manufacturer", "hostname")
_MAYBE_JSON = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
"""None binds as SQL NULL (not JSON null), so COALESCE keeps the stored value."""
_TOUCH = (
    update(DEVICES)
    .where(DEVICES.c.id == bindparam("d_id"), DEVICES.c.revoked_at.is_(None))
    .values(
        last_seen_at=bindparam("seen"),
        last_seq=case(
            (DEVICES.c.last_seq.is_(None) | (DEVICES.c.last_seq < bindparam("seq")),
             bindparam("seq")),
            else_=DEVICES.c.last_seq,
        ),
        agent_version=bindparam("agent_version"),
        tags=func.coalesce(bindparam("new_tags", type_=_MAYBE_JSON), DEVICES.c.tags),
        **{
            name: func.coalesce(bindparam(f"new_{name}", type_=DEVICES.c[name].type),
                                DEVICES.c[name])
            for name in _OPTIONAL_FACTS
        },
    )
)  # fmt: skip


def duplicate_of(session: Session, device_id: uuid.UUID, batch_id: uuid.UUID) -> bool:
    """True if this device already delivered ``batch_id``; 409 if another device did."""
    owner = session.connection().execute(_OWNER, {"batch_id": batch_id}).scalar()
    if owner is None:
        return False
    if owner != device_id:
        raise ApiError(409, "batch_id_conflict", CONFLICT)
    return True


@dataclass
class Pending:
    """A validated batch made ready to write: placed in event time, its samples serialised."""

    device_id: uuid.UUID
    batch: Batch
    received_at: datetime
    placement: Placement
    rows: list[tuple[Any, ...]]
    """(device_id, batch_id, kind, ts, data as JSON text) per sample kept, in batch order,
    with the index of the sample in the batch appended (survey answers may be withheld)."""


def prepare(
    device_id: uuid.UUID, batch: Batch, received_at: datetime, policy: TimePolicy
) -> Pending:
    """Everything about storing ``batch`` that needs no database."""
    placement = place([s.ts for s in batch.samples], batch.sent_at, received_at, policy)
    dumped = batch.model_dump(mode="json", include={"samples"}, exclude_none=True)["samples"]
    rows = [
        (device_id, batch.batch_id, sample["kind"], ts, json_dumps(_fields(sample)), index)
        for index, (sample, ts) in enumerate(zip(dumped, placement.times, strict=True))
        if ts is not None
    ]
    return Pending(device_id, batch, received_at, placement, rows)


def store_batch(
    session: Session,
    device_id: uuid.UUID,
    batch: Batch,
    received_at: datetime,
    policy: TimePolicy,
) -> IngestResponse:
    """Write ``batch`` unless it is a duplicate. Runs inside the caller's transaction."""
    [result] = write(session.connection(), [prepare(device_id, batch, received_at, policy)],
                     session)  # fmt: skip
    if isinstance(result, ApiError):
        raise result
    return result


def write(
    conn: Connection, pending: Sequence[Pending], session: Session | None = None
) -> list[IngestResponse | ApiError]:
    """Write batches in the caller's transaction; each one's answer, in order.

    Core statements, nothing through the unit of work. Per batch: its row is claimed
    (inserted unless its id is stored already: the claim is the duplicate check), then the
    device's last-seen facts are written in one UPDATE of a fixed shape; then the samples of
    all of them go in one bulk write. A batch refused (another device's batch id, a device
    revoked meanwhile) leaves nothing behind and does not stop the others. Several batches
    in one transaction is what lets ingest keep up with a large fleet (see
    :mod:`.api.ingest`); a single one is the same code. ``session`` (on the same
    connection) is needed only for batches that carry survey answers; without one it is
    made."""
    if conn.dialect.name == "postgresql":
        _lock(conn, [p.batch.batch_id for p in pending])
    results: list[IngestResponse | ApiError] = []
    rows: list[tuple[Any, ...]] = []
    for p in pending:
        try:
            results.append(_write_one(conn, p, session, rows))
        except ApiError as refused:
            results.append(refused)
    if rows:
        _write_samples(conn, rows)
    return results


def _write_one(
    conn: Connection, p: Pending, session: Session | None, rows: list[tuple[Any, ...]]
) -> IngestResponse:
    batch, device_id = p.batch, p.device_id
    if not _claim(conn, p, len(p.rows)):
        owner = conn.execute(_OWNER, {"batch_id": batch.batch_id}).scalar()
        if owner != device_id:
            raise ApiError(409, "batch_id_conflict", CONFLICT)
        return IngestResponse(batch_id=batch.batch_id, duplicate=True, accepted=0)
    try:
        _touch_device(conn, device_id, batch, p.received_at)
    except ApiError:
        conn.execute(_UNCLAIM, {"b_id": batch.batch_id})
        raise
    withheld: set[int] = set()
    if any(s.kind == "survey_response" for s in batch.samples):
        session = session or Session(bind=conn)
        withheld = take_responses(
            session, device_id, batch.samples, _groups(session, device_id, batch)
        )
    kept = [row[:5] for row in p.rows if row[5] not in withheld]
    if len(kept) != len(p.rows):  # answers kept apart from the device's samples
        conn.execute(_RECOUNT, {"b_id": batch.batch_id, "n": len(kept)})
    rows.extend(kept)
    return IngestResponse(
        batch_id=batch.batch_id,
        duplicate=False,
        accepted=len(p.rows),
        dropped=p.placement.dropped,
        clock_offset_s=p.placement.offset_s,
    )


def _lock(conn: Connection, batch_ids: Sequence[uuid.UUID]) -> None:
    """Transaction-level advisory locks on the batch ids, in one statement and in a fixed
    order (two transactions never wait on each other crosswise).

    Exactly once under concurrency: two deliveries of one batch (an agent retrying while
    its first attempt is still being stored) are serialised, and the later one's claim sees
    the first one's row once that commits. The primary key cannot be the guard on
    PostgreSQL: partitioned by arrival time, the table only knows (batch_id, received_at)
    as unique. On SQLite the first claim is the transaction's first write, which takes the
    database's write lock and so serialises deliveries by itself."""
    keys = sorted({(b.int & 0xFFFF_FFFF) - (1 << 31) for b in batch_ids})
    conn.execute(_LOCK, {"c": _BATCH_LOCK_CLASS, "keys": keys})


def _fields(sample: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sample.items() if k not in _ENVELOPE_ONLY}


def _claim(conn: Connection, p: Pending, sample_count: int) -> bool:
    """Insert the batch's row unless its id is stored already; whether it was inserted."""
    batch = p.batch
    claimed = conn.execute(
        _CLAIM,
        {
            "batch_id": batch.batch_id, "device_id": p.device_id, "seq": batch.seq,
            "schema_version": batch.schema_version, "sent_at": batch.sent_at,
            "received_at": p.received_at, "clock_offset_s": p.placement.offset_s,
            "sample_count": sample_count,
            "dropped_count": sum(p.placement.dropped.values()),
        },
    )  # fmt: skip
    return claimed.first() is not None  # rowcount is not reliable for INSERT ... SELECT


def _write_samples(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """One bulk write of (device_id, batch_id, kind, ts, data as JSON text) rows: COPY on
    PostgreSQL, one executemany of a prepared INSERT on SQLite."""
    columns = ", ".join(_SAMPLE_COLUMNS)
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection  # psycopg's, in the session's transaction
        assert raw is not None
        sql = f"COPY samples ({columns}) FROM STDIN"
        dbapi_error = conn.dialect.loaded_dbapi.Error
        try:
            with raw.cursor() as cursor, cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        except dbapi_error as exc:  # as SQLAlchemy raises them: 503 for a lost database...
            raise DBAPIError.instance(sql, None, exc, dbapi_error) from exc
        return
    # as SQLAlchemy's column types bind them on SQLite (ids as 32 hex digits, times as naive
    # UTC text with microseconds: a test holds the two equal), formatted here directly, which
    # costs a tenth of calling the types' processors for every value
    ids: dict[uuid.UUID, str] = {}
    conn.exec_driver_sql(
        f"INSERT INTO samples ({columns}) VALUES (?, ?, ?, ?, ?)",
        [
            (
                ids.get(d) or ids.setdefault(d, d.hex), ids.get(b) or ids.setdefault(b, b.hex),
                kind, ts.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds"),
                data,
            )
            for d, b, kind, ts, data in rows
        ],
    )  # fmt: skip


def _groups(session: Session, device_id: uuid.UUID, batch: Batch) -> dict[str, Any]:
    """The groups a survey answer in this batch is counted in: the batch's facts, else the
    device's stored ones (read only when the batch carries an answer)."""
    if not any(s.kind == "survey_response" for s in batch.samples):
        return {}
    device = session.get(Device, device_id)
    tags = dict(batch.tags) if batch.tags is not None else dict(device.tags if device else {})
    model = batch.agent.model or (device.model if device else None)
    return device_groups(tags, model, batch.agent.os)


def _touch_device(
    conn: Connection, device_id: uuid.UUID, batch: Batch, received_at: datetime
) -> None:
    """Record the device's last contact and current facts in one UPDATE (no read first); a
    fact the batch does not carry keeps its stored value. A device revoked since the caller
    authenticated it is refused here, in the batch's transaction, so nothing of it stays."""
    agent = batch.agent
    updated = conn.execute(
        _TOUCH,
        {
            "d_id": device_id, "seen": received_at, "seq": batch.seq,
            "agent_version": agent.version,
            "new_tags": dict(batch.tags) if batch.tags is not None else None,
            **{f"new_{name}": getattr(agent, name) for name in _OPTIONAL_FACTS},
        },
    )  # fmt: skip
    if updated.rowcount != 1:
        revoked = conn.execute(select(DEVICES.c.revoked_at).where(DEVICES.c.id == device_id))
        if revoked.first() is not None:
            raise ApiError(401, "token_revoked", REVOKED)
        raise ApiError(401, "unknown_device", "the device no longer exists; enroll again")
