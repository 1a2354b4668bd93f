"""Per-day sums of the device-day scores, per group: what the console's fleet page reads.

Rolling a week of 10,000 devices up from their stored days takes seconds (each day is a
document of aggregates); the fleet page must answer in a fraction of one. So the scoring job
keeps, per UTC day and group (the fleet, each site, department, model, OS and app), the number
of devices scored, the sum of their day scores, how many were at or above the XLA target and
the points each cause cost them in all. Any range is then a sum over a few rows per day.

What a range means here: the mean over the *device-days* in it (each day a device was scored
counts once), which is what these sums can give. The scores API rolls each device's days up
first and then averages devices, so the two can differ a little on devices with few hours on
some days. Group membership is the device's as it is when the day is rolled up.

A day is rolled up again when the scoring job rescored some of its devices and its rollup is
older than :data:`REFRESH` (so today's rollup is at most that much behind its days), and
days that have scores but no rollup (after an upgrade, or data written by other means) are
rolled up newest first within a time budget per run.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from time import monotonic
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..db import chunks, upsert
from ..models import Device, ScoreDay, ScoreRollup
from .queries import groups_of

REFRESH = timedelta(minutes=5)
BACKFILL_BUDGET_S = 1.0
"""Days without a rollup are rolled up, newest first, until a run has spent this long."""
BACKFILL_DAYS = 400
DIMENSIONS = ("site", "department", "model", "os", "app")
FLEET = ("fleet", "all")


@dataclass
class Sums:
    """A group's device-days: count, score sum, at or above target, points lost per cause."""

    devices: int = 0
    score_sum: float = 0.0
    at_target: int = 0
    losses: dict[str, float] = field(default_factory=dict)
    peak_devices: int = 0
    """The most devices on one day (what decides whether a group is large enough to show)."""

    def add(self, score: float, losses: Iterable[tuple[str, float]], target: float) -> None:
        self.devices += 1
        self.score_sum += score
        self.at_target += score >= target
        for cause, points in losses:
            self.losses[cause] = self.losses.get(cause, 0.0) + points

    def merge(self, other: Sums) -> None:
        self.devices += other.devices
        self.score_sum += other.score_sum
        self.at_target += other.at_target
        for cause, points in other.losses.items():
            self.losses[cause] = self.losses.get(cause, 0.0) + points
        self.peak_devices = max(self.peak_devices, other.devices)

    @property
    def score(self) -> float | None:
        return self.score_sum / self.devices if self.devices else None

    @property
    def share_at_target(self) -> float | None:
        return self.at_target / self.devices if self.devices else None

    def mean_losses(self) -> list[tuple[str, float]]:
        """Points per device-day per cause, largest first (they add up to 100 - score)."""
        if not self.devices:
            return []
        means = [(cause, total / self.devices) for cause, total in self.losses.items()]
        return sorted(means, key=lambda item: (-item[1], item[0]))


def roll_day(
    days: Iterable[tuple[uuid.UUID, float | None, Any]],
    membership: Mapping[str, Mapping[uuid.UUID, set[str]]],
    target: float,
) -> dict[tuple[str, str], Sums]:
    """Pure: one day's (device, score, losses document list) rows into sums per group."""
    out: dict[tuple[str, str], Sums] = defaultdict(Sums)
    for device, score, losses in days:
        if score is None:
            continue
        lost = [
            (str(item["cause"]), float(item["points"]))
            for item in losses or []
            if isinstance(item, Mapping) and "cause" in item and "points" in item
        ]
        out[FLEET].add(score, lost, target)
        for dimension, members in membership.items():
            for value in members.get(device, ()):
                out[(dimension, value)].add(score, lost, target)
    return dict(out)


def refresh(session: Session, day: date, target: float, now: datetime) -> int:
    """Roll ``day`` up again from its stored device-days; returns the groups written."""
    rows = session.execute(
        select(ScoreDay.device_id, ScoreDay.score, ScoreDay.document["losses"]).where(
            ScoreDay.day == day
        )
    ).all()
    devices = [row[0] for row in rows]
    membership = _membership(session, devices)
    sums = roll_day(((r[0], r[1], r[2]) for r in rows), membership, target)
    session.execute(delete(ScoreRollup).where(ScoreRollup.day == day))
    upsert(
        session,
        ScoreRollup,
        [
            {
                "day": day,
                "dimension": dimension,
                "value": value[:256],
                "devices": s.devices,
                "score_sum": s.score_sum,
                "at_target": s.at_target,
                "losses": s.losses,
                "updated_at": now,
            }  # fmt: skip
            for (dimension, value), s in sums.items()
        ],
        ("day", "dimension", "value"),
        ("devices", "score_sum", "at_target", "losses", "updated_at"),
    )
    return len(sums)


