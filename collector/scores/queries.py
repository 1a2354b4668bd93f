"""Scores over a time range, read from the stored device-days: per device, per group of devices
(a tag such as site or department, the model, the OS build, an app), and the XLA share per
group per week.

Every longer period is rolled up from stored days with the pure core's :func:`score_period`
(never from samples), and every group with :func:`score_group`, which hides groups of fewer
than ``min_group_size`` devices.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db import chunks
from ..models import Device, SampleRow, ScoreDay
from ..scoring import GroupScore, PeriodScore, ScoringConfig, score_group, score_period

DEVICE_COLUMNS = ("model", "os_build", "os")
"""Group dimensions read from the devices table; ``app`` comes from the latest inventory and
anything else is a tag (site, department...)."""


@dataclass(frozen=True)
class Group:
    value: str
    devices: int
    """Devices of the group with a score in the range (shown or not)."""
    score: GroupScore | None
    """None when the group is too small to show."""


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


def group_scores(
    periods: dict[uuid.UUID, PeriodScore],
    membership: dict[uuid.UUID, set[str]],
    config: ScoringConfig,
) -> list[Group]:
    """Every group's score, largest group first."""
    members: dict[str, list[PeriodScore]] = defaultdict(list)
    for device, period in periods.items():
        if period.score is None:
            continue
        for value in membership.get(device, ()):
            members[value].append(period)
    groups = [Group(v, len(m), score_group(m, config)) for v, m in members.items()]
    return sorted(groups, key=lambda g: (-g.devices, g.value))


def weeks(start: date, end: date) -> list[tuple[date, date]]:
    """The ISO weeks (Monday to Sunday) touching ``start``..``end``, clipped to it."""
    out: list[tuple[date, date]] = []
    monday = start - timedelta(days=start.weekday())
    while monday <= end:
        out.append((max(monday, start), min(monday + timedelta(days=6), end)))
        monday += timedelta(days=7)
    return out


@dataclass(frozen=True)
class XlaRow:
    week: date
    """The week's Monday."""
    group: str
    devices: int
    at_target: int | None
    """Devices with a week score at or above the target; None when the group is hidden."""
    share: float | None
    mean_score: float | None


def xla(
    days: dict[uuid.UUID, dict[date, PeriodScore]],
    membership: dict[uuid.UUID, set[str]] | None,
    start: date,
    end: date,
    target: float,
    config: ScoringConfig,
) -> list[XlaRow]:
    """The share of devices at or above ``target`` per group (or the whole fleet when
    ``membership`` is None) per ISO week, each device scored over its days of that week."""
    at = config.model_copy(update={"xla_target": target})
    rows: list[XlaRow] = []
    for first, last in weeks(start, end):
        periods = {
            device: score_period([s for d, s in per.items() if first <= d <= last], at)
            for device, per in days.items()
        }
        everyone = {device: {"fleet"} for device in periods}
        for group in group_scores(periods, membership if membership is not None else everyone, at):
            monday = first - timedelta(days=first.weekday())
            if group.score is None:
                rows.append(XlaRow(monday, group.value, group.devices, None, None, None))
            else:
                share = group.score.xla_share
                rows.append(
                    XlaRow(monday, group.value, group.devices, round(share * group.devices),
                           share, group.score.score)
                )  # fmt: skip
    return rows
