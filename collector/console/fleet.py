"""What the fleet page shows, from the stored device-days (as the scores API computes it):
the fleet's score and its breakdown, the trend day by day, the worst groups by site,
department, model and app, and XLA attainment per week."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.orm import Session

from ..scores.queries import Group, day_scores, device_periods, group_scores, groups_of, xla
from ..scoring import GroupScore, PeriodScore, ScoringConfig, score_group, score_period

DIMENSIONS = (
    ("site", "Sites"),
    ("department", "Departments"),
    ("model", "Models"),
    ("app", "Apps"),
)
TREND_DAYS = 30
WORST = 5


@dataclass
class Overview:
    since: date
    until: date
    fleet: GroupScore | None
    devices: int
    trend: list[tuple[date, float | None]]
    worst: dict[str, list[Group]] = field(default_factory=dict)
    hidden: dict[str, int] = field(default_factory=dict)
    """Groups too small to show, per dimension."""
    xla_weeks: list[tuple[date, int, float | None]] = field(default_factory=list)
    """(Monday, devices, share at or above target)."""
    target: float = 0.0


def overview(session: Session, config: ScoringConfig, today: date, days: int) -> Overview:
    since = today - timedelta(days=days - 1)
    first = min(since, today - timedelta(days=TREND_DAYS - 1))
    stored = day_scores(session, first, today)
    in_range = {
        device: {d: s for d, s in per.items() if d >= since} for device, per in stored.items()
    }
    in_range = {device: per for device, per in in_range.items() if per}
    periods = device_periods(in_range, config)
    scored = [p for p in periods.values() if p.score is not None]
    view = Overview(
        since, today, score_group(scored, config), len(scored), _trend(stored, first, today, config)
    )
    view.target = config.xla_target
    for by, _ in DIMENSIONS:
        groups = group_scores(periods, groups_of(session, by, periods), config)
        shown = [g for g in groups if g.score is not None]
        view.hidden[by] = len(groups) - len(shown)
        view.worst[by] = sorted(shown, key=lambda g: (g.score.score if g.score else 0, g.value))[
            :WORST
        ]
    for row in xla(stored, None, first, today, config.xla_target, config):
        view.xla_weeks.append((row.week, row.devices, row.share))
    return view


def _trend(
    stored: dict[uuid.UUID, dict[date, PeriodScore]], first: date, last: date, config: ScoringConfig
) -> list[tuple[date, float | None]]:
    per_day: dict[date, list[PeriodScore]] = defaultdict(list)
    for per in stored.values():
        for day, score in per.items():
            per_day[day].append(score)
    out: list[tuple[date, float | None]] = []
    day = first
    while day <= last:
        group = score_group(per_day.get(day, []), config)
        out.append((day, None if group is None else group.score))
        day += timedelta(days=1)
    return out


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
