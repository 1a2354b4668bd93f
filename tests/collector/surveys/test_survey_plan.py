"""Who is asked which survey and when (the pure planner): targeting, the stable sample,
schedule rounds and their window, and the surveys after a resolved outage."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dexpulse.collector.surveys.plan import (
    AFTER_OUTAGE_DELAY,
    Campaign,
    DeviceFacts,
    ResolvedOutage,
    campaign_of,
    current_round,
    outage_offers,
    sampled,
    scheduled_offers,
    targets,
)

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
DAY, HOUR, MIN = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)


def campaign(**changes: Any) -> Campaign:
    base = Campaign(
        id=7, target={}, sample_rate=1.0, trigger="schedule", trigger_signals=(),
        starts_at=T0, ends_at=None, repeat_days=None, respond_within=72 * HOUR,
    )  # fmt: skip
    return replace(base, **changes)


def device(model: str | None = "XPS 13", **tags: str) -> DeviceFacts:
    return DeviceFacts(uuid.uuid4(), tags or {"site": "brussels"}, model, "windows")


# -- targeting -------------------------------------------------------------------------------


def test_an_empty_target_is_everyone() -> None:
    assert targets({}, device())
    assert targets({"tags": {}, "sites": [], "models": []}, device(model=None))


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (device("XPS 13", site="brussels", department="finance"), True),
        (device("XPS 13", site="gent", department="finance"), False),  # site
        (device("XPS 13", site="brussels", department="sales"), False),  # tag
        (device("XPS 13", site="brussels"), False),  # tag missing
        (device("T14", site="brussels", department="finance"), False),  # model
        (device(None, site="brussels", department="finance"), False),  # model unknown
        (device("Latitude", site="antwerp", department="finance"), True),
    ],
)
def test_every_part_of_the_target_must_match(facts: DeviceFacts, expected: bool) -> None:
    target = {
        "tags": {"department": "finance"},
        "sites": ["brussels", "antwerp"],
        "models": ["XPS 13", "Latitude"],
    }
    assert targets(target, facts) is expected


def test_sites_match_the_site_tag_only() -> None:
    assert not targets({"sites": ["brussels"]}, device(office="brussels"))
    assert targets({"sites": ["brussels"]}, device(site="brussels"))


# -- the sample ------------------------------------------------------------------------------


def ids(seed: int, n: int) -> list[uuid.UUID]:
    rng = random.Random(seed)
    return [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(n)]


@settings(max_examples=25, deadline=None)
@given(
    campaign_id=st.integers(min_value=1, max_value=2**31 - 1),
    rate=st.floats(min_value=0.05, max_value=0.95),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_the_sample_is_close_to_the_rate_and_the_same_every_time(
    campaign_id: int, rate: float, seed: int
) -> None:
    fleet = ids(seed, 10_000)
    chosen = [d for d in fleet if sampled(campaign_id, d, rate)]
    # binomial: the standard deviation of the share is at most 0.005 here; 5 of them
    assert abs(len(chosen) / len(fleet) - rate) < 0.025
    assert chosen == [d for d in fleet if sampled(campaign_id, d, rate)]


def test_a_full_rate_asks_everyone_and_campaigns_sample_independently() -> None:
    fleet = ids(1, 10_000)
    assert all(sampled(3, d, 1.0) for d in fleet)
    first = {d for d in fleet if sampled(1, d, 0.5)}
    second = {d for d in fleet if sampled(2, d, 0.5)}
    # not the same half of the fleet every time: about a quarter is in both
    assert abs(len(first & second) / len(fleet) - 0.25) < 0.025


def test_a_larger_rate_keeps_everyone_a_smaller_one_chose() -> None:
    fleet = ids(2, 2_000)
    small = {d for d in fleet if sampled(5, d, 0.2)}
    large = {d for d in fleet if sampled(5, d, 0.6)}
    assert small < large


# -- schedule rounds -------------------------------------------------------------------------


def test_rounds_of_repeat_days_and_the_window_edges() -> None:
    weekly = campaign(repeat_days=7, ends_at=T0 + 21 * DAY)
    assert current_round(weekly, T0 - timedelta(microseconds=1)) is None
    assert current_round(weekly, T0) == (1, T0)
    assert current_round(weekly, T0 + 7 * DAY - timedelta(microseconds=1)) == (1, T0)
    assert current_round(weekly, T0 + 7 * DAY) == (2, T0 + 7 * DAY)
    assert current_round(weekly, T0 + 20 * DAY) == (3, T0 + 14 * DAY)
    assert current_round(weekly, T0 + 21 * DAY - timedelta(microseconds=1)) == (3, T0 + 14 * DAY)
    assert current_round(weekly, T0 + 21 * DAY) is None
    once = campaign()
    assert current_round(once, T0 + 400 * DAY) == (1, T0)


def test_each_round_asks_every_targeted_sampled_device_once_under_its_own_id() -> None:
    weekly = campaign(repeat_days=7, target={"sites": ["brussels"]}, sample_rate=0.5)
    fleet = [device(site="brussels") for _ in range(200)] + [device(site="gent")]
    first = scheduled_offers(weekly, fleet, T0 + HOUR)
    chosen = {d.id for d in fleet if d.tags["site"] == "brussels" and sampled(7, d.id, 0.5)}
    assert {o.device_id for o in first} == chosen and 60 < len(chosen) < 140
    assert {o.survey_id for o in first} == {"c7-r1"}
    offer = first[0]
    assert (offer.campaign_id, offer.outage_id) == (7, None)
    assert (offer.not_before, offer.expires_at) == (T0 + HOUR, T0 + HOUR + 72 * HOUR)
    second = scheduled_offers(weekly, fleet, T0 + 7 * DAY)
    assert {o.survey_id for o in second} == {"c7-r2"}
    assert {o.device_id for o in second} == chosen  # the same sample, round after round
    assert second[0].not_before == T0 + 7 * DAY


def test_a_device_has_its_whole_response_window_within_the_round() -> None:
    daily = campaign(repeat_days=1, respond_within=72 * HOUR)  # the round ends first
    assert scheduled_offers(daily, [device()], T0)[0].expires_at == T0 + DAY
    weekly = campaign(repeat_days=7, respond_within=24 * HOUR)
    late = scheduled_offers(weekly, [device()], T0 + 23 * HOUR)[0]  # enrolled late in the round
    assert (late.not_before, late.expires_at) == (T0 + 23 * HOUR, T0 + 47 * HOUR)
    last = scheduled_offers(weekly, [device()], T0 + 7 * DAY - HOUR)[0]
    assert last.expires_at == T0 + 7 * DAY  # never past the round
    ending = campaign(ends_at=T0 + 10 * HOUR)
    assert scheduled_offers(ending, [device()], T0 + 9 * HOUR)[0].expires_at == T0 + 10 * HOUR
    assert scheduled_offers(ending, [device()], T0 + 10 * HOUR) == []
    assert scheduled_offers(campaign(), [device()], T0 - MIN) == []


def test_an_outage_campaign_has_no_schedule_rounds() -> None:
    assert scheduled_offers(campaign(trigger="outage_resolved"), [device()], T0 + HOUR) == []


# -- after outages ---------------------------------------------------------------------------


def outage(affected: list[DeviceFacts], signal: str = "wifi", resolved: datetime = T0) -> Any:
    return ResolvedOutage(f"out-{signal}-{resolved:%H%M}", signal, resolved,
                          tuple(d.id for d in affected))  # fmt: skip


def test_only_devices_the_outage_affected_and_the_campaign_targets_are_asked() -> None:
    after = campaign(trigger="outage_resolved", target={"sites": ["brussels"]})
    hit = [device(site="brussels"), device(site="brussels"), device(site="gent")]
    spared = device(site="brussels")
    unknown = device(site="brussels")  # revoked since: not among the devices
    known = {d.id: d for d in [*hit, spared]}
    found = outage_offers(after, [outage([*hit, unknown])], known, T0 + MIN)
    assert {o.device_id for o in found} == {hit[0].id, hit[1].id}
    assert {o.survey_id for o in found} == {"c7-oout-wifi-0900"}
    assert {o.outage_id for o in found} == {"out-wifi-0900"}
    assert {(o.not_before, o.expires_at) for o in found} == {
        (T0 + AFTER_OUTAGE_DELAY, T0 + AFTER_OUTAGE_DELAY + 72 * HOUR)
    }
    assert AFTER_OUTAGE_DELAY == 10 * MIN


def test_outage_offers_are_sampled_like_scheduled_ones() -> None:
    after = campaign(trigger="outage_resolved", sample_rate=0.3)
    fleet = [device() for _ in range(300)]
    found = outage_offers(after, [outage(fleet)], {d.id: d for d in fleet}, T0)
    assert {o.device_id for o in found} == {d.id for d in fleet if sampled(7, d.id, 0.3)}


def test_only_outages_of_the_listed_signals_count() -> None:
    after = campaign(trigger="outage_resolved", trigger_signals=("wifi", "network_probe"))
    d = device()
    outages = [outage([d], "wifi"), outage([d], "app_crash"), outage([d], "network_probe")]
    found = outage_offers(after, outages, {d.id: d}, T0 + MIN)
    assert sorted(o.outage_id or "" for o in found) == ["out-network_probe-0900", "out-wifi-0900"]
    anything = campaign(trigger="outage_resolved")
    assert len(outage_offers(anything, outages, {d.id: d}, T0 + MIN)) == 3


def test_outages_outside_the_campaign_or_its_window_ask_nobody() -> None:
    d = device()
    known = {d.id: d}
    after = campaign(trigger="outage_resolved", starts_at=T0, ends_at=T0 + DAY)
    assert outage_offers(after, [outage([d], resolved=T0 - MIN)], known, T0 + HOUR) == []
    assert outage_offers(after, [outage([d], resolved=T0 + DAY)], known, T0 + DAY) == []
    assert outage_offers(after, [outage([d], resolved=T0)], known, T0 - MIN) == []  # not started
    # an outage long resolved: its window has passed
    late = T0 + AFTER_OUTAGE_DELAY + 72 * HOUR
    assert outage_offers(campaign(trigger="outage_resolved"), [outage([d])], known, late) == []
    assert outage_offers(campaign(), [outage([d])], known, T0 + MIN) == []  # a schedule one


def test_no_survey_whose_delay_ends_after_the_campaign_does() -> None:
    """Resolved five minutes before the end: the survey could only be asked after it."""
    d = device()
    after = campaign(trigger="outage_resolved", ends_at=T0 + HOUR)
    resolved = T0 + HOUR - 5 * MIN
    assert outage_offers(after, [outage([d], resolved=resolved)], {d.id: d}, resolved) == []
    earlier = T0 + 30 * MIN  # asked at 09:40, open until the end at 10:00
    (offer,) = outage_offers(after, [outage([d], resolved=earlier)], {d.id: d}, earlier)
    assert (offer.not_before, offer.expires_at) == (earlier + 10 * MIN, T0 + HOUR)


def test_the_campaign_a_survey_id_names() -> None:
    assert campaign_of("c12-r3") == 12
    assert campaign_of("c5-oabc-123") == 5
    assert [campaign_of(s) for s in ("feedback", "c-r1", "cx-r1", "12-r1", "c12")] == [None] * 5
