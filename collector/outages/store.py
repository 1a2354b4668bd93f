"""Outages, their events and the notification outbox, as the detection job writes them.

An outage row is the API's JSON object plus the columns it is filtered by. Each status change
becomes an event (``opened``, ``rescoped``, ``recovering``, ``ongoing`` (back from
recovering), ``resolved``, ``reopened``) keyed by the event-time minute it happened in, so a
replica that catches up after a failover writes none twice. The live stream reads events;
notifications are queued from them in the same transaction (outbox), so an outage is never
announced that was not stored, nor stored and silently not announced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..detection.engine import from_minute, outage_json, to_minute
from ..detection.lifecycle import Outage
from ..errors import ApiError
from ..models import OutageEvent, OutageRecord

EventHook = Callable[[Session, OutageEvent], None]
"""Called for each new event inside the job's transaction (queues notifications)."""


def transitions(before: OutageRecord | None, outage: Outage, clock: int) -> list[tuple[str, int]]:
    """The events between the stored ``before`` and ``outage`` now, with their minutes."""
    events: list[tuple[str, int]] = []
    status = before.status if before is not None else None
    if before is None:
        events.append(("opened", outage.detected_at))
    elif status == "resolved" and outage.live:
        events.append(("reopened", outage.last_alarm))
    elif before.cohort != dict(outage.cohort):
        events.append(("rescoped", clock))
    if outage.status == "recovering" and status != "recovering":
        events.append(("recovering", outage.recovering_since or clock))
    elif status == "recovering" and outage.status in ("open", "ongoing"):
        events.append(("ongoing", outage.last_alarm))
    if outage.status == "resolved" and status != "resolved":
        events.append(("resolved", outage.closed_at if outage.closed_at is not None else clock))
    return events


def record(
    session: Session, outages: Iterable[Outage], now: datetime, on_event: EventHook | None = None
) -> list[OutageEvent]:
    """Store ``outages`` as they are now, and the events that got them there."""
    clock = to_minute(now)
    created: list[OutageEvent] = []
    for outage in outages:
        document = outage_json(outage)
        row = session.get(OutageRecord, outage.id)
        events = transitions(row, outage, clock)
        if row is None:
            row = OutageRecord(id=outage.id)
            session.add(row)
        row.status = outage.status
        if outage.live:
            row.closed_by = None  # reopened: whoever closed it by hand was wrong
        row.signal = outage.signal
        row.cohort = dict(outage.cohort)
        row.started_at = from_minute(outage.started_at)
        row.detected_at = from_minute(outage.detected_at)
        row.resolved_at = from_minute(outage.resolved_at) if outage.resolved_at else None
        row.affected_devices = len(outage.affected)
        row.exposed_devices = outage.exposed
        row.document = document
        row.devices = {"affected": sorted(outage.affected)}
        row.updated_at = now
        session.flush()
        for name, minute in events:
            event = _event(session, outage.id, name, from_minute(minute), now, document)
            if event is not None:
                created.append(event)
                if on_event is not None:
                    on_event(session, event)
    return created


def _event(
    session: Session,
    outage_id: str,
    name: str,
    minute: datetime,
    now: datetime,
    document: dict[str, object],
) -> OutageEvent | None:
    exists = session.scalar(
        select(OutageEvent.id).where(
            OutageEvent.outage_id == outage_id,
            OutageEvent.event == name,
            OutageEvent.minute == minute,
        )
    )
    if exists is not None:
        return None
    event = OutageEvent(outage_id=outage_id, event=name, minute=minute, at=now, outage=document)
    session.add(event)
    session.flush()
    return event


def acknowledge(session: Session, outage_id: str, by: str, now: datetime) -> OutageRecord:
    """A console user says someone is on it; the live feed hears of it as an event."""
    row = _row(session, outage_id)
    if row.acknowledged_at is None:
        row.acknowledged_at, row.acknowledged_by = now, by
        _event(session, row.id, "acknowledged", _minute(now), now, _as_now(row))
    return row


def resolve_by_hand(session: Session, outage_id: str, by: str, now: datetime) -> OutageRecord:
    """A console user closes an outage. Detection keeps its own view: if it still sees the
    cohort failing at its next change, the outage is reopened (and says so)."""
    row = _row(session, outage_id)
    if row.status != "resolved":
        row.status, row.resolved_at, row.closed_by = "resolved", now, by
        _event(session, row.id, "resolved", _minute(now), now, _as_now(row))
    return row


def _row(session: Session, outage_id: str) -> OutageRecord:
    row = session.get(OutageRecord, outage_id, with_for_update=True)
    if row is None:
        raise ApiError(404, "not_found", f"no outage with id {outage_id}")
    return row


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def _as_now(row: OutageRecord) -> dict[str, object]:
    """The stored document with the columns a console user changed."""
    return {
        **row.document,
        "status": row.status,
        "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
        "acknowledged_by": row.acknowledged_by,
        "closed_by": row.closed_by,
    }
