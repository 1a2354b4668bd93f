"""Placing samples in event time: clock-offset correction and dropping impossible times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dexpulse.collector.timeline import Placement, TimePolicy, place

POLICY = TimePolicy()  # 300 s tolerance, 300 s into the future, 30 days back
RECEIVED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
DAY = timedelta(days=1)


def kept(placement: Placement) -> list[datetime]:
    return [t for t in placement.times if t is not None]


# Tolerance: network delay and small clock drift move nothing.


@pytest.mark.parametrize("skew", [timedelta(minutes=4), -timedelta(minutes=4), timedelta(0)])
def test_offset_within_tolerance_is_not_corrected(skew: timedelta) -> None:
    sent_at = RECEIVED - skew
    times = [RECEIVED - 10 * MIN, RECEIVED - 5 * MIN, RECEIVED - timedelta(seconds=1)]
    placement = place(times, sent_at, RECEIVED, POLICY)
    assert placement.offset_s == 0.0
    assert placement.times == times
    assert placement.dropped == {}


@pytest.mark.parametrize("seconds", [300.0, -300.0])
def test_offset_exactly_at_tolerance_is_not_corrected(seconds: float) -> None:
    sent_at = RECEIVED - timedelta(seconds=seconds)
    placement = place([RECEIVED - MIN], sent_at, RECEIVED, POLICY)
    assert placement.offset_s == 0.0
    assert placement.times == [RECEIVED - MIN]


# Beyond tolerance: the device clock is wrong and every sample is shifted.


def test_clock_behind_beyond_tolerance_shifts_every_sample_forward() -> None:
    skew = timedelta(hours=1, seconds=30)
    sent_at = RECEIVED - skew  # device clock reads an hour and a half-minute early
    times = [sent_at - 20 * MIN, sent_at - 10 * MIN, sent_at]
    placement = place(times, sent_at, RECEIVED, POLICY)
    assert placement.offset_s == 3630.0
    assert placement.times == [RECEIVED - 20 * MIN, RECEIVED - 10 * MIN, RECEIVED]
    assert placement.dropped == {}


def test_clock_ahead_beyond_tolerance_shifts_every_sample_back() -> None:
    sent_at = RECEIVED + 2 * DAY  # device clock two days fast
    times = [sent_at - 3 * MIN, sent_at - 2 * MIN, sent_at - MIN]
    placement = place(times, sent_at, RECEIVED, POLICY)
    assert placement.offset_s == -2 * 86400.0
    assert placement.times == [RECEIVED - 3 * MIN, RECEIVED - 2 * MIN, RECEIVED - MIN]
    assert placement.dropped == {}


def test_offset_just_beyond_tolerance_is_corrected() -> None:
    sent_at = RECEIVED - timedelta(seconds=301)
    placement = place([sent_at - MIN], sent_at, RECEIVED, POLICY)
    assert placement.offset_s == 301.0
    assert placement.times == [RECEIVED - MIN]


def test_samples_are_judged_after_correction() -> None:
    sent_at = RECEIVED + DAY  # clock a day fast: its "now" looks a day in the future
    looks_future = sent_at - MIN
    looks_fine = RECEIVED - 29 * DAY - 12 * 60 * MIN  # becomes 30.5 days old once corrected
    placement = place([looks_future, looks_fine], sent_at, RECEIVED, POLICY)
    assert placement.times == [RECEIVED - MIN, None]
    assert placement.dropped == {"ts_too_old": 1}


def test_zero_tolerance_policy_corrects_any_offset() -> None:
    policy = TimePolicy(skew_tolerance_s=0.0)
    sent_at = RECEIVED - timedelta(seconds=2)
    placement = place([sent_at], sent_at, RECEIVED, policy)
    assert placement.offset_s == 2.0
    assert placement.times == [RECEIVED]


# Dropping: impossible or out-of-retention samples go, the rest of the batch stays.


def test_sample_in_the_future_is_dropped() -> None:
    edge = RECEIVED + timedelta(seconds=300)
    past_edge = edge + timedelta(microseconds=1)
    placement = place([edge, past_edge], RECEIVED, RECEIVED, POLICY)
    assert placement.times == [edge, None]
    assert placement.dropped == {"ts_in_future": 1}


def test_sample_older_than_max_age_is_dropped() -> None:
    edge = RECEIVED - 30 * DAY
    past_edge = edge - timedelta(microseconds=1)
    placement = place([edge, past_edge], RECEIVED, RECEIVED, POLICY)
    assert placement.times == [edge, None]
    assert placement.dropped == {"ts_too_old": 1}


def test_drops_are_counted_by_reason_and_order_and_length_are_kept() -> None:
    ok_1 = RECEIVED - 5 * MIN
    future_1 = RECEIVED + DAY
    old = RECEIVED - 31 * DAY
    ok_2 = RECEIVED - 3 * DAY
    future_2 = RECEIVED + 10 * MIN
    ok_3 = RECEIVED - 20 * DAY
    times = [ok_1, future_1, old, ok_2, future_2, ok_3]
    placement = place(times, RECEIVED, RECEIVED, POLICY)
    assert placement.times == [ok_1, None, None, ok_2, None, ok_3]
    assert placement.dropped == {"ts_in_future": 2, "ts_too_old": 1}


def test_drops_after_a_correction_use_the_corrected_time() -> None:
    sent_at = RECEIVED - timedelta(hours=2)  # clock two hours slow
    times = [sent_at - MIN, sent_at + timedelta(hours=1), sent_at + timedelta(hours=3)]
    placement = place(times, sent_at, RECEIVED, POLICY)
    assert placement.offset_s == 7200.0
    assert placement.times == [RECEIVED - MIN, None, None]
    assert placement.dropped == {"ts_in_future": 2}


def test_empty_batch_places_nothing() -> None:
    placement = place([], RECEIVED - timedelta(hours=1), RECEIVED, POLICY)
    assert placement.times == []
    assert placement.dropped == {}
    assert placement.offset_s == 3600.0


# Timestamps at the edge of the datetime range come from devices too (any valid RFC 3339
# instant is accepted by the schema); they must be dropped like any other, not crash the batch.


def test_far_future_sample_from_a_slow_clock_is_dropped_not_an_error() -> None:
    sent_at = RECEIVED - timedelta(hours=1)
    far_future = datetime.max.replace(tzinfo=UTC)
    placement = place([sent_at - 2 * MIN, far_future], sent_at, RECEIVED, POLICY)
    assert placement.times == [RECEIVED - 2 * MIN, None]
    assert placement.dropped == {"ts_in_future": 1}


def test_far_past_sample_from_a_fast_clock_is_dropped_not_an_error() -> None:
    sent_at = RECEIVED + timedelta(hours=1)
    far_past = datetime.min.replace(tzinfo=UTC)
    placement = place([RECEIVED, far_past], sent_at, RECEIVED, POLICY)
    assert placement.times == [RECEIVED - 60 * MIN, None]
    assert placement.dropped == {"ts_too_old": 1}


# Properties over any batch.

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

arrivals = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=365 * 100)).map(
    lambda d: EPOCH + d
)
skews = st.one_of(
    st.timedeltas(min_value=-timedelta(minutes=10), max_value=timedelta(minutes=10)),
    st.timedeltas(min_value=-timedelta(days=400), max_value=timedelta(days=400)),
)
sample_offsets = st.lists(
    st.timedeltas(min_value=-timedelta(days=60), max_value=timedelta(days=60)), max_size=50
)
policies = st.builds(
    TimePolicy,
    skew_tolerance_s=st.floats(min_value=0, max_value=3600),
    max_future_s=st.floats(min_value=0, max_value=86400),
    max_age_s=st.floats(min_value=0, max_value=90 * 86400),
)


@st.composite
def batches(
    draw: st.DrawFn,
) -> tuple[list[datetime], datetime, datetime, TimePolicy]:
    received_at = draw(arrivals)
    sent_at = received_at - draw(skews)
    times = [sent_at + d for d in draw(sample_offsets)]
    return times, sent_at, received_at, draw(policies)


@given(batches())
def test_every_sample_gets_a_position(
    batch: tuple[list[datetime], datetime, datetime, TimePolicy],
) -> None:
    times, sent_at, received_at, policy = batch
    assert len(place(times, sent_at, received_at, policy).times) == len(times)


@given(batches())
def test_every_sample_is_kept_or_counted_as_dropped(
    batch: tuple[list[datetime], datetime, datetime, TimePolicy],
) -> None:
    times, sent_at, received_at, policy = batch
    placement = place(times, sent_at, received_at, policy)
    assert len(kept(placement)) + sum(placement.dropped.values()) == len(times)
    assert set(placement.dropped) <= {"ts_in_future", "ts_too_old"}
    assert all(count > 0 for count in placement.dropped.values())


@given(batches())
def test_kept_times_lie_within_the_accepted_window(
    batch: tuple[list[datetime], datetime, datetime, TimePolicy],
) -> None:
    times, sent_at, received_at, policy = batch
    earliest = received_at - timedelta(seconds=policy.max_age_s)
    latest = received_at + timedelta(seconds=policy.max_future_s)
    for t in kept(place(times, sent_at, received_at, policy)):
        assert earliest <= t <= latest


@given(batches())
def test_within_tolerance_kept_times_are_the_inputs(
    batch: tuple[list[datetime], datetime, datetime, TimePolicy],
) -> None:
    times, sent_at, received_at, policy = batch
    placement = place(times, sent_at, received_at, policy)
    if abs((received_at - sent_at).total_seconds()) <= policy.skew_tolerance_s:
        assert placement.offset_s == 0.0
        assert all(t is None or t == ts for t, ts in zip(placement.times, times, strict=True))
    else:
        offset = received_at - sent_at
        assert placement.offset_s == offset.total_seconds()
        assert all(
            t is None or t == ts + offset for t, ts in zip(placement.times, times, strict=True)
        )
