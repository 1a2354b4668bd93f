"""IT-facing device API: list devices, read a device's samples, revoke a device."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from dexpulse.schema.types import UtcDatetime

from ..admin import revoke_device
from ..errors import ApiError
from ..models import Device, SampleRow
from .deps import AdminDep, SessionDep, ViewerDep
from .views import DeviceList, DeviceView, SampleList, SampleView

router = APIRouter(prefix="/api/v1/devices", tags=["devices"])


@router.get("", response_model=DeviceList)
def list_devices(
    session: SessionDep,
    _: ViewerDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> DeviceList:
    """Enrolled devices, most recently seen first."""
    total = session.scalar(select(func.count()).select_from(Device)) or 0
    rows = session.scalars(
        select(Device)
        .order_by(Device.last_seen_at.desc().nulls_last(), Device.id)
        .limit(limit)
        .offset(offset)
    )
    devices = [DeviceView.model_validate(row) for row in rows]
    return DeviceList(devices=devices, total=total, limit=limit, offset=offset)


def _device(session: SessionDep, device_id: uuid.UUID) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise ApiError(404, "not_found", f"no device with id {device_id}")
    return device


@router.get("/{device_id}", response_model=DeviceView)
def get_device(session: SessionDep, _: ViewerDep, device_id: uuid.UUID) -> DeviceView:
    """One device."""
    return DeviceView.model_validate(_device(session, device_id))


def _encode_cursor(row: SampleRow) -> str:
    raw = json.dumps([row.ts.isoformat(), row.id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        ts, row_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        at = datetime.fromisoformat(ts)
        if at.tzinfo is None or not isinstance(row_id, int) or not 0 <= row_id < 2**63:
            raise ValueError(cursor)
        return at.astimezone(UTC), row_id
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise ApiError(400, "invalid_cursor", "cursor is not one this API returned") from None


@router.get("/{device_id}/samples", response_model=SampleList)
def device_samples(
    session: SessionDep,
    _: ViewerDep,
    device_id: uuid.UUID,
    kind: Annotated[str | None, Query(pattern=r"^[a-z_]{1,32}$")] = None,
    since: UtcDatetime | None = None,
    until: UtcDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> SampleList:
    """A device's samples in event time order; ``since`` inclusive, ``until`` exclusive."""
    _device(session, device_id)
    query = select(SampleRow).where(SampleRow.device_id == device_id)
    if kind is not None:
        query = query.where(SampleRow.kind == kind)
    if since is not None:
        query = query.where(SampleRow.ts >= since)
    if until is not None:
        query = query.where(SampleRow.ts < until)
    if cursor is not None:
        after_ts, after_id = _decode_cursor(cursor)
        query = query.where(
            (SampleRow.ts > after_ts) | ((SampleRow.ts == after_ts) & (SampleRow.id > after_id))
        )
    rows = list(session.scalars(query.order_by(SampleRow.ts, SampleRow.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return SampleList(
        samples=[SampleView.model_validate(r) for r in rows],
        next_cursor=_encode_cursor(rows[-1]) if more else None,
    )


@router.post("/{device_id}/revoke", response_model=DeviceView)
def revoke(session: SessionDep, _: AdminDep, device_id: uuid.UUID) -> DeviceView:
    """Revoke a device's token (admin): its uploads are refused until it enrolls again."""
    return DeviceView.model_validate(revoke_device(session, device_id))
