"""Pulse-survey throttling: the employee is never nagged, whatever the clock, offers and user do.

Time is a plain datetime stepped forward by the test (a fake clock); nothing sleeps.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dexpulse.agent.surveys import (
    MAX_FORGOTTEN,
    RETENTION,
    Offer,
    Rules,
    State,
    close,
    due,
    shown,
    snooze,
    sweep,
)

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
"""A Monday, 10:00 UTC."""
H = timedelta(hours=1)
DAY = timedelta(days=1)
NO_QUIET = Rules(quiet_start=time(0, 0), quiet_end=time(0, 0), weekend_quiet=False)
"""The default intervals, with no quiet time, for the tests that are not about quiet time."""


def local(now: datetime, offset: timedelta = timedelta(0)) -> datetime:
    """What the caller passes as ``local_now``: the same instant as naive wall-clock time."""
    return (now + offset).replace(tzinfo=None)


def offer(
    survey_id: str,
    *,
    not_before: datetime = T0 - DAY,
    expires_at: datetime = T0 + 30 * DAY,
) -> Offer:
    return Offer(
        id=survey_id,
        campaign_id=f"campaign-{survey_id}",
        question="How satisfied are you with your laptop's speed?",
        answer="rating",
        comment=True,
        anonymous=False,
        not_before=not_before,
        expires_at=expires_at,
    )


def ask(
    offers: Sequence[Offer],
    state: State,
    now: datetime,
    rules: Rules = NO_QUIET,
    *,
    busy: bool = False,
    offset: timedelta = timedelta(0),
) -> str | None:
    """The id due() picks, or None."""
    picked = due(offers, state, now, local(now, offset), rules, busy)
    return None if picked is None else picked.id


# --- the interval between surveys ---------------------------------------------------------


def test_at_most_one_survey_per_min_interval() -> None:
    offers = [offer("a"), offer("b")]
    assert ask(offers, State(), T0) == "a"
    state = shown(State(), "a", T0)
    assert ask(offers, state, T0) is None
    assert ask(offers, state, T0 + 23 * H + timedelta(minutes=59)) is None
    state = close(state, "a", "answered", T0 + H)
    assert ask(offers, state, T0 + 23 * H + timedelta(minutes=59)) is None
    assert ask(offers, state, T0 + 24 * H) == "b"


def test_an_ignored_prompt_comes_back_only_after_min_interval() -> None:
    offers = [offer("a")]
    state = shown(State(), "a", T0)
    assert ask(offers, state, T0 + timedelta(minutes=1)) is None
    assert ask(offers, state, T0 + DAY - timedelta(seconds=1)) is None
    assert ask(offers, state, T0 + DAY) == "a"


def test_min_interval_is_configurable_and_zero_means_no_spacing() -> None:
    offers = [offer("a"), offer("b")]
    state = shown(State(), "a", T0)
    rules = Rules(
        min_interval=timedelta(0),
        quiet_start=time(0),
        quiet_end=time(0),
        weekend_quiet=False,
    )
    assert ask(offers, state, T0, rules) == "a"
    state = close(state, "a", "dismissed", T0)
    assert ask(offers, state, T0, rules) == "b"


def test_a_clock_stepped_back_does_not_reopen_the_interval() -> None:
    offers = [offer("a"), offer("b")]
    state = close(shown(State(), "a", T0), "a", "answered", T0)
    assert ask(offers, state, T0 - 2 * H) is None
    assert ask(offers, state, T0 + DAY) == "b"


# --- quiet time and focus -------------------------------------------------------------------


QUIET_WEEKDAYS = Rules(weekend_quiet=False)
"""The default quiet hours, 18:00 to 09:00 local, wrapping past midnight."""


@pytest.mark.parametrize(
    ("wall_clock", "expected"),
    [
        (time(9, 0), "a"),
        (time(12, 0), "a"),
        (time(17, 59), "a"),
        (time(18, 0), None),
        (time(23, 59), None),
        (time(0, 0), None),
        (time(3, 0), None),
        (time(8, 59), None),
    ],
)
def test_quiet_hours_wrap_past_midnight(wall_clock: time, expected: str | None) -> None:
    # The user is on UTC+2: the UTC instant is two hours behind their wall clock.
    offset = 2 * H
    wall = datetime.combine(T0.date(), wall_clock, tzinfo=UTC)
    now = wall - offset
    offers = [offer("a", not_before=now - DAY)]
    assert ask(offers, State(), now, QUIET_WEEKDAYS, offset=offset) == expected


def test_quiet_hours_follow_local_time_not_utc() -> None:
    offers = [offer("a")]
    now = T0.replace(hour=16)  # 16:00 UTC
    assert ask(offers, State(), now, QUIET_WEEKDAYS) == "a"
    assert ask(offers, State(), now, QUIET_WEEKDAYS, offset=2 * H) is None  # 18:00 local
    assert ask(offers, State(), now, QUIET_WEEKDAYS, offset=-8 * H) is None  # 08:00 local


def test_quiet_hours_within_one_day() -> None:
    rules = Rules(quiet_start=time(12, 0), quiet_end=time(13, 0), weekend_quiet=False)
    offers = [offer("a")]
    at = T0.replace
    assert ask(offers, State(), at(hour=11, minute=59), rules) == "a"
    assert ask(offers, State(), at(hour=12, minute=0), rules) is None
    assert ask(offers, State(), at(hour=12, minute=59), rules) is None
    assert ask(offers, State(), at(hour=13, minute=0), rules) == "a"
    assert ask(offers, State(), at(hour=23, minute=0), rules) == "a"


def test_equal_quiet_start_and_end_means_no_quiet_hours() -> None:
    rules = Rules(quiet_start=time(7, 0), quiet_end=time(7, 0), weekend_quiet=False)
    offers = [offer("a")]
    midnight = T0.replace(hour=0)
    for minutes in range(0, 24 * 60, 30):
        now = midnight + timedelta(minutes=minutes)
        assert ask(offers, State(), now, rules) == "a", now
    assert ask(offers, State(), T0.replace(hour=7), rules) == "a"


@pytest.mark.parametrize(
    ("day", "weekend_quiet", "expected"),
    [
        (datetime(2026, 1, 9, 12, tzinfo=UTC), True, "a"),  # Friday
        (datetime(2026, 1, 10, 12, tzinfo=UTC), True, None),  # Saturday
        (datetime(2026, 1, 11, 12, tzinfo=UTC), True, None),  # Sunday
        (datetime(2026, 1, 12, 12, tzinfo=UTC), True, "a"),  # Monday
        (datetime(2026, 1, 10, 12, tzinfo=UTC), False, "a"),
        (datetime(2026, 1, 11, 12, tzinfo=UTC), False, "a"),
    ],
)
def test_weekend_is_quiet(day: datetime, weekend_quiet: bool, expected: str | None) -> None:
    rules = Rules(quiet_start=time(0), quiet_end=time(0), weekend_quiet=weekend_quiet)
    offers = [offer("a", not_before=day - DAY, expires_at=day + DAY)]
    assert ask(offers, State(), day, rules) == expected


def test_weekend_is_the_local_weekend() -> None:
    rules = Rules(quiet_start=time(0), quiet_end=time(0), weekend_quiet=True)
    friday_night = datetime(2026, 1, 9, 23, 0, tzinfo=UTC)
    offers = [offer("a", not_before=friday_night - DAY)]
    assert ask(offers, State(), friday_night, rules) == "a"
    assert ask(offers, State(), friday_night, rules, offset=2 * H) is None  # Saturday 01:00


def test_nothing_while_busy() -> None:
    offers = [offer("a")]
    assert ask(offers, State(), T0, busy=True) is None
    assert ask(offers, State(), T0, busy=False) == "a"


# --- an offer's own window --------------------------------------------------------------------


def test_not_before_is_respected() -> None:
    offers = [offer("a", not_before=T0 + H)]
    assert ask(offers, State(), T0) is None
    assert ask(offers, State(), T0 + H - timedelta(seconds=1)) is None
    assert ask(offers, State(), T0 + H) == "a"


def test_expires_at_now_is_expired() -> None:
    offers = [offer("a", expires_at=T0)]
    assert ask(offers, State(), T0 - timedelta(seconds=1)) == "a"
    assert ask(offers, State(), T0) is None
    assert ask(offers, State(), T0 + DAY) is None


def test_order_is_not_before_then_id() -> None:
    offers = [
        offer("b", not_before=T0 - H),
        offer("c", not_before=T0 - 3 * H),
        offer("a", not_before=T0 - H),
        offer("0-late", not_before=T0 + H),
    ]
    state = State()
    picked = []
    for _ in range(3):
        survey_id = ask(offers, state, T0)
        assert survey_id is not None
        picked.append(survey_id)
        state = close(state, survey_id, "answered", T0)
    assert picked == ["c", "a", "b"]
    assert ask(offers, state, T0) is None


# --- snooze -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "until"),
    [
        (None, T0 + 12 * H),
        (timedelta(0), T0 + 12 * H),
        (timedelta(minutes=10), T0 + 12 * H),
        (timedelta(hours=11, minutes=59), T0 + 12 * H),
        (timedelta(hours=12), T0 + 12 * H),
        (timedelta(days=2), T0 + 2 * DAY),
    ],
)
def test_snooze_is_at_least_snooze_min(asked: timedelta | None, until: datetime) -> None:
    state = snooze(shown(State(), "a", T0), "a", T0, NO_QUIET, asked)
    assert state.snoozed_until == {"a": until}
    offers = [offer("a")]
    assert ask(offers, state, until - timedelta(seconds=1)) is None
    assert ask(offers, state, until) == "a"


def test_a_snoozed_survey_is_not_offered_until_its_snooze_ends() -> None:
    offers = [offer("a")]
    state = snooze(State(), "a", T0, NO_QUIET, 3 * DAY)
    assert ask(offers, state, T0) is None
    assert ask(offers, state, T0 + 2 * DAY) is None
    assert ask(offers, state, T0 + 3 * DAY) == "a"


def test_a_snoozed_survey_returns_within_min_interval_of_its_own_prompt() -> None:
    offers = [offer("a"), offer("b")]
    state = snooze(shown(State(), "a", T0), "a", T0, NO_QUIET)
    assert ask(offers, state, T0 + 11 * H) is None
    assert ask(offers, state, T0 + 12 * H) == "a"
    # The snooze's exception is used up by the prompt it allowed.
    state = shown(state, "a", T0 + 12 * H)
    assert state.snoozed_until == {}
    assert ask(offers, state, T0 + 13 * H) is None
    assert ask(offers, state, T0 + 12 * H + DAY - timedelta(seconds=1)) is None
    assert ask(offers, state, T0 + 12 * H + DAY) == "a"


def test_a_snoozed_survey_does_not_return_within_min_interval_of_another() -> None:
    offers = [offer("a"), offer("b")]
    state = snooze(shown(State(), "a", T0), "a", T0, NO_QUIET, 36 * H)
    assert ask(offers, state, T0 + DAY) == "b"  # a is still snoozed
    state = shown(state, "b", T0 + DAY)
    assert ask(offers, state, T0 + 36 * H) is None  # a's snooze is over, b was 12 h ago
    state = close(state, "b", "answered", T0 + DAY)
    assert ask(offers, state, T0 + 2 * DAY - timedelta(seconds=1)) is None
    assert ask(offers, state, T0 + 2 * DAY) == "a"


def test_a_snooze_still_respects_quiet_hours_and_busy() -> None:
    offers = [offer("a")]
    state = snooze(shown(State(), "a", T0), "a", T0, NO_QUIET)
    back = T0 + 12 * H  # 22:00
    assert ask(offers, state, back, QUIET_WEEKDAYS) is None
    assert ask(offers, state, back, busy=True) is None
    assert ask(offers, state, back + 11 * H, QUIET_WEEKDAYS) == "a"  # 09:00 next day


# --- how surveys end --------------------------------------------------------------------------


def test_max_shows_gives_up() -> None:
    offers = [offer("a")]
    state = State()
    for n in range(3):
        now = T0 + n * DAY
        assert ask(offers, state, now) == "a"
        state = shown(state, "a", now)
    assert state.shows == {"a": 3}
    assert ask(offers, state, T0 + 3 * DAY) is None
    assert ask(offers, state, T0 + 10 * DAY) is None


def test_max_shows_is_configurable() -> None:
    rules = Rules(max_shows=1, quiet_start=time(0), quiet_end=time(0), weekend_quiet=False)
    offers = [offer("a"), offer("b")]
    state = shown(State(), "a", T0)
    assert ask(offers, state, T0 + DAY, rules) == "b"


@pytest.mark.parametrize("how", ["answered", "dismissed"])
def test_answered_or_dismissed_never_again(how: Any) -> None:
    offers = [offer("a")]
    state = close(shown(State(), "a", T0), "a", how, T0)
    assert state.closed == {"a": how}
    for days in (1, 2, 7, 29):
        assert ask(offers, state, T0 + days * DAY) is None
    # Even one closed without ever having been prompted.
    assert ask(offers, close(State(), "a", how, T0), T0 + DAY) is None


def test_close_keeps_the_first_outcome() -> None:
    state = close(State(), "a", "answered", T0)
    again = close(state, "a", "dismissed", T0 + H)
    assert again.closed == {"a": "answered"}
    assert again.closed_at == {"a": T0}


def test_close_rejects_other_outcomes() -> None:
    with pytest.raises(ValueError, match="how"):
        close(State(), "a", "expired", T0)  # type: ignore[arg-type]


def test_close_ends_a_snooze() -> None:
    state = close(snooze(State(), "a", T0, NO_QUIET), "a", "dismissed", T0)
    assert state.snoozed_until == {}


def test_operations_return_new_states() -> None:
    before = shown(State(), "a", T0)
    after = snooze(before, "a", T0, NO_QUIET)
    after = shown(after, "b", T0 + DAY)
    after = close(after, "b", "answered", T0 + DAY)
    assert before == shown(State(), "a", T0)
    assert after.shows == {"a": 1, "b": 1}
    assert after.last_shown == T0 + DAY
    assert after.last_shown_id == "b"


# --- sweep --------------------------------------------------------------------------------------


def test_sweep_reports_expired_once() -> None:
    offers = [offer("a", expires_at=T0 + H), offer("b", expires_at=T0 + H), offer("c")]
    state = close(State(), "b", "answered", T0)
    state, reported = sweep(offers, state, T0 + H - timedelta(seconds=1), NO_QUIET)
    assert reported == []
    state, reported = sweep(offers, state, T0 + H, NO_QUIET)
    assert reported == [("a", "expired")]
    assert state.closed == {"a": "expired", "b": "answered"}
    state, reported = sweep(offers, state, T0 + 2 * H, NO_QUIET)
    assert reported == []
    assert state.closed == {"a": "expired", "b": "answered"}


def test_sweep_reports_given_up_once_after_the_last_prompt_had_its_turn() -> None:
    offers = [offer("a"), offer("b")]
    state = State()
    for n in range(3):
        state = shown(state, "a", T0 + n * DAY)
    state, reported = sweep(offers, state, T0 + 2 * DAY + H, NO_QUIET)
    assert reported == []  # the third prompt may still be answered
    state, reported = sweep(offers, state, T0 + 3 * DAY, NO_QUIET)
    assert reported == [("a", "given_up")]
    assert state.closed["a"] == "given_up"
    state, reported = sweep(offers, state, T0 + 4 * DAY, NO_QUIET)
    assert reported == []
    assert close(state, "a", "answered", T0 + 4 * DAY).closed["a"] == "given_up"


def test_sweep_given_up_wins_over_expired() -> None:
    offers = [offer("a", expires_at=T0 + 3 * DAY)]
    state = State()
    for n in range(3):
        state = shown(state, "a", T0 + n * DAY)
    _, reported = sweep(offers, state, T0 + 3 * DAY, NO_QUIET)
    assert reported == [("a", "given_up")]


def test_sweep_reports_a_duplicated_offer_once() -> None:
    offers = [offer("a", expires_at=T0), offer("a", expires_at=T0)]
    _, reported = sweep(offers, State(), T0, NO_QUIET)
    assert reported == [("a", "expired")]


def test_sweep_forgets_surveys_no_longer_offered_after_30_days() -> None:
    state = shown(State(), "old-shown", T0)
    state = close(state, "old-closed", "answered", T0)
    state = snooze(state, "old-snoozed", T0 - 12 * H, NO_QUIET)  # until T0
    state = close(shown(state, "offered", T0), "offered", "dismissed", T0)
    offers = [offer("offered", expires_at=T0 + 90 * DAY)]

    kept, _ = sweep(offers, state, T0 + RETENTION, NO_QUIET)
    assert kept == state

    later = T0 + RETENTION + timedelta(seconds=1)
    pruned, reported = sweep(offers, state, later, NO_QUIET)
    assert reported == []
    assert pruned.shows == {"offered": 1}
    assert pruned.shown_at == {"offered": T0}
    assert pruned.snoozed_until == {}
    assert pruned.closed == {"offered": "dismissed"}
    assert pruned.closed_at == {"offered": T0}
    assert pruned.last_shown == T0
    assert pruned.last_shown_id == "offered"
    # What is still offered is kept however old: forgetting it could prompt it again.
    pruned, _ = sweep(offers, pruned, T0 + 80 * DAY, NO_QUIET)
    assert pruned.closed == {"offered": "dismissed"}
    assert ask(offers, pruned, T0 + 80 * DAY) is None


def test_sweep_keeps_at_most_max_forgotten_surveys_no_longer_offered() -> None:
    state = State()
    for n in range(MAX_FORGOTTEN + 100):
        state = close(state, f"s{n:04d}", "answered", T0 + timedelta(minutes=n))
    offers = [offer("current")]
    state = close(state, "current", "dismissed", T0 - 60 * DAY)
    pruned, _ = sweep(offers, state, T0 + DAY, NO_QUIET)
    expected = {f"s{n:04d}" for n in range(100, MAX_FORGOTTEN + 100)} | {"current"}
    assert set(pruned.closed) == expected
    assert set(pruned.closed_at) == expected


# --- persisted state ------------------------------------------------------------------------


def busy_state() -> State:
    state = shown(State(), "a", T0)
    state = snooze(state, "a", T0, NO_QUIET)
    state = shown(state, "b", T0 + DAY)
    state = close(state, "b", "answered", T0 + DAY)
    state, _ = sweep([offer("c", expires_at=T0)], state, T0 + DAY, NO_QUIET)
    state = snooze(state, "d", T0 + DAY, NO_QUIET)
    return state


@pytest.mark.parametrize("state", [State(), busy_state()], ids=["empty", "full"])
def test_state_json_round_trip(state: State) -> None:
    data = json.loads(json.dumps(state.to_json()))
    assert data == state.to_json()
    assert State.from_json(data) == state


def test_state_json_is_plain_json_types() -> None:
    data = busy_state().to_json()
    assert data["last_shown"] == (T0 + DAY).isoformat()
    assert data["snoozed_until"]["d"] == "2026-01-06T22:00:00+00:00"
    assert data["closed"] == {"b": "answered", "c": "expired"}


def corrupt(**changes: object) -> dict[str, Any]:
    data = busy_state().to_json()
    for key, value in changes.items():
        if value is KeyError:
            del data[key]
        else:
            data[key] = value
    return data


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "state",
        {},
        corrupt(version=2),
        corrupt(version=None),
        corrupt(shows=KeyError),
        corrupt(closed_at=KeyError),
        corrupt(last_shown=12),
        corrupt(last_shown="yesterday"),
        corrupt(last_shown="2026-01-05T10:00:00"),
        corrupt(last_shown_id=["a"]),
        corrupt(shows=[1, 2]),
        corrupt(shows={"a": "1"}),
        corrupt(shows={"a": True}),
        corrupt(shows={"a": -1}),
        corrupt(shows={"a": 1.5}),
        corrupt(shown_at={"a": None}),
        corrupt(snoozed_until="2026-01-05T10:00:00+00:00"),
        corrupt(snoozed_until={"a": "not a time"}),
        corrupt(closed={"a": "maybe"}),
        corrupt(closed={"a": None}),
        corrupt(closed_at={"a": 5}),
    ],
)
def test_malformed_state_raises_value_error(data: object) -> None:
    with pytest.raises(ValueError, match="survey state"):
        State.from_json(data)


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"min_interval": timedelta(seconds=-1)}, "min_interval"),
        ({"snooze_min": timedelta(hours=11, minutes=59)}, "snooze_min"),
        ({"snooze_min": timedelta(0)}, "snooze_min"),
        ({"max_shows": 0}, "max_shows"),
        ({"quiet_start": time(18, 0, tzinfo=UTC)}, "quiet_start"),
    ],
)
def test_rules_validation(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Rules(**changes)


def test_rules_limits_are_allowed() -> None:
    rules = Rules(min_interval=timedelta(0), snooze_min=timedelta(hours=12), max_shows=1)
    assert rules.min_interval == timedelta(0)
    assert Rules().min_interval == DAY
    assert Rules().snooze_min == 12 * H


def test_offer_times_must_be_aware() -> None:
    with pytest.raises(ValueError, match="not_before"):
        offer("a", not_before=local(T0))
    with pytest.raises(ValueError, match="expires_at"):
        offer("a", expires_at=local(T0))
    with pytest.raises(ValueError, match="answer"):
        Offer("a", "c", "q", "stars", False, True, T0, T0 + DAY)  # type: ignore[arg-type]


def test_due_rejects_swapped_or_naive_times() -> None:
    offers = [offer("a")]
    with pytest.raises(ValueError, match="now"):
        due(offers, State(), local(T0), local(T0), NO_QUIET, False)
    with pytest.raises(ValueError, match="local_now"):
        due(offers, State(), T0, T0, NO_QUIET, False)
    with pytest.raises(ValueError, match="now"):
        shown(State(), "a", local(T0))


# --- property: never two different surveys within min_interval ----------------------------


STEPS = st.tuples(
    st.sampled_from([1, 10, 60, 3 * 60, 6 * 60, 12 * 60]),  # minutes before the tray asks again
    st.sampled_from([False, False, False, True]),  # busy
    st.sampled_from(["ignore", "snooze", "snooze", "answered", "dismissed"]),  # if prompted
    st.sampled_from([0, 60, 12 * 60, 18 * 60, 36 * 60, 48 * 60]),  # the snooze asked for
    st.sampled_from(["", "", "", "sweep", "restart"]),  # after the tray asked
)
"""One poll of the tray. Asking at every step, as the tray does, puts each prompt at the
first moment the rules allow it, which is where a wrong rule would show."""
OFFERS = st.lists(
    st.tuples(st.integers(-24, 72), st.integers(1, 6 * 24)),  # hours: not_before, lifetime
    min_size=1,
    max_size=6,
)
RULES = st.builds(
    lambda interval_h, quiet, weekend, max_shows: Rules(
        min_interval=timedelta(hours=interval_h),
        quiet_start=quiet[0],
        quiet_end=quiet[1],
        weekend_quiet=weekend,
        max_shows=max_shows,
    ),
    st.sampled_from([0, 1, 12, 24, 36]),
    st.sampled_from([(time(0), time(0)), (time(18), time(9)), (time(12), time(13))]),
    st.booleans(),
    st.integers(1, 4),
)


@settings(max_examples=200, deadline=None)
@example(  # a's snooze ends 12 h after b was prompted: a must wait for b's interval
    windows=[(-24, 100), (-24, 100)],
    rules=NO_QUIET,
    offset_h=0,
    steps=[
        (1, False, "snooze", 36 * 60, ""),
        (24 * 60, False, "ignore", 0, ""),
        (12 * 60, False, "ignore", 0, ""),
    ],
)
@given(
    windows=OFFERS,
    rules=RULES,
    offset_h=st.integers(-12, 14),
    steps=st.lists(STEPS, min_size=10, max_size=100),
)
def test_no_two_different_surveys_within_min_interval(
    windows: list[tuple[int, int]],
    rules: Rules,
    offset_h: int,
    steps: list[tuple[int, bool, str, int, str]],
) -> None:
    """Whatever the offers, rules, time zone and user, over days of polling by the tray."""
    offers = [
        offer(
            f"s{i}",
            not_before=T0 + timedelta(hours=start),
            expires_at=T0 + timedelta(hours=start + length),
        )
        for i, (start, length) in enumerate(windows)
    ]
    offset = timedelta(hours=offset_h)
    now, state = T0, State()
    prompts: list[tuple[datetime, str]] = []
    for wait, busy, reaction, snooze_minutes, chore in steps:
        now += timedelta(minutes=wait)
        picked = due(offers, state, now, local(now, offset), rules, busy)
        if picked is not None:
            assert not busy and not rules.quiet(local(now, offset))
            assert picked.not_before <= now < picked.expires_at
            assert picked.id not in state.closed
            assert state.shows.get(picked.id, 0) < rules.max_shows
            prompts.append((now, picked.id))
            state = shown(state, picked.id, now)
            if reaction == "snooze":
                state = snooze(state, picked.id, now, rules, timedelta(minutes=snooze_minutes))
            elif reaction == "answered":
                state = close(state, picked.id, "answered", now)
            elif reaction == "dismissed":
                state = close(state, picked.id, "dismissed", now)
        if chore == "sweep":
            state, _ = sweep(offers, state, now, rules)
        elif chore == "restart":
            state = State.from_json(json.loads(json.dumps(state.to_json())))
    gaps = [
        (later - earlier, first, second)
        for i, (earlier, first) in enumerate(prompts)
        for later, second in prompts[i + 1 :]
        if first != second
    ]
    for gap, first, second in gaps:
        assert gap >= rules.min_interval, (first, second, gap, prompts)
