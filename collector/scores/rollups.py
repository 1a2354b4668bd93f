"""Per-day sums of the device-day scores, per group: what the fleet page and the scores API
read for a fleet or a group of devices.

Rolling a week of 10,000 devices up from their stored days takes seconds (each day is a
document of aggregates); a page or an API call must answer in a fraction of one. So the
scoring job keeps, per UTC day and group (the fleet, each model, OS, OS build, app and each
value of every device tag such as site or department), the number of devices scored, the sum
of their day scores, the sum of each component's score (and how many had it), the points each
cause cost them in all, and how many scored in each tenth of a point. Any range is then a sum
over a few rows per day, and the share at or above any target a sum over the histogram.

What a range means here: the mean over the *device-days* in it (each day a device was scored
counts once). Group membership is the device's as it was when the day was rolled up.

A day is rolled up again when the scoring job rescored some of its devices and its rollup is
older than :data:`REFRESH` (so today's rollup is at most that much behind its days), and
days that have scores but no rollup (after an upgrade, or data written by other means) are
rolled up newest first within a time budget per run.
"""

from __future__ import annotations

import logging
import math
import re
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

log = logging.getLogger(__name__)
REFRESH = timedelta(minutes=5)
BACKFILL_BUDGET_S = 1.0
"""Days without a rollup are rolled up, newest first, until a run has spent this long."""
BACKFILL_DAYS = 400
FLEET = ("fleet", "all")
COLUMNS = ("model", "os", "os_build")
MAX_TAG_VALUES = 2_000
"""A tag with more values than this on one day names devices, not groups (an asset tag, an
owner): it is not rolled up, which would write a row per device per day for groups too small
to show."""
DIMENSION = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
"""What a dimension may be called: the scores API's ``by``; other tag keys are not rolled up.
The dimensions are the devices table's model, os and os_build, ``app`` from the latest
inventory, and every device tag (a tag named like a column is the column)."""


def tenth(target: float) -> int:
    """The histogram bin from which a day score counts as at or above ``target`` (a target
    between two tenths of a point counts from the next tenth up)."""
    return math.ceil(round(target * 10, 6))


@dataclass
class Sums:
    """A group's device-days: count, score sum, at or above target, points lost per cause,
    component sums and the histogram of the day scores."""

    devices: int = 0
    score_sum: float = 0.0
    at_target: int = 0
    losses: dict[str, float] = field(default_factory=dict)
    peak_devices: int = 0
    """The most devices on one day (what decides whether a group is large enough to show)."""
    components: dict[str, list[float]] = field(default_factory=dict)
    """component -> [sum of its scores, device-days that had it]."""
    histogram: dict[int, int] = field(default_factory=dict)
    """``floor(score * 10)`` -> device-days."""

    def add(
        self,
        score: float,
        losses: Iterable[tuple[str, float]],
        target: float,
        components: Iterable[tuple[str, float]] = (),
    ) -> None:
        self.devices += 1
        self.score_sum += score
        self.at_target += score >= target
        for cause, points in losses:
            self.losses[cause] = self.losses.get(cause, 0.0) + points
        for component, value in components:
            got = self.components.setdefault(component, [0.0, 0])
            got[0] += value
            got[1] += 1
        at = math.floor(score * 10)
        self.histogram[at] = self.histogram.get(at, 0) + 1

    def merge(self, other: Sums) -> None:
        self.devices += other.devices
        self.score_sum += other.score_sum
        self.at_target += other.at_target
        for cause, points in other.losses.items():
            self.losses[cause] = self.losses.get(cause, 0.0) + points
        self.peak_devices = max(self.peak_devices, other.devices)
        for component, (total, n) in other.components.items():
            got = self.components.setdefault(component, [0.0, 0])
            got[0] += total
            got[1] += n
        for at, n in other.histogram.items():
            self.histogram[at] = self.histogram.get(at, 0) + n

    @property
    def score(self) -> float | None:
        return self.score_sum / self.devices if self.devices else None

    @property
    def share_at_target(self) -> float | None:
        return self.at_target / self.devices if self.devices else None

    def at_or_above(self, target: float) -> int:
        """Device-days scored at or above ``target`` (to a tenth of a point, :func:`tenth`)."""
        first = tenth(target)
        return sum(n for at, n in self.histogram.items() if at >= first)

    def mean_components(self) -> dict[str, float]:
        return {c: total / n for c, (total, n) in self.components.items() if n}

    def mean_losses(self) -> list[tuple[str, float]]:
        """Points per device-day per cause, largest first (they add up to 100 - score)."""
        if not self.devices:
            return []
        means = [(cause, total / self.devices) for cause, total in self.losses.items()]
        return sorted(means, key=lambda item: (-item[1], item[0]))


