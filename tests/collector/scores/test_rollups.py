"""Per-day score rollups: written by the scoring job, equal to the device-days they sum, kept
fresh without redoing a day every minute, backfilled for days that have none, and what the
console's fleet page reads."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from scores_support import send, stream
from sqlalchemy import func, select
from support import Collector, add_device

from dexpulse.collector.console import fleet
from dexpulse.collector.models import ScoreRollup
from dexpulse.collector.scores import rollups
from dexpulse.collector.scores.job import ScoringJob
from dexpulse.collector.scores.queries import day_scores, device_periods
from dexpulse.collector.scoring import ScoringConfig, score_group

MONDAY = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
CONFIG = ScoringConfig()
A, B = uuid.uuid4(), uuid.uuid4()


def loss(cause: str, points: float) -> dict[str, Any]:
    return {"cause": cause, "component": "network", "points": points, "detail": "..."}


def test_a_day_is_summed_per_group() -> None:
    membership = {"site": {A: {"Brussels"}, B: {"Paris"}}, "app": {A: {"Teams", "Zoom"}}}
    rows = [
        (A, 90.0, [loss("wifi_signal", 6.0), loss("cpu", 4.0)],
         {"network": 94.0, "performance": 96.0}),
        (B, 70.0, [loss("wifi_signal", 30.0)], {"network": 70.0}),
        (uuid.uuid4(), None, [], {}),  # a device without a score that day counts nowhere
    ]  # fmt: skip
    sums = rollups.roll_day(rows, membership, target=80.0)
    whole = sums[rollups.FLEET]
    assert (whole.devices, whole.score, whole.at_target) == (2, 80.0, 1)
    assert whole.mean_losses() == [("wifi_signal", 18.0), ("cpu", 2.0)]
    assert whole.mean_components() == {"network": 82.0, "performance": 96.0}
    assert whole.histogram == {900: 1, 700: 1}
    assert [whole.at_or_above(t) for t in (0, 70, 70.01, 89.9, 90, 90.05, 100)] == [
        2, 2, 1, 1, 1, 0, 0,
    ]  # fmt: skip
    assert 100 - sum(p for _, p in whole.mean_losses()) == whole.score
    assert sums[("site", "Paris")].score == 70.0
    assert sums[("app", "Zoom")].devices == 1 and ("app", "Paris") not in sums


def test_the_scoring_job_rolls_up_what_it_scores(collector: Collector) -> None:
    with collector.sessions.begin() as session:
        laptops = [add_device(session, f"laptop-{i}") for i in range(6)]
    for i, device in enumerate(laptops):
        tags = {"site": "brussels" if i < 5 else "paris", "department": "finance"}
        send(collector.sessions, device, stream(MONDAY, 120, i + 2), MONDAY + timedelta(hours=3),
             tags)  # fmt: skip
    job = ScoringJob(collector.sessions, CONFIG, day_slots=1)
    assert job.run(MONDAY + timedelta(hours=3)) is not None
    day = MONDAY.date()
    with collector.sessions() as session:
        whole = rollups.fleet_days(session, day, day)[day]
        groups = rollups.group_totals(session, day, day, ["site", "department"])
        periods = device_periods(day_scores(session, day, day), CONFIG)
    group = score_group(periods.values(), CONFIG)
    assert group is not None
    # one day: the mean over device-days is the scores API's fleet score, losses and all
    assert whole.devices == 6 and abs(whole.score - group.score) < 1e-9  # type: ignore[operator]
    assert [c for c, _ in whole.mean_losses()] == [x.cause for x in group.losses]
    assert groups[("site", "brussels")].devices == 5
    assert groups[("department", "finance")].devices == 6
    assert abs(groups[("department", "finance")].score - whole.score) < 1e-9  # type: ignore[operator]

    # a minute later new samples rescore the day, but the rollup waits for REFRESH
    later = MONDAY + timedelta(hours=3, minutes=1)
    send(collector.sessions, laptops[0], stream(MONDAY + timedelta(hours=2), 30, 99), later,
         {"site": "brussels", "department": "finance"})  # fmt: skip
    job.run(later)
    with collector.sessions() as session:
        at = session.scalar(select(func.max(ScoreRollup.updated_at)))
    assert at == MONDAY + timedelta(hours=3)
    job.run(later + rollups.REFRESH + timedelta(minutes=1))  # nothing new; nothing to redo
    send(collector.sessions, laptops[0], stream(MONDAY + timedelta(hours=3), 30, 98),
         later + rollups.REFRESH, {"site": "brussels"})  # fmt: skip
    job.run(later + rollups.REFRESH + timedelta(minutes=2))
    with collector.sessions() as session:
        at = session.scalar(select(func.max(ScoreRollup.updated_at)))
    assert at == later + rollups.REFRESH + timedelta(minutes=2)


def test_days_without_a_rollup_are_backfilled_and_read_by_the_fleet_page(
    collector: Collector,
) -> None:
    with collector.sessions.begin() as session:
        laptops = [add_device(session, f"laptop-{i}") for i in range(5)]
    for i, device in enumerate(laptops):
        for offset in (0, 1, 2):
            start = MONDAY + timedelta(days=offset)
            send(collector.sessions, device, stream(start, 60, i + offset), start, {"site": "x"})
    now = MONDAY + timedelta(days=2, hours=2)
    assert ScoringJob(collector.sessions, CONFIG, day_slots=1).run(now) is not None
    with collector.sessions.begin() as session:
        session.execute(ScoreRollup.__table__.delete())  # as after an upgrade
    with collector.sessions.begin() as session:
        assert rollups.refresh_due(session, [], CONFIG.xla_target, now) == 3
    with collector.sessions() as session:
        view = fleet.overview(session, CONFIG, now.date(), 7)
        periods = device_periods(day_scores(session, date(2026, 11, 16), now.date()), CONFIG)
    trend = dict(view.trend)
    assert all(trend[MONDAY.date() + timedelta(days=d)] is not None for d in (0, 1, 2))
    assert trend[MONDAY.date() - timedelta(days=1)] is None  # no data: no point
    assert view.fleet.peak_devices == 5 and view.fleet.devices == 15
    assert view.worst["site"][0].value == "x"
    assert view.xla_weeks[-1][1] == 15  # device-days of the week
    # the range's score is the mean over device-days; a device's own, over its days: close here
    per_device = score_group(periods.values(), CONFIG)
    assert per_device is not None
    assert abs(view.fleet.score - per_device.score) < 2  # type: ignore[operator]


def test_a_tag_that_names_devices_is_not_rolled_up(collector: Collector, monkeypatch: Any) -> None:
    """An asset tag (a value per device) would write a row per device per day, for groups too
    small to show: past MAX_TAG_VALUES values on a day it is left out; grouping tags stay."""
    monkeypatch.setattr(rollups, "MAX_TAG_VALUES", 3)
    with collector.sessions.begin() as session:
        laptops = [add_device(session, f"laptop-{i}") for i in range(5)]
    for i, device in enumerate(laptops):
        tags = {"site": "brussels", "asset": f"A-{i}"}
        send(collector.sessions, device, stream(MONDAY, 60, i + 2), MONDAY + timedelta(hours=2),
             tags)  # fmt: skip
    assert ScoringJob(collector.sessions, CONFIG, day_slots=1).run(MONDAY + timedelta(hours=2))
    with collector.sessions() as session:
        dimensions = set(session.scalars(select(ScoreRollup.dimension).distinct()))
    assert {"site", "os"} <= dimensions and "asset" not in dimensions
