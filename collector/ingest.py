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
_OWNERS = select(BATCHES.c.batch_id, BATCHES.c.device_id).where(
    BATCHES.c.batch_id.in_(bindparam("ids", expanding=True))
)
_UNCLAIM = delete(BATCHES).where(BATCHES.c.batch_id.in_(bindparam("ids", expanding=True)))
_EXISTING = select(DEVICES.c.id).where(DEVICES.c.id.in_(bindparam("ids", expanding=True)))
# PostgreSQL: a whole group's claims, and its devices' updates, one statement each (arrays
# bound once), so the server plans and the client waits once per group, not per batch
_CLAIM_ALL = text(
    "INSERT INTO batches (batch_id, device_id, seq, schema_version, sent_at, received_at, "
    "clock_offset_s, sample_count, dropped_count) "
    "SELECT v.* FROM unnest(CAST(:batch_id AS uuid[]), CAST(:device_id AS uuid[]), "
    "CAST(:seq AS bigint[]), CAST(:schema_version AS integer[]), "
    "CAST(:sent_at AS timestamptz[]), CAST(:received_at AS timestamptz[]), "
    "CAST(:clock_offset_s AS double precision[]), CAST(:sample_count AS integer[]), "
    "CAST(:dropped_count AS integer[])) AS v(batch_id, device_id, seq, schema_version, "
    "sent_at, received_at, clock_offset_s, sample_count, dropped_count) "
    "WHERE NOT EXISTS (SELECT 1 FROM batches AS b WHERE b.batch_id = v.batch_id) "
    "RETURNING batch_id"
)
_TOUCH_ALL = text(
    "UPDATE devices AS d SET last_seen_at = v.seen, "
    "last_seq = CASE WHEN d.last_seq IS NULL OR d.last_seq < v.seq THEN v.seq "
    "ELSE d.last_seq END, "
    "agent_version = v.agent_version, tags = COALESCE(v.tags, d.tags), "
    "os_version = COALESCE(v.os_version, d.os_version), "
    "os_build = COALESCE(v.os_build, d.os_build), model = COALESCE(v.model, d.model), "
    "manufacturer = COALESCE(v.manufacturer, d.manufacturer), "
    "hostname = COALESCE(v.hostname, d.hostname) "
    "FROM unnest(CAST(:id AS uuid[]), CAST(:seen AS timestamptz[]), CAST(:seq AS bigint[]), "
    "CAST(:agent_version AS text[]), CAST(:tags AS jsonb[]), CAST(:os_version AS text[]), "
    "CAST(:os_build AS text[]), CAST(:model AS text[]), CAST(:manufacturer AS text[]), "
    "CAST(:hostname AS text[])) AS v(id, seen, seq, agent_version, tags, os_version, "
    "os_build, model, manufacturer, hostname) "
    "WHERE d.id = v.id AND d.revoked_at IS NULL RETURNING d.id"
)
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

    Core statements, nothing through the unit of work. The batches' rows are claimed
    (inserted unless their id is stored already: the claim is the duplicate check), their
    devices' last-seen facts written (an UPDATE of a fixed shape, no read first), then all
    their samples go in one bulk write; on PostgreSQL the claims and the updates are one
    statement each for the whole group. A batch refused (another device's batch id, a
    device revoked meanwhile) leaves nothing behind and does not stop the others. Several
    batches in one transaction is what lets ingest keep up with a large fleet (see
    :mod:`.writer`); a single one is the same code. ``session`` (on the same connection) is
    needed only for batches that carry survey answers; without one it is made."""
    pg = conn.dialect.name == "postgresql"
    if pg:
        _lock(conn, [p.batch.batch_id for p in pending])
    # a batch delivered twice within the group: its first delivery speaks for it
    first: dict[uuid.UUID, Pending] = {}
    for p in pending:
        first.setdefault(p.batch.batch_id, p)
    claimed = (_claim_all if pg else _claim_each)(conn, list(first.values()))
    # whose each batch id is: the claimer's, else the device that stored it before
    owner: dict[uuid.UUID, uuid.UUID | None] = {b: first[b].device_id for b in claimed}
    unclaimed = [b for b in first if b not in claimed]
    if unclaimed:
        owner.update(conn.execute(_OWNERS, {"ids": unclaimed}).all())
    refused: dict[uuid.UUID, ApiError] = {}
    mine = [p for b, p in first.items() if b in claimed]
    touched = (_touch_all if pg else _touch_each)(conn, mine)
    gone = [p for p in mine if p.device_id not in touched]
    if gone:  # revoked (or deleted) since the token was checked: nothing of theirs stays
        conn.execute(_UNCLAIM, {"ids": [p.batch.batch_id for p in gone]})
        revoked = set(conn.execute(_EXISTING, {"ids": list({p.device_id for p in gone})}).scalars())
        for p in gone:
            claimed.discard(p.batch.batch_id)
            owner[p.batch.batch_id] = None
            refused[p.batch.batch_id] = (
                ApiError(401, "token_revoked", REVOKED)
                if p.device_id in revoked
                else ApiError(401, "unknown_device", "the device no longer exists; enroll again")
            )
    rows: list[tuple[Any, ...]] = []
    stored: dict[uuid.UUID, IngestResponse] = {}
    for batch_id, p in first.items():
        if batch_id not in claimed:
            continue
        rows.extend(_kept_rows(conn, p, session))
        stored[batch_id] = IngestResponse(
            batch_id=batch_id, duplicate=False, accepted=len(p.rows),
            dropped=p.placement.dropped, clock_offset_s=p.placement.offset_s,
        )  # fmt: skip
    if rows:
        _write_samples(conn, rows)
    results: list[IngestResponse | ApiError] = []
    for p in pending:
        batch_id = p.batch.batch_id
        if owner.get(batch_id) not in (None, p.device_id):
            results.append(ApiError(409, "batch_id_conflict", CONFLICT))
        elif batch_id in refused:
            results.append(refused[batch_id])
        elif batch_id in stored:
            results.append(stored.pop(batch_id))  # the first delivery; the next: duplicate
        else:
            results.append(IngestResponse(batch_id=batch_id, duplicate=True, accepted=0))
    return results


def _kept_rows(conn: Connection, p: Pending, session: Session | None) -> list[tuple[Any, ...]]:
    """The batch's sample rows, less the survey answers that must not be kept with the
    device (recorded apart by ``take_responses``)."""
    batch, device_id = p.batch, p.device_id
    withheld: set[int] = set()
    if any(s.kind == "survey_response" for s in batch.samples):
        session = session or Session(bind=conn)
        withheld = take_responses(
            session, device_id, batch.samples, _groups(session, device_id, batch)
        )
    kept = [row[:5] for row in p.rows if row[5] not in withheld]
    if len(kept) != len(p.rows):
        conn.execute(_RECOUNT, {"b_id": batch.batch_id, "n": len(kept)})
    return kept


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


def _claim_values(p: Pending) -> dict[str, Any]:
    batch = p.batch
    return {
        "batch_id": batch.batch_id, "device_id": p.device_id, "seq": batch.seq,
        "schema_version": batch.schema_version, "sent_at": batch.sent_at,
        "received_at": p.received_at, "clock_offset_s": p.placement.offset_s,
        "sample_count": len(p.rows), "dropped_count": sum(p.placement.dropped.values()),
    }  # fmt: skip


def _claim_each(conn: Connection, pending: Sequence[Pending]) -> set[uuid.UUID]:
    """Insert each batch's row unless its id is stored already; the ids inserted."""
    return {
        p.batch.batch_id
        for p in pending
        if conn.execute(_CLAIM, _claim_values(p)).first() is not None
    }