def _membership(session: Session, devices: list[uuid.UUID]) -> dict[str, dict[uuid.UUID, set[str]]]:
    """Each device's groups: site, department, model and OS from one pass over the devices
    table (as ``groups_of`` reads them), apps from the latest inventories."""
    out: dict[str, dict[uuid.UUID, set[str]]] = {d: {} for d in DIMENSIONS}
    for chunk in chunks(devices, 500):
        for device_id, model, os, tags in session.execute(
            select(Device.id, Device.model, Device.os, Device.tags).where(Device.id.in_(chunk))
        ):
            facts = {**(tags or {}), "model": model, "os": os}
            for dimension in ("site", "department", "model", "os"):
                value = facts.get(dimension)
                if value not in (None, ""):
                    out[dimension][device_id] = {str(value)}
    out["app"] = groups_of(session, "app", devices)
    return out


def refresh_due(session: Session, changed: Iterable[date], target: float, now: datetime) -> int:
    """Roll up the changed days whose rollup is older than :data:`REFRESH`, and a few days
    that have scores but no rollup yet. Returns the days rolled up."""
    wanted = set(changed)
    fresh = set(
        session.scalars(
            select(ScoreRollup.day).where(
                ScoreRollup.day.in_(wanted),
                ScoreRollup.dimension == FLEET[0],
                ScoreRollup.updated_at > now - REFRESH,
            )
        )
    )
    for day in sorted(wanted - fresh):
        refresh(session, day, target, now)
    done = len(wanted - fresh)
    since = now.date() - timedelta(days=BACKFILL_DAYS)
    rolled = select(ScoreRollup.day).where(ScoreRollup.dimension == FLEET[0])
    missing = session.scalars(
        select(ScoreDay.day)
        .where(ScoreDay.day >= since, ScoreDay.day.not_in(rolled))
        .group_by(ScoreDay.day)
        .order_by(ScoreDay.day.desc())
    ).all()
    started = monotonic()
    for day in missing:
        refresh(session, day, target, now)
        done += 1
        if monotonic() - started > BACKFILL_BUDGET_S:
            break
    return done


def rebuild(session: Session, first: date, last: date, target: float, now: datetime) -> int:
    """Roll up every day from ``first`` to ``last`` (data written around the scoring job)."""
    day = first
    while day <= last:
        refresh(session, day, target, now)
        day += timedelta(days=1)
    return (last - first).days + 1


def fleet_days(session: Session, first: date, last: date) -> dict[date, Sums]:
    """The fleet's stored sums for each day from ``first`` to ``last`` (one row a day)."""
    rows = session.execute(
        select(
            ScoreRollup.day, ScoreRollup.devices, ScoreRollup.score_sum, ScoreRollup.at_target,
            ScoreRollup.losses,
        ).where(
            ScoreRollup.dimension == FLEET[0],
            ScoreRollup.value == FLEET[1],
            ScoreRollup.day >= first,
            ScoreRollup.day <= last,
        )
    )  # fmt: skip
    return {day: Sums(n, total, at, dict(lost or {}), n) for day, n, total, at, lost in rows}


def group_totals(session: Session, first: date, last: date) -> dict[tuple[str, str], Sums]:
    """Every group's sums over the days from ``first`` to ``last``, added up by the database
    (one row per group, not per group and day): devices, score and the most devices on one
    day. The points lost per cause are left out; the page shows them for the fleet only."""
    rows = session.execute(
        select(
            ScoreRollup.dimension, ScoreRollup.value, func.sum(ScoreRollup.devices),
            func.sum(ScoreRollup.score_sum), func.sum(ScoreRollup.at_target),
            func.max(ScoreRollup.devices),
        )
        .where(
            ScoreRollup.dimension != FLEET[0], ScoreRollup.day >= first, ScoreRollup.day <= last
        )
        .group_by(ScoreRollup.dimension, ScoreRollup.value)
    )  # fmt: skip
    return {
        (dimension, value): Sums(int(n), float(total), int(at), {}, int(peak))
        for dimension, value, n, total, at, peak in rows
    }


def newest(session: Session) -> datetime | None:
    """When the newest rollup was written (what the page says it is as of)."""
    at: datetime | None = session.scalar(select(func.max(ScoreRollup.updated_at)))
    return at
