"""The scores API over what the scoring job stored: fleet, groups, one device, the XLA report
and its CSV export; small groups counted but not shown; bad requests refused clearly."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from scores_support import core_hours, send, stream
from sqlalchemy.orm import Session
from support import Collector, add_device

from dexpulse.collector.models import Device
from dexpulse.collector.scores.job import ScoringJob
from dexpulse.collector.scores.queries import day_scores
from dexpulse.collector.scoring import PeriodScore, ScoringConfig, score_period
from dexpulse.collector.security import Role

MONDAY = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
CONFIG = ScoringConfig()
NASTY = '=HYPERLINK("http://x")'


@pytest.fixture
def scored(collector: Collector) -> tuple[Collector, dict[str, str], dict[uuid.UUID, list[Any]]]:
    """Six laptops, five at one site and one at a site named like a spreadsheet formula, with
    two hours of samples on a Monday and on the Tuesday of the week after; scored."""
    with collector.sessions.begin() as session:
        laptops = [add_device(session, f"laptop-{i}") for i in range(6)]
    sent: dict[uuid.UUID, list[Any]] = {}
    for i, device in enumerate(laptops):
        tags = {"site": "brussels" if i < 5 else NASTY, "department": "finance"}
        first, second = stream(MONDAY, 120, i + 2), stream(MONDAY + timedelta(days=8), 60, i + 3)
        send(collector.sessions, device, first, MONDAY + timedelta(hours=3), tags)
        send(collector.sessions, device, second, MONDAY + timedelta(days=8, hours=2), tags)
        sent[device] = [first, second]
    assert (
        ScoringJob(collector.sessions, CONFIG, day_slots=1).run(MONDAY + timedelta(days=9))
        is not None
    )
    return collector, collector.api_key(Role.VIEWER), sent


RANGE = {"since": "2026-11-16", "until": "2026-11-29"}


def device_days(
    collector: Collector, start: date, end: date, who: set[uuid.UUID] | None = None
) -> list[PeriodScore]:
    with collector.sessions() as session:
        stored = day_scores(session, start, end)
    return [s for device, days in stored.items() if who is None or device in who
            for s in days.values() if s.score is not None]  # fmt: skip


def mean(days: list[PeriodScore]) -> float:
    return sum(d.score or 0.0 for d in days) / len(days)


def test_the_fleet_score_is_the_mean_of_its_device_days_with_a_breakdown_that_adds_up(
    scored: Any,
) -> None:
    collector, key, _ = scored
    response = collector.client.get("/api/v1/scores/fleet", params=RANGE, headers=key)
    assert response.status_code == 200, response.text
    body = response.json()
    days = device_days(collector, date(2026, 11, 16), date(2026, 11, 29))
    assert (body["devices"], body["device_days"], body["shown"]) == (6, 12, True)
    assert body["score"] == round(mean(days), 1)
    assert 0 < body["score"] < 100
    network = [d.components["network"] for d in days]
    assert body["components"]["network"] == round(sum(network) / len(network), 1)
    share = sum(1 for d in days if (d.score or 0) >= 80) / len(days)
    assert body["at_or_above_target"] == round(share, 3)
    assert abs(100 - sum(x["points"] for x in body["losses"]) - body["score"]) < 0.1 * (
        len(body["losses"]) + 1
    )
    assert all(x["detail"] for x in body["losses"])
    assert (body["since"], body["until"], body["xla_target"]) == ("2026-11-16", "2026-11-29", 80.0)


def test_groups_of_fewer_than_five_devices_are_counted_but_not_shown(scored: Any) -> None:
    collector, key, _ = scored
    response = collector.client.get(
        "/api/v1/scores/groups", params={**RANGE, "by": "site"}, headers=key
    )
    assert response.status_code == 200, response.text
    groups = {g["group"]: g for g in response.json()["groups"]}
    assert groups["brussels"]["devices"] == 5 and groups["brussels"]["shown"] is True
    assert groups["brussels"]["score"] is not None and groups["brussels"]["losses"]
    assert groups["brussels"]["device_days"] == 10
    assert groups[NASTY] == {
        "group": NASTY, "devices": 1, "device_days": 2, "shown": False, "score": None,
        "components": {}, "losses": [], "at_or_above_target": None,
    }  # fmt: skip
    by_department = collector.client.get(
        "/api/v1/scores/groups", params={**RANGE, "by": "department"}, headers=key
    ).json()["groups"]
    assert [(g["group"], g["devices"], g["shown"]) for g in by_department] == [("finance", 6, True)]
    # any column or tag is a dimension: the OS build, say
    by_build = collector.client.get(
        "/api/v1/scores/groups", params={**RANGE, "by": "os_build"}, headers=key
    ).json()["groups"]
    assert sum(g["device_days"] for g in by_build) == 12
    unknown = collector.client.get(
        "/api/v1/scores/groups", params={**RANGE, "by": "floor"}, headers=key
    )
    assert unknown.status_code == 200 and unknown.json()["groups"] == []


def test_one_device_day_by_day(scored: Any) -> None:
    collector, key, sent = scored
    device = next(iter(sent))
    response = collector.client.get(f"/api/v1/scores/devices/{device}", params=RANGE, headers=key)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["hostname"] == "laptop-0"
    assert [d["day"] for d in body["days"]] == ["2026-11-16", "2026-11-24"]
    # each day is the core's roll-up of that day's hours, the range the roll-up of the days
    first, second = sent[device]
    days = [score_period(core_hours(part, CONFIG).values(), CONFIG) for part in (first, second)]
    assert [d["score"] for d in body["days"]] == [round(d.score or -1, 1) for d in days]
    assert body["score"] == round(score_period(days, CONFIG).score or -1, 1)


def test_the_xla_report_per_group_per_week_and_as_csv(scored: Any) -> None:
    collector, key, _ = scored
    params = {**RANGE, "by": "site", "target": 60}
    response = collector.client.get("/api/v1/scores/xla", params=params, headers=key)
    assert response.status_code == 200, response.text
    rows = response.json()["rows"]
    assert [(r["week"], r["group"], r["devices"]) for r in rows] == [
        ("2026-11-16", "brussels", 5), ("2026-11-16", NASTY, 1),
        ("2026-11-23", "brussels", 5), ("2026-11-23", NASTY, 1),
    ]  # fmt: skip
    brussels = {device for device, _ in list(scored[2].items())[:5]}
    for row in rows:
        if row["group"] == NASTY:
            assert row["share"] is None and row["at_or_above_target"] is None
            continue
        monday = date.fromisoformat(row["week"])
        days = device_days(collector, monday, monday + timedelta(days=6), brussels)
        assert row["device_days"] == len(days) == 5
        assert row["at_or_above_target"] == sum(1 for d in days if (d.score or 0) >= 60)
        assert row["share"] == round(row["at_or_above_target"] / 5, 3)
        assert row["mean_score"] == round(mean(days), 1)
    exported = collector.client.get(
        "/api/v1/scores/xla", params={**params, "format": "csv"}, headers=key
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(exported.text)))
    assert table[0] == ["week", "group_by", "group", "devices", "device_days",
                        "at_or_above_target", "share", "target", "mean_score"]  # fmt: skip
    assert len(table) == 5
    assert table[2][2] == "'" + NASTY  # a formula-looking tag is never a formula in a sheet
    assert table[2][5:7] == ["", ""]


def test_a_higher_target_never_raises_the_share(scored: Any) -> None:
    collector, key, _ = scored
    shares = []
    for target in (0, 50, 70, 90, 100):
        rows = collector.client.get(
            "/api/v1/scores/xla", params={**RANGE, "target": target}, headers=key
        ).json()["rows"]
        shares.append([r["share"] for r in rows])
    assert shares[0] == [1.0, 1.0]
    for lower, higher in zip(shares, shares[1:], strict=False):
        assert all(a >= b for a, b in zip(lower, higher, strict=True))


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/v1/scores/fleet", {"since": "2026-11-20", "until": "2026-11-10"}, 400),
        ("/api/v1/scores/fleet", {"since": "2024-01-01", "until": "2026-11-10"}, 400),
        ("/api/v1/scores/fleet", {"since": "yesterday"}, 422),
        ("/api/v1/scores/fleet", {"until": "0001-01-01"}, 400),  # found by the fuzzer
        ("/api/v1/scores/xla", {"since": "9999-12-30", "until": "9999-12-31"}, 400),
        ("/api/v1/scores/groups", {"by": "site; drop table"}, 422),
        ("/api/v1/scores/groups", {}, 422),
        ("/api/v1/scores/xla", {"target": 101}, 422),
        ("/api/v1/scores/xla", {"format": "xlsx"}, 422),
        (f"/api/v1/scores/devices/{uuid.UUID(int=7)}", {}, 404),
        ("/api/v1/scores/devices/not-a-uuid", {}, 422),
    ],
)
def test_bad_requests_get_a_clear_error(
    collector: Collector, path: str, params: dict[str, Any], status: int
) -> None:
    key = collector.api_key(Role.VIEWER)
    response = collector.client.get(path, params=params, headers=key)
    assert response.status_code == status, response.text
    assert response.json()["error"]
    assert collector.client.get(path, params=params).status_code == 401


def test_an_empty_fleet_has_no_score_rather_than_an_error(collector: Collector) -> None:
    with collector.sessions.begin() as session:
        assert isinstance(session, Session) and session.query(Device).count() == 0
    key = collector.api_key(Role.VIEWER)
    body = collector.client.get("/api/v1/scores/fleet", headers=key).json()
    assert (body["devices"], body["shown"], body["score"]) == (0, False, None)
    assert collector.client.get("/api/v1/scores/xla", headers=key).json()["rows"] == []