def roll_day(
    days: Iterable[tuple[uuid.UUID, float | None, Any, Any]],
    membership: Mapping[str, Mapping[uuid.UUID, set[str]]],
    target: float,
) -> dict[tuple[str, str], Sums]:
    """Pure: one day's (device, score, losses document list, components document) rows into
    sums per group."""
    out: dict[tuple[str, str], Sums] = defaultdict(Sums)
    for device, score, losses, components in days:
        if score is None:
            continue
        lost = [
            (str(item["cause"]), float(item["points"]))
            for item in losses or []
            if isinstance(item, Mapping) and "cause" in item and "points" in item
        ]
        parts = [
            (str(c), float(v))
            for c, v in (components.items() if isinstance(components, Mapping) else ())
            if isinstance(v, int | float)
        ]
        out[FLEET].add(score, lost, target, parts)
        for dimension, members in membership.items():
            for value in members.get(device, ()):
                out[(dimension, value)].add(score, lost, target, parts)
    return dict(out)


def refresh(session: Session, day: date, target: float, now: datetime) -> int:
    """Roll ``day`` up again from its stored device-days; returns the groups written."""
    rows = session.execute(
        select(
            ScoreDay.device_id, ScoreDay.score, ScoreDay.document["losses"],
            ScoreDay.document["components"],
        ).where(ScoreDay.day == day)
    ).all()  # fmt: skip
    devices = [row[0] for row in rows]
    membership = _membership(session, devices)
    sums = roll_day(((r[0], r[1], r[2], r[3]) for r in rows), membership, target)
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
                "components": s.components,
                "histogram": {str(at): n for at, n in s.histogram.items()},
                "updated_at": now,
            }  # fmt: skip
            for (dimension, value), s in sums.items()
        ],
        ("day", "dimension", "value"),
        ("devices", "score_sum", "at_target", "losses", "components", "histogram", "updated_at"),
    )
    return len(sums)


def _membership(session: Session, devices: list[uuid.UUID]) -> dict[str, dict[uuid.UUID, set[str]]]:
    """Each device's groups: model, OS, OS build and every tag (site, department...) from
    one pass over the devices table, as ``groups_of`` reads them; apps from the latest
    inventories."""
    out: dict[str, dict[uuid.UUID, set[str]]] = defaultdict(dict)
    for chunk in chunks(devices, 500):
        for device_id, model, os, os_build, tags in session.execute(
            select(Device.id, Device.model, Device.os, Device.os_build, Device.tags).where(
                Device.id.in_(chunk)
            )
        ):
            facts = {**(tags or {}), "model": model, "os": os, "os_build": os_build}
            for dimension, value in facts.items():
                if dimension in ("app", FLEET[0]) or not DIMENSION.match(dimension):
                    continue
                if value not in (None, ""):
                    out[dimension][device_id] = {str(value)}
    for dimension in [d for d, members in out.items() if d not in COLUMNS]:
        values = {v for found in out[dimension].values() for v in found}
        if len(values) > MAX_TAG_VALUES:  # an asset tag or an owner: one device per value
            log.info("not rolling up tag %r: %d values on one day", dimension, len(values))
            del out[dimension]
    out["app"] = groups_of(session, "app", devices)
    return dict(out)


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
    return {day: sums for (_, day), sums in read(session, FLEET[0], first, last).items()}


def read(session: Session, dimension: str, first: date, last: date) -> dict[tuple[str, date], Sums]:
    """Every stored (group value, day) of ``dimension`` from ``first`` to ``last``."""
    rows = session.execute(
        select(
            ScoreRollup.value, ScoreRollup.day, ScoreRollup.devices, ScoreRollup.score_sum,
            ScoreRollup.at_target, ScoreRollup.losses, ScoreRollup.components,
            ScoreRollup.histogram,
        ).where(
            ScoreRollup.dimension == dimension, ScoreRollup.day >= first, ScoreRollup.day <= last
        )
    )  # fmt: skip
    return {
        (value, day): Sums(
            n, total, at, dict(lost or {}), n,
            {str(c): [float(v[0]), int(v[1])] for c, v in (components or {}).items()},
            {int(b): int(k) for b, k in (histogram or {}).items()},
        )
        for value, day, n, total, at, lost, components, histogram in rows
    }  # fmt: skip


def group_totals(
    session: Session, first: date, last: date, dimensions: Iterable[str]
) -> dict[tuple[str, str], Sums]:
    """The sums of every group of ``dimensions`` over the days from ``first`` to ``last``,
    added up by the database (one row per group, not per group and day): devices, score and
    the most devices on one day. The points lost per cause are left out; the page shows them
    for the fleet only."""
    rows = session.execute(
        select(
            ScoreRollup.dimension, ScoreRollup.value, func.sum(ScoreRollup.devices),
            func.sum(ScoreRollup.score_sum), func.sum(ScoreRollup.at_target),
            func.max(ScoreRollup.devices),
        )
        .where(
            ScoreRollup.dimension.in_(list(dimensions)),
            ScoreRollup.day >= first,
            ScoreRollup.day <= last,
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
