"""Experience scores: the fleet, groups of devices, one device, and the XLA report.

Scores come from the device-days the scoring job stored (:mod:`..scores.job`); a range is
whole UTC days, ``since`` to ``until`` inclusive, by default the last seven days. Every score
carries its breakdown: the points of the 100 each cause cost, in words and numbers.

A device's score over a range is rolled up from its days' aggregates. The fleet's and a
group's is the mean over their *device-days* in the range, read from the per-day rollups the
scoring job keeps (:mod:`..scores.rollups`), as the console's fleet page shows it: a few rows
per day whatever the fleet's size, so a 10,000-device fleet answers in milliseconds. Groups
whose busiest day had fewer devices than the configured minimum (5) are counted but not
scored, so a score never describes two or three identifiable people.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ..errors import ApiError
from ..models import Device
from ..scores import rollups
from ..scores.queries import day_scores, device_periods
from ..scores.rollups import Sums
from ..scoring import PeriodScore, ScoringConfig
from ..scoring.catalogue import cause_label, component_of
from .deps import SessionDep, SettingsDep, ViewerDep

router = APIRouter(prefix="/api/v1/scores", tags=["scores"])

MAX_DAYS = 366
FIRST_DAY, LAST_DAY = date(1970, 1, 8), date(9999, 12, 20)
"""What a range may name: room for the week arithmetic on both sides of it."""
By = Annotated[
    str,
    Query(
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="model, os_build, os, app (from the latest inventory) or any device tag "
        "(site, department...), as it was on each day",
    ),
]


class LossView(BaseModel):
    cause: str
    component: str
    points: float = Field(description="Points of the 100 this cause cost (rounded to 0.1).")
    detail: str


class Breakdown(BaseModel):
    score: float | None = Field(description="0-100, rounded to 0.1; null without data.")
    components: dict[str, float]
    losses: list[LossView] = Field(description="Largest first; they add up to 100 - score.")


class GroupView(Breakdown):
    group: str
    devices: int = Field(description="The most devices of the group scored on one day.")
    device_days: int = Field(description="Device-days of the group scored in the range.")
    shown: bool = Field(description="False when the group is too small to show its score.")
    at_or_above_target: float | None = Field(
        description="Share (0-1) of the group's device-days at or above the XLA target."
    )


class Range(BaseModel):
    since: date
    until: date


class FleetView(GroupView, Range):
    xla_target: float


class GroupList(Range):
    by: str
    xla_target: float
    min_group_size: int
    groups: list[GroupView]


class DayView(Breakdown):
    day: date


class DeviceScoreView(Breakdown, Range):
    device_id: uuid.UUID
    hostname: str
    days: list[DayView]


class XlaRowView(BaseModel):
    week: date = Field(description="Monday of the ISO week (its days within the range).")
    group: str
    devices: int = Field(description="The most devices of the group scored on one day.")
    device_days: int
    at_or_above_target: int | None = Field(description="Device-days at or above the target.")
    share: float | None
    mean_score: float | None


class XlaReport(Range):
    by: str | None
    target: float
    rows: list[XlaRowView]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _breakdown(score: PeriodScore | None) -> dict[str, object]:
    if score is None:
        return {"score": None, "components": {}, "losses": []}
    return {
        "score": _round(score.score),
        "components": {k: round(v, 1) for k, v in score.components.items()},
        "losses": [
            LossView(cause=x.cause, component=x.component, points=round(x.points, 1),
                     detail=x.detail)
            for x in score.losses
        ],
    }  # fmt: skip


def _group_breakdown(sums: Sums) -> dict[str, object]:
    return {
        "score": _round(sums.score),
        "components": {k: round(v, 1) for k, v in sums.mean_components().items()},
        "losses": [
            LossView(cause=cause, component=component_of(cause), points=round(points, 1),
                     detail=f"{cause_label(cause)}: {points:.1f} points per device-day on "
                            "average")
            for cause, points in sums.mean_losses()
        ],
    }  # fmt: skip


def _range(request: Request, since: date | None, until: date | None) -> tuple[date, date]:
    today: date = request.app.state.clock().date()
    for given in (since, until):
        if given is not None and not FIRST_DAY <= given <= LAST_DAY:
            raise ApiError(400, "invalid_range", f"days go from {FIRST_DAY} to {LAST_DAY}")
    until = until or today
    since = since or until - timedelta(days=6)
    if since > until:
        raise ApiError(400, "invalid_range", f"since ({since}) is after until ({until})")
    if (until - since).days >= MAX_DAYS:
        raise ApiError(400, "invalid_range", f"a range is at most {MAX_DAYS} days")
    return since, until


def _shown(sums: Sums, config: ScoringConfig) -> bool:
    """Whether a group is large enough to show: its busiest day had the minimum of devices."""
    return sums.devices > 0 and sums.peak_devices >= config.min_group_size


def _group_view(value: str, sums: Sums, config: ScoringConfig) -> GroupView:
    shown = _shown(sums, config)
    share = sums.at_or_above(config.xla_target) / sums.devices if shown else None
    return GroupView(
        group=value, devices=sums.peak_devices, device_days=sums.devices, shown=shown,
        at_or_above_target=None if share is None else round(share, 3),
        **(_group_breakdown(sums) if shown else _breakdown(None)),
    )  # fmt: skip


def _totals(days: dict[tuple[str, date], Sums]) -> dict[str, Sums]:
    """Each group's sums over the days read."""
    out: dict[str, Sums] = {}
    for (value, _), sums in days.items():
        out.setdefault(value, Sums()).merge(sums)
    return out


