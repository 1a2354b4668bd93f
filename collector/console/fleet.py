"""What the fleet page shows, from the per-day score rollups (``scores.rollups``): the fleet's
score and the points lost by cause over the range, the trend day by day, the worst groups by
site, department, model and app, and the share of device-days at or above the XLA target per
week. A few rows per day, whatever the fleet's size."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from ..scores import rollups
from ..scores.queries import day_scores
from ..scores.rollups import Sums
from ..scoring import Loss, PeriodScore, ScoringConfig, score_period
from ..scoring.catalogue import cause_label

DIMENSIONS = (
    ("site", "Sites"),
    ("department", "Departments"),
    ("model", "Models"),
    ("app", "Apps"),
)
TREND_DAYS = 30
WORST = 5


@dataclass(frozen=True)
class GroupRow:
    value: str
    score: float
    devices: int
    """The most devices the group had scored on one day of the range."""


@dataclass
class Overview:
    since: date
    until: date
    fleet: Sums
    trend: list[tuple[date, float | None]]
    worst: dict[str, list[GroupRow]] = field(default_factory=dict)
    hidden: dict[str, int] = field(default_factory=dict)
    """Groups too small to show, per dimension."""
    xla_weeks: list[tuple[date, int, float | None]] = field(default_factory=list)
    """(Monday, device-days, share of them at or above the target)."""
    target: float = 0.0
    min_group_size: int = 5
    as_of: datetime | None = None


def overview(session: Session, config: ScoringConfig, today: date, days: int) -> Overview:
    since = today - timedelta(days=days - 1)
    first = min(since, today - timedelta(days=TREND_DAYS - 1))
    per_day = rollups.fleet_days(session, first, today)
    fleet = _total(per_day, since)
    trend = []
    for offset in range((today - first).days + 1):
        day = first + timedelta(days=offset)
        sums = per_day.get(day)
        shown = sums is not None and sums.devices >= config.min_group_size
        trend.append((day, sums.score if shown and sums else None))
    view = Overview(
        since, today, fleet, trend, target=config.xla_target,
        min_group_size=config.min_group_size, as_of=rollups.newest(session),
    )  # fmt: skip
    groups = rollups.group_totals(session, since, today, [by for by, _ in DIMENSIONS])
    for by, _ in DIMENSIONS:
        rows, hidden = [], 0
        for (dimension, value), total in groups.items():
            if dimension != by or not total.devices:
                continue
            if total.peak_devices < config.min_group_size or total.score is None:
                hidden += 1
                continue
            rows.append(GroupRow(value, total.score, total.peak_devices))
        view.worst[by] = sorted(rows, key=lambda g: (g.score, g.value))[:WORST]
        view.hidden[by] = hidden
    monday = first - timedelta(days=first.weekday())
    while monday <= today:
        week = Sums()
        for offset in range(7):
            if (sums := per_day.get(monday + timedelta(days=offset))) is not None:
                week.merge(sums)
        if week.devices:
            view.xla_weeks.append((monday, week.devices, week.share_at_target))
        monday += timedelta(days=7)
    return view


def losses(sums: Sums) -> list[Loss]:
    """The points lost per cause, as the score breakdown words them."""
    return [
        Loss(cause, "", points, f"{cause_label(cause)}: {points:.1f} points per device-day")
        for cause, points in sums.mean_losses()
    ]


def _total(days_of: dict[date, Sums], since: date) -> Sums:
    total = Sums()
    for day, sums in days_of.items():
        if day >= since:
            total.merge(sums)
    return total


def device_score(
    session: Session, config: ScoringConfig, device_id: uuid.UUID, today: date, days: int = 7
) -> tuple[PeriodScore | None, list[tuple[date, PeriodScore]]]:
    """A device's score over the last ``days`` and day by day, newest first."""
    stored = day_scores(session, today - timedelta(days=days - 1), today, device_id).get(
        device_id, {}
    )
    if not stored:
        return None, []
    return score_period(stored.values(), config), sorted(stored.items(), reverse=True)
