"""Roll-ups: a period is the documented formula on its hours' pooled aggregates, whatever the
grouping of those hours; a group is the mean of its devices and hides itself below 5."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scoring_support import CONFIGS, HOURS, SAMPLES, Sample, clean_hour, crash

from dexpulse.collector.scoring import (
    Aggregates,
    GroupScore,
    HourScore,
    PeriodScore,
    ScoringConfig,
    score_group,
    score_hour,
    score_period,
)

CONFIG = ScoringConfig()
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EVENT_KINDS = {"app_crash", "app_hang", "peripheral_failure", "wifi_event"}
DAYS = st.lists(st.lists(HOURS, max_size=4), min_size=1, max_size=4)
"""Up to 4 days of up to 4 hours each."""


def same(a: HourScore | PeriodScore, b: HourScore | PeriodScore, tol: float = 1e-9) -> None:
    """Equal scores, components and losses up to float summation order."""
    if a.score is None or b.score is None:
        assert a.score is b.score is None
        return
    assert a.score == pytest.approx(b.score, abs=tol)
    assert a.components == pytest.approx(b.components, abs=tol)
    assert {x.cause: x.points for x in a.losses} == pytest.approx(
        {x.cause: x.points for x in b.losses}, abs=tol
    )


def documented_score(hours: list[HourScore], config: ScoringConfig) -> float | None:
    """docs/scoring.md §8, written out independently: pool the hours' counts, then weigh."""
    pooled: dict[str, list[int]] = {}
    points = 0.0
    observed = answers = 0
    sentiment_total = 0.0
    for hour in hours:
        agg = hour.aggregates
        observed += agg.hours
        answers += agg.answers
        sentiment_total += agg.sentiment_total
        points += sum(ev.points for ev in agg.events.values())
        for name, t in agg.metrics.items():
            counts = pooled.setdefault(name, [0, 0, 0])
            counts[0] += t.good
            counts[1] += t.fair
            counts[2] += t.poor

    components: dict[str, float] = {}
    for comp, metric_weights in (
        ("performance", config.performance_weights.model_dump()),
        ("network", config.network_weights.model_dump()),
    ):
        used = {m: w for m, w in metric_weights.items() if w > 0 and sum(pooled.get(m, [0])) > 0}
        if used:
            quality = {
                m: (pooled[m][0] + config.fair_credit * pooled[m][1]) / sum(pooled[m]) for m in used
            }
            components[comp] = 100 * sum(used[m] * quality[m] for m in used) / sum(used.values())
    if observed:
        components["reliability"] = 100 - points / observed
    weights: dict[str, float] = config.component_weights.model_dump()
    counted = {c: weights[c] for c in components if weights[c] > 0}
    technical: float | None = (
        sum(w * components[c] for c, w in counted.items()) / sum(counted.values())
        if counted
        else None
    )
    sentiment = sentiment_total / answers if answers else None
    if technical is None:
        return sentiment
    if sentiment is None:
        return technical
    return (1 - config.sentiment_weight) * technical + config.sentiment_weight * sentiment


@PROPERTY
@given(days=DAYS, config=CONFIGS)
def test_a_period_is_the_documented_formula_on_pooled_hours(
    days: list[list[list[Sample]]], config: ScoringConfig
) -> None:
    hours = [score_hour(h, config) for day in days for h in day]
    period = score_period(hours, config)
    expected = documented_score(hours, config)
    if expected is None:
        assert period.score is None
    else:
        assert period.score == pytest.approx(expected, abs=1e-9)


@PROPERTY
@given(days=DAYS, config=CONFIGS)
def test_a_week_from_its_days_equals_the_week_from_its_hours(
    days: list[list[list[Sample]]], config: ScoringConfig
) -> None:
    hours = [[score_hour(h, config) for h in day] for day in days]
    from_hours = score_period([h for day in hours for h in day], config)
    from_days = score_period([score_period(day, config) for day in hours], config)
    same(from_hours, from_days)
    assert from_days.aggregates.hours == from_hours.aggregates.hours
    assert from_days.aggregates.metrics == from_hours.aggregates.metrics


@PROPERTY
@given(hour=HOURS, config=CONFIGS)
def test_a_period_of_one_hour_is_that_hour(hour: list[Sample], config: ScoringConfig) -> None:
    scored = score_hour(hour, config)
    period = score_period([scored], config)
    assert (period.score, period.components, period.losses) == (
        scored.score,
        scored.components,
        scored.losses,
    )
    assert period.aggregates == scored.aggregates


@PROPERTY
@given(
    hours=st.lists(
        st.lists(SAMPLES.filter(lambda s: s[0] not in EVENT_KINDS), max_size=20), max_size=5
    ),
    config=CONFIGS,
)
def test_without_events_pooling_hours_is_scoring_their_samples_together(
    hours: list[list[Sample]], config: ScoringConfig
) -> None:
    """Samples pool exactly: splitting them into hours changes nothing but reliability's
    denominator, which without events does not matter. (Unreachable probes are decided per
    hour, so this holds when they are counted always or never.)"""
    if config.unreachable_probes == "failure_if_online":
        config = config.model_copy(update={"unreachable_probes": "failure"})
    nonempty = [h for h in hours if h]
    period = score_period([score_hour(h, config) for h in nonempty], config)
    together = score_hour([s for h in nonempty for s in h], config)
    same(period, together)