def _claim_all(conn: Connection, pending: Sequence[Pending]) -> set[uuid.UUID]:
    """:func:`_claim_each` in one statement (PostgreSQL; ids unique within ``pending``)."""
    if not pending:
        return set()
    values = [_claim_values(p) for p in pending]
    arrays = {name: [v[name] for v in values] for name in _CLAIM_COLUMNS}
    return set(conn.execute(_CLAIM_ALL, arrays).scalars())


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
    hexes = {u: u.hex for row in rows for u in row[:2]}  # a batch's rows share both ids
    conn.exec_driver_sql(
        f"INSERT INTO samples ({columns}) VALUES (?, ?, ?, ?, ?)",
        [
            (hexes[d], hexes[b], kind,
             ts.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds"), data)
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


def _facts(pending: Sequence[Pending]) -> dict[uuid.UUID, dict[str, Any]]:
    """Per device, what its batches say of it now, folded in arrival order: the latest
    contact, the highest ``seq``, and each fact from the last batch that carries it (the
    agent version from the last batch)."""
    out: dict[uuid.UUID, dict[str, Any]] = {}
    for p in pending:
        agent, batch = p.batch.agent, p.batch
        new = {
            "seen": p.received_at, "seq": batch.seq, "agent_version": agent.version,
            "tags": dict(batch.tags) if batch.tags is not None else None,
            **{name: getattr(agent, name) for name in _OPTIONAL_FACTS},
        }  # fmt: skip
        old = out.get(p.device_id)
        if old is not None:
            new["seen"] = max(old["seen"], new["seen"])
            new["seq"] = max(old["seq"], new["seq"])
            for name in ("tags", *_OPTIONAL_FACTS):
                if new[name] is None:
                    new[name] = old[name]
        out[p.device_id] = new
    return out


def _touch_each(conn: Connection, pending: Sequence[Pending]) -> set[uuid.UUID]:
    """Record each device's last contact and current facts (one UPDATE of a fixed shape, no
    read first: a fact no batch carries keeps its stored value); the devices updated. A
    device revoked since its token was checked is not: the batch's transaction refuses it,
    so nothing of it stays."""
    done: set[uuid.UUID] = set()
    for device_id, facts in _facts(pending).items():
        updated = conn.execute(
            _TOUCH,
            {
                "d_id": device_id, "seen": facts["seen"], "seq": facts["seq"],
                "agent_version": facts["agent_version"], "new_tags": facts["tags"],
                **{f"new_{name}": facts[name] for name in _OPTIONAL_FACTS},
            },
        )  # fmt: skip
        if updated.rowcount == 1:
            done.add(device_id)
    return done


def _touch_all(conn: Connection, pending: Sequence[Pending]) -> set[uuid.UUID]:
    """:func:`_touch_each` in one statement (PostgreSQL)."""
    facts = _facts(pending)
    if not facts:
        return set()
    arrays: dict[str, list[Any]] = {"id": list(facts)}
    for name in ("seen", "seq", "agent_version", "tags", *_OPTIONAL_FACTS):
        arrays[name] = [f[name] for f in facts.values()]
    arrays["tags"] = [None if t is None else json_dumps(t) for t in arrays["tags"]]
    return set(conn.execute(_TOUCH_ALL, arrays).scalars())
