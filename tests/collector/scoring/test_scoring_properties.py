"""Properties that must hold for every hour and every valid configuration: a worse value never
raises a score (for every measure the score reads), scores stay in 0-100, the breakdown always
adds up, and stored results come back equal."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scoring_support import (
    BAD_EVENTS,
    CONFIGS,
    HOURS,
    MOVES,
    SAMPLE_DATA,
    Move,
    Sample,
    field_values,
    other_value,
)

from dexpulse.collector.scoring import (
    Aggregates,
    HourScore,
    PeriodScore,
    ScoringConfig,
    score_aggregates,
    score_hour,
    score_period,
)
from dexpulse.collector.scoring.catalogue import COMPONENTS, EVENTS, METRICS, SENTIMENT_CAUSE
from dexpulse.collector.scoring.hourly import HourTally, finish, score_tally, tally_samples

EPS = 1e-9
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PER_CASE = settings(PROPERTY, max_examples=60)
"""For the parametrised properties: 60 examples for each of the 23 measures and events."""


def check_shape(result: HourScore | PeriodScore) -> None:
    """0-100 everywhere, positive losses with known causes, and losses = 100 - score."""
    if result.score is None:
        assert result.losses == []
        return
    assert 0.0 <= result.score <= 100.0
    for comp, value in result.components.items():
        assert comp in COMPONENTS
        assert -EPS <= value <= 100.0 + EPS
    causes = [loss.cause for loss in result.losses]
    assert len(causes) == len(set(causes))
    for loss in result.losses:
        assert loss.points > 0
        assert loss.cause in METRICS or loss.cause in EVENTS or loss.cause == SENTIMENT_CAUSE
        assert loss.component in result.components
        assert loss.detail
    assert sum(loss.points for loss in result.losses) == pytest.approx(
        100.0 - result.score, abs=1e-6
    )


@PROPERTY
@given(hour=HOURS, config=CONFIGS)
def test_hours_stay_in_range_and_their_losses_add_up(
    hour: list[Sample], config: ScoringConfig
) -> None:
    result = score_hour(hour, config)
    check_shape(result)
    assert (result.aggregates.hours == 1) == bool(hour)


def worsen(
    data: st.DataObject, move: Move, hour: list[Sample], config: ScoringConfig
) -> tuple[list[Sample], list[Sample]]:
    """``hour`` with one sample of the move's kind inserted, before and after the move."""
    kind, field, make_worse = move
    sample = {**data.draw(SAMPLE_DATA[kind]), field: data.draw(field_values(field, config))}
    worse = make_worse(sample, data.draw(other_value(field, config)))
    at = data.draw(st.integers(0, len(hour)))
    return (
        [*hour[:at], (kind, sample), *hour[at:]],
        [*hour[:at], (kind, worse), *hour[at:]],
    )


def assert_not_better(before: HourScore | PeriodScore, after: HourScore | PeriodScore) -> None:
    if before.score is None:
        assert after.score is None
        return
    assert after.score is not None
    assert after.score <= before.score + EPS
    assert set(after.components) == set(before.components)
    for comp, value in after.components.items():
        assert value <= before.components[comp] + EPS


@pytest.mark.parametrize("move", MOVES, ids=[f"{kind}.{field}" for kind, field, _ in MOVES])
@PER_CASE
@given(data=st.data(), hour=HOURS, config=CONFIGS)
def test_a_worse_value_never_raises_the_hour(
    move: Move, data: st.DataObject, hour: list[Sample], config: ScoringConfig
) -> None:
    before, after = worsen(data, move, hour, config)
    assert_not_better(score_hour(before, config), score_hour(after, config))


@pytest.mark.parametrize("event", BAD_EVENTS, ids=[f"{k}.{d}" for k, d in BAD_EVENTS])
@PER_CASE
@given(hour=HOURS, config=CONFIGS)
def test_another_bad_event_never_raises_the_hour(
    event: Sample, hour: list[Sample], config: ScoringConfig
) -> None:
    before = [*hour, ("agent_health", {})]
    assert_not_better(score_hour(before, config), score_hour([*before, event], config))


@PROPERTY
@given(
    data=st.data(),
    hours=st.lists(HOURS, min_size=1, max_size=5),
    config=CONFIGS,
    move=st.sampled_from(MOVES),
)
def test_a_worse_value_in_one_hour_never_raises_the_period(
    data: st.DataObject, hours: list[list[Sample]], config: ScoringConfig, move: Move
) -> None:
    which = data.draw(st.integers(0, len(hours) - 1))
    before, after = worsen(data, move, hours[which], config)
    others = [score_hour(h, config) for h in hours]

    def period(changed: list[Sample]) -> PeriodScore:
        scored = [*others[:which], score_hour(changed, config), *others[which + 1 :]]
        return score_period(scored, config)

    period_before, period_after = period(before), period(after)
    assert_not_better(period_before, period_after)
    check_shape(period_after)


@PROPERTY
@given(hours=st.lists(HOURS, max_size=6), config=CONFIGS)
def test_periods_stay_in_range_and_their_losses_add_up(
    hours: list[list[Sample]], config: ScoringConfig
) -> None:
    period = score_period([score_hour(h, config) for h in hours], config)
    check_shape(period)
    assert period.hours == sum(1 for h in hours if h)


@PROPERTY
@given(hour=HOURS, config=CONFIGS)
def test_stored_scores_come_back_equal(hour: list[Sample], config: ScoringConfig) -> None:
    result = score_hour(hour, config)
    assert HourScore.from_json(json.loads(json.dumps(result.to_json()))) == result
    period = score_period([result, result], config)
    assert PeriodScore.from_json(json.loads(json.dumps(period.to_json()))) == period


@given(hour=HOURS, config=CONFIGS, data=st.data())
def test_an_hour_tallied_in_parts_scores_as_the_whole_hour(
    hour: list[Sample], config: ScoringConfig, data: st.DataObject
) -> None:
    """The scoring job folds in what arrived since its last run: the parts, added up (and
    stored as JSON in between), must give the hour its one-pass score."""
    cuts = sorted(data.draw(st.lists(st.integers(0, len(hour)), max_size=3)))
    parts = [hour[a:b] for a, b in zip([0, *cuts], [*cuts, len(hour)], strict=True)]
    total = HourTally()
    for part in parts:
        stored = json.loads(json.dumps(tally_samples(part, config).to_json()))
        total = total + HourTally.from_json(stored)
    whole = score_hour(hour, config)
    assert finish(total, config) == whole
    # What the job stores: the score without the breakdown, and the aggregates that give it.
    assert score_tally(total, config) == (whole.score, whole.aggregates)
    assert score_aggregates([whole.aggregates], config).score == whole.score


@given(hours=st.lists(HOURS, max_size=6), config=CONFIGS)
def test_stored_aggregates_sum_as_their_objects_add(
    hours: list[list[Sample]], config: ScoringConfig
) -> None:
    """The scoring job rolls a day up from its hours' stored JSON with ``sum_json``: it must
    equal adding the hours' aggregates in order, bit for bit."""
    stored = [json.loads(json.dumps(score_hour(h, config).aggregates.to_json())) for h in hours]
    folded = Aggregates()
    for data in stored:
        folded = folded + Aggregates.from_json(data)
    assert Aggregates.sum_json(stored) == folded