def test_hours_without_data_do_not_count() -> None:
    day = score_period(
        [score_hour([], CONFIG), score_hour([*clean_hour(), crash()], CONFIG)], CONFIG
    )
    assert day.hours == 1
    assert day.components["reliability"] == 80.0
    assert score_period([], CONFIG).score is None
    assert score_period([score_hour([], CONFIG)], CONFIG).score is None


def test_a_period_uses_the_weights_it_is_computed_with() -> None:
    """Stored hours keep their classification; weights apply when the period is computed."""
    hours = [score_hour([("system", {"cpu_percent": 95.0}), crash()], CONFIG)]
    heavier = ScoringConfig.model_validate({"component_weights": {"reliability": 70}})
    again = score_period(hours, heavier)
    assert again.fingerprint == heavier.fingerprint() != hours[0].fingerprint
    assert hours[0].score == pytest.approx((35 * 0 + 30 * 80) / 65)
    assert again.score == pytest.approx((35 * 0 + 70 * 80) / 105)


# -- groups --------------------------------------------------------------------------------


def devices_strategy(min_size: int = 0) -> st.SearchStrategy[list[list[Sample]]]:
    return st.lists(HOURS, min_size=min_size, max_size=9)


@PROPERTY
@given(hour=HOURS.filter(bool), n=st.integers(5, 12), config=CONFIGS)
def test_a_group_of_identical_devices_scores_as_one_of_them(
    hour: list[Sample], n: int, config: ScoringConfig
) -> None:
    one = score_period([score_hour(hour, config)], config)
    group = score_group([one] * n, config)
    if one.score is None:
        assert group is None
        return
    assert group is not None
    assert group.score == pytest.approx(one.score, abs=1e-9)
    assert group.components == pytest.approx(one.components, abs=1e-9)
    assert {x.cause: x.points for x in group.losses} == pytest.approx(
        {x.cause: x.points for x in one.losses}, abs=1e-9
    )
    assert group.xla_share == (1.0 if one.score >= config.xla_target else 0.0)


@PROPERTY
@given(devices=devices_strategy(), config=CONFIGS)
def test_a_group_is_the_mean_of_its_devices(
    devices: list[list[Sample]], config: ScoringConfig
) -> None:
    scored = [score_hour(d, config) for d in devices]
    with_score = [d.score for d in scored if d.score is not None]
    group = score_group(scored, config)
    if len(with_score) < config.min_group_size:
        assert group is None
        return
    assert group is not None
    assert group.devices == len(with_score)
    assert group.score == pytest.approx(sum(with_score) / len(with_score), abs=1e-9)
    assert min(with_score) - 1e-9 <= group.score <= max(with_score) + 1e-9
    assert sum(x.points for x in group.losses) == pytest.approx(100 - group.score, abs=1e-6)
    expected_share = sum(s >= config.xla_target for s in with_score) / len(with_score)
    assert group.xla_share == pytest.approx(expected_share)
    backwards = score_group(list(reversed(scored)), config)
    assert backwards is not None and backwards.score == pytest.approx(group.score, abs=1e-9)


def test_groups_below_the_minimum_are_hidden() -> None:
    device = score_period([score_hour(clean_hour(), CONFIG)], CONFIG)
    nobody = score_period([], CONFIG)
    assert score_group([device] * 4 + [nobody] * 10, CONFIG) is None
    shown = score_group([device] * 5 + [nobody], CONFIG)
    assert shown is not None and shown.devices == 5
    small = ScoringConfig(min_group_size=1)
    assert score_group([device], small) is not None
    assert score_group([], small) is None


def test_group_json() -> None:
    device = score_period([score_hour([*clean_hour(), crash()], CONFIG)], CONFIG)
    group = score_group([device] * 5, CONFIG)
    assert group is not None
    stored: dict[str, Any] = group.to_json()
    assert stored["devices"] == 5
    assert stored["losses"][0]["cause"] == "app_crash"
    assert stored["fingerprint"] == CONFIG.fingerprint()
    assert GroupScore.from_json(json.loads(json.dumps(stored))) == group
    with pytest.raises(ValueError, match="not a stored group score"):
        GroupScore.from_json({"score": 1})


def test_period_aggregates_add() -> None:
    a = score_hour([*clean_hour(), crash("Teams")], CONFIG).aggregates
    b = score_hour([*clean_hour(), crash("Teams"), crash("Zoom")], CONFIG).aggregates
    total = a + b
    assert total.hours == 2
    assert total.events["app_crash"].count == 3
    assert total.events["app_crash"].names == {"Teams": 2, "Zoom": 1}
    assert total.events["app_crash"].points == 20.0 + 30.0
    assert total.metrics["cpu"].count == 120
    assert Aggregates() + a == a