def _largest_first(totals: dict[str, Sums]) -> list[tuple[str, Sums]]:
    return sorted(totals.items(), key=lambda item: (-item[1].peak_devices, item[0]))


def _config(settings: SettingsDep, target: float | None) -> ScoringConfig:
    if target is None:
        return settings.scoring
    return settings.scoring.model_copy(update={"xla_target": target})


Since = Annotated[date | None, Query(description="First UTC day (default: until - 6 days).")]
Until = Annotated[date | None, Query(description="Last UTC day, included (default: today).")]
Target = Annotated[float | None, Query(ge=0, le=100, description="XLA target score.")]


@router.get("/fleet", response_model=FleetView)
def fleet(
    request: Request, session: SessionDep, settings: SettingsDep, _: ViewerDep,
    since: Since = None, until: Until = None, target: Target = None,
) -> FleetView:  # fmt: skip
    """The whole fleet's score over the range, with its breakdown."""
    first, last = _range(request, since, until)
    config = _config(settings, target)
    days = rollups.read(session, rollups.FLEET[0], first, last)
    total = _totals(days).get(rollups.FLEET[1], Sums())
    view = _group_view("fleet", total, config)
    return FleetView(**view.model_dump(), since=first, until=last, xla_target=config.xla_target)


@router.get("/groups", response_model=GroupList)
def groups(
    request: Request, session: SessionDep, settings: SettingsDep, _: ViewerDep, by: By,
    since: Since = None, until: Until = None, target: Target = None,
) -> GroupList:  # fmt: skip
    """Each group's score over the range (largest group first); small groups not shown."""
    first, last = _range(request, since, until)
    config = _config(settings, target)
    totals = _totals(rollups.read(session, by, first, last))
    return GroupList(
        since=first, until=last, by=by, xla_target=config.xla_target,
        min_group_size=config.min_group_size,
        groups=[_group_view(value, sums, config) for value, sums in _largest_first(totals)],
    )  # fmt: skip


@router.get("/devices/{device_id}", response_model=DeviceScoreView)
def device(
    request: Request, session: SessionDep, settings: SettingsDep, _: ViewerDep,
    device_id: uuid.UUID, since: Since = None, until: Until = None,
) -> DeviceScoreView:  # fmt: skip
    """One device's score over the range and day by day."""
    row = session.get(Device, device_id)
    if row is None:
        raise ApiError(404, "not_found", f"no device with id {device_id}")
    first, last = _range(request, since, until)
    days = day_scores(session, first, last, device_id).get(device_id, {})
    period = device_periods({device_id: days}, settings.scoring)[device_id]
    return DeviceScoreView(
        device_id=device_id, hostname=row.hostname, since=first, until=last,
        days=[DayView(day=d, **_breakdown(days[d])) for d in sorted(days)],
        **_breakdown(period),
    )  # fmt: skip


def _xla_rows(
    request: Request, session: SessionDep, settings: SettingsDep, by: str | None,
    since: date | None, until: date | None, target: float | None,
) -> XlaReport:  # fmt: skip
    first, last = _range(request, since, until)
    config = _config(settings, target)
    days = rollups.read(session, by or rollups.FLEET[0], first, last)
    weekly: dict[date, dict[str, Sums]] = {}
    for (value, day), sums in days.items():
        monday = day - timedelta(days=day.weekday())
        weekly.setdefault(monday, {}).setdefault(value, Sums()).merge(sums)
    rows: list[XlaRowView] = []
    for monday, groups in sorted(weekly.items()):
        for value, sums in _largest_first(groups):
            shown = _shown(sums, config)
            at = sums.at_or_above(config.xla_target) if shown else None
            rows.append(XlaRowView(
                week=monday, group="fleet" if by is None else value,
                devices=sums.peak_devices, device_days=sums.devices, at_or_above_target=at,
                share=None if at is None else round(at / sums.devices, 3),
                mean_score=_round(sums.score) if shown else None,
            ))  # fmt: skip
    return XlaReport(since=first, until=last, by=by, target=config.xla_target, rows=rows)


OptionalBy = Annotated[
    str | None,
    Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Group dimension (default: the fleet)."),
]


@router.get("/xla", response_model=XlaReport)
def xla_report(
    request: Request, session: SessionDep, settings: SettingsDep, _: ViewerDep,
    by: OptionalBy = None, since: Since = None, until: Until = None, target: Target = None,
    format: Literal["json", "csv"] = "json",
) -> XlaReport | Response:  # fmt: skip
    """The share of device-days at or above the target score, per group per ISO week
    (``format=csv`` for a spreadsheet)."""
    report = _xla_rows(request, session, settings, by, since, until, target)
    if format == "json":
        return report
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["week", "group_by", "group", "devices", "device_days",
                     "at_or_above_target", "share", "target", "mean_score"])  # fmt: skip
    for r in report.rows:
        writer.writerow([r.week.isoformat(), by or "fleet", _cell(r.group), r.devices,
                         r.device_days, _blank(r.at_or_above_target), _blank(r.share),
                         report.target,
                         _blank(r.mean_score)])  # fmt: skip
    name = f"xla-{by or 'fleet'}-{report.since}-{report.until}.csv"
    return Response(
        out.getvalue(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )  # fmt: skip


def _blank(value: object) -> object:
    return "" if value is None else value


def _cell(text: str) -> str:
    """A group name as a spreadsheet cell: one that starts like a formula is quoted, so
    opening the export never runs what an endpoint sent as its tag."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
