"""Helpers for the outage job, API and delivery tests: a migrated database, devices and
batches written as ingest writes them, hand-made outages, (the receiver notifications go
to is ``http_receiver``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session
from support import iso, make_batch

from dexpulse.collector.detection.engine import to_minute
from dexpulse.collector.detection.lifecycle import Outage, Status
from dexpulse.collector.ingest import store_batch
from dexpulse.collector.timeline import TimePolicy
from dexpulse.schema import Batch

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def ingest(session: Session, device: uuid.UUID, at: datetime, samples: int = 1) -> Batch:
    """A batch of ``samples`` Wi-Fi samples from ``device`` arriving at ``at``, stored as the
    ingest endpoint stores it (in the caller's transaction)."""
    wifi = [
        {"kind": "wifi", "ts": iso(at), "ssid": "corp", "rssi_dbm": -60 - i} for i in range(samples)
    ]
    batch = Batch.model_validate(make_batch(device, wifi, sent_at=iso(at)))
    store_batch(session, device, batch, at, TimePolicy())
    return batch


def outage(
    ident: str,
    signal: str,
    cohort: dict[str, str],
    started: datetime,
    detected: datetime,
    *,
    status: Status = "open",
    resolved: datetime | None = None,
    affected: set[str] | None = None,
    exposed: int = 20,
    timeline: dict[datetime, tuple[int, int]] | None = None,
    explanation: dict[str, Any] | None = None,
    suspects: list[dict[str, Any]] | None = None,
) -> Outage:
    """An outage as detection would hand it to :func:`store.record`."""
    return Outage(
        id=ident,
        signal=signal,
        cohort=tuple(cohort.items()),
        started_at=to_minute(started),
        detected_at=to_minute(detected),
        status=status,
        resolved_at=to_minute(resolved) if resolved else None,
        closed_at=to_minute(resolved) if resolved else None,
        affected=set(affected or {str(uuid.uuid4()) for _ in range(3)}),
        exposed=exposed,
        timeline={to_minute(m): v for m, v in (timeline or {}).items()},
        explanation=dict(explanation or {}),
        suspects=list(suspects or []),
        last_alarm=to_minute(detected),
    )
