"""Reads behind the scores: a device's stored days and its score over a range (rolled up from
its days with the pure core's :func:`score_period`, never from samples), and which group of a
dimension each device belongs to. Fleets and groups are read from the per-day rollups
(:mod:`.rollups`)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db import chunks
from ..models import Device, SampleRow, ScoreDay
from ..scoring import PeriodScore, ScoringConfig, score_period

DEVICE_COLUMNS = ("model", "os_build", "os")
"""Group dimensions read from the devices table; ``app`` comes from the latest inventory and
anything else is a tag (site, department...)."""


def day_scores(
    session: Session, start: date, end: date, device: uuid.UUID | None = None
) -> dict[uuid.UUID, dict[date, PeriodScore]]:
    """Stored device-days from ``start`` to ``end`` inclusive, per device."""
    query = select(ScoreDay.device_id, ScoreDay.day, ScoreDay.document).where(
        ScoreDay.day >= start, ScoreDay.day <= end
    )
    if device is not None:
        query = query.where(ScoreDay.device_id == device)
    out: dict[uuid.UUID, dict[date, PeriodScore]] = defaultdict(dict)
    for device_id, day, document in session.execute(query):
        out[device_id][day] = PeriodScore.from_json(document)
    return out


def device_periods(
    days: dict[uuid.UUID, dict[date, PeriodScore]], config: ScoringConfig
) -> dict[uuid.UUID, PeriodScore]:
    """Each device's score over the range, from its days."""
    return {device: score_period(per.values(), config) for device, per in days.items()}


def groups_of(session: Session, by: str, devices: Iterable[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
    """The values of dimension ``by`` each device belongs to (an app: every app in its latest
    inventory; a tag or column: its one value). Devices without the dimension are left out."""
    wanted = list(devices)
    out: dict[uuid.UUID, set[str]] = {}
    if by == "app":
        latest = (
            select(SampleRow.device_id, func.max(SampleRow.id).label("id"))
            .where(SampleRow.kind == "inventory")
            .group_by(SampleRow.device_id)
            .subquery()
        )
        for chunk in chunks(wanted, 500):
            rows = session.execute(
                select(SampleRow.device_id, SampleRow.data)
                .join(latest, latest.c.id == SampleRow.id)
                .where(SampleRow.device_id.in_(chunk))
            )
            for device_id, data in rows:
                apps = {str(a.get("name")) for a in data.get("apps") or [] if a.get("name")}
                if apps:
                    out[device_id] = apps
        return out
    for chunk in chunks(wanted, 500):
        for row in session.execute(
            select(Device.id, Device.model, Device.os_build, Device.os, Device.tags).where(
                Device.id.in_(chunk)
            )
        ):
            value: Any = getattr(row, by) if by in DEVICE_COLUMNS else (row.tags or {}).get(by)
            if value not in (None, ""):
                out[row.id] = {str(value)}
    return out
