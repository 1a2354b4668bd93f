"""Storing one validated batch: exactly once, all or nothing.

The caller authenticates the device and validates the batch; this module decides duplicates,
places samples in event time (see :mod:`timeline`) and writes the batch row, its samples and
the device's last-seen facts in the caller's transaction, so a failure leaves nothing behind.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, case, insert, update
from sqlalchemy.orm import Session

from dexpulse.schema import Batch, IngestResponse

from .errors import ApiError
from .models import Device, IngestedBatch, SampleRow
from .surveys.store import device_groups, take_responses
from .timeline import TimePolicy, place

_ENVELOPE_ONLY = {"kind", "ts"}
SAMPLES = cast(Table, SampleRow.__table__)


def duplicate_of(session: Session, device_id: uuid.UUID, batch_id: uuid.UUID) -> bool:
    """True if this device already delivered ``batch_id``; 409 if another device did."""
    owner = session.get(IngestedBatch, batch_id)
    if owner is None:
        return False
    if owner.device_id != device_id:
        raise ApiError(409, "batch_id_conflict", "this batch_id was already used by another device")
    return True


def store_batch(
    session: Session,
    device_id: uuid.UUID,
    batch: Batch,
    received_at: datetime,
    policy: TimePolicy,
) -> IngestResponse:
    """Write ``batch`` unless it is a duplicate. Runs inside the caller's transaction."""
    if duplicate_of(session, device_id, batch.batch_id):
        return IngestResponse(batch_id=batch.batch_id, duplicate=True, accepted=0)

    placement = place([s.ts for s in batch.samples], batch.sent_at, received_at, policy)
    withheld = take_responses(session, device_id, batch.samples, _groups(session, device_id, batch))
    rows: list[dict[str, Any]] = [
        {
            "device_id": device_id,
            "batch_id": batch.batch_id,
            "kind": sample.kind,
            "ts": ts,
            "data": sample.model_dump(mode="json", exclude=_ENVELOPE_ONLY, exclude_none=True),
        }
        for index, (sample, ts) in enumerate(zip(batch.samples, placement.times, strict=True))
        if ts is not None and index not in withheld
    ]
    session.add(
        IngestedBatch(
            batch_id=batch.batch_id,
            device_id=device_id,
            seq=batch.seq,
            schema_version=batch.schema_version,
            sent_at=batch.sent_at,
            received_at=received_at,
            clock_offset_s=placement.offset_s,
            sample_count=len(rows),
            dropped_count=sum(placement.dropped.values()),
        )
    )
    session.flush()  # a concurrent duplicate fails here, before the samples are sent
    if rows:  # Core insert: the ORM's bulk path costs more than the database here
        session.execute(insert(SAMPLES), rows)
    _update_device(session, device_id, batch, received_at)
    return IngestResponse(
        batch_id=batch.batch_id,
        duplicate=False,
        accepted=len(rows) + sum(1 for i in withheld if placement.times[i] is not None),
        dropped=placement.dropped,
        clock_offset_s=placement.offset_s,
    )


def _groups(session: Session, device_id: uuid.UUID, batch: Batch) -> dict[str, Any]:
    """The groups a survey answer in this batch is counted in: the batch's facts, else the
    device's stored ones (read only when the batch carries an answer)."""
    if not any(s.kind == "survey_response" for s in batch.samples):
        return {}
    device = session.get(Device, device_id)
    tags = dict(batch.tags) if batch.tags is not None else dict(device.tags if device else {})
    model = batch.agent.model or (device.model if device else None)
    return device_groups(tags, model, batch.agent.os)


def _update_device(
    session: Session, device_id: uuid.UUID, batch: Batch, received_at: datetime
) -> None:
    """Record the device's last contact and current facts in one UPDATE (no read first)."""
    values: dict[str, Any] = {
        "last_seen_at": received_at,
        "last_seq": case(
            (Device.last_seq.is_(None) | (Device.last_seq < batch.seq), batch.seq),
            else_=Device.last_seq,
        ),
        "agent_version": batch.agent.version,
    }
    if batch.tags is not None:
        values["tags"] = dict(batch.tags)
    for name in ("os_version", "os_build", "model", "manufacturer", "hostname"):
        value = getattr(batch.agent, name)
        if value is not None:
            values[name] = value
    updated = session.execute(
        update(Device).where(Device.id == device_id).values(**values),
        execution_options={"synchronize_session": False},  # nothing loaded to keep in step
    )
    if updated.rowcount != 1:  # type: ignore[attr-defined]  # authenticated a moment ago
        raise ApiError(401, "unknown_device", "the device no longer exists; enroll again")
