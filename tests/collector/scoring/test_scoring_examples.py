"""The worked examples of docs/scoring.md §10, with the same samples and the same numbers.

If one of these fails, either the code or the document is wrong: fix whichever it is, and keep
them telling the same story."""

from __future__ import annotations

import pytest
from scoring_support import Sample, answer, clean_hour, crash, gateway, hang, http, system, wifi

from dexpulse.collector.scoring import (
    Aggregates,
    HourScore,
    Loss,
    PeriodScore,
    ScoringConfig,
    score_group,
    score_hour,
    score_period,
)

CONFIG = ScoringConfig()
DOC = pytest.approx


def doc(value: float) -> object:
    """A number as the document prints it, to 4 decimals."""
    return DOC(value, abs=5.1e-5)


def losses(score: HourScore | PeriodScore) -> dict[str, float]:
    return {loss.cause: loss.points for loss in score.losses}


def hour_a() -> list[Sample]:
    """§10 A: one hour on a weak access point, with a crash."""
    return (
        [system(cpu=40.0)] * 54
        + [system(cpu=80.0)] * 6
        + [wifi(-60.0)] * 42
        + [wifi(-70.0)] * 12
        + [wifi(-80.0)] * 6
        + [gateway(5.0)] * 48
        + [gateway(40.0)] * 12
        + [http(ttfb=200.0)] * 45
        + [http(ttfb=900.0)] * 12
        + [http(ttfb=150.0, status="http_error", code=503)] * 3
        + [crash("Teams")]
    )


def test_a_one_hour_on_a_weak_access_point() -> None:
    hour = score_hour(hour_a(), CONFIG)
    assert hour.components == {
        "performance": doc(98.0769),
        "network": doc(90.875),
        "reliability": 80.0,
    }
    assert hour.components["performance"] == pytest.approx(100 * 63.75 / 65)
    assert hour.score == doc(90.1332)
    assert losses(hour) == {
        "app_crash": doc(6.0),
        "wifi_signal": doc(2.1),
        "cpu": doc(0.6731),
        "http_ttfb": doc(0.525),
        "gateway_latency": doc(0.35),
        "probe_failures": doc(0.2188),
    }
    assert sum(losses(hour).values()) == doc(9.8668)
    assert [loss.cause for loss in hour.losses][:2] == ["app_crash", "wifi_signal"]
    details = {loss.cause: loss.detail for loss in hour.losses}
    assert details["wifi_signal"] == (
        "Wi-Fi signal poor (below -75 dBm) 10 % of the time, fair (-75 to -67 dBm) 20 % "
        "(60 readings)"
    )
    assert details["app_crash"] == "1 app crash (Teams)"
    assert details["probe_failures"] == "3 of 120 network probes failed (2 %)"


def day_b() -> list[HourScore]:
    hours = [score_hour(hour_a(), CONFIG)]
    hours += [score_hour(clean_hour(), CONFIG) for _ in range(6)]
    hours.append(score_hour([*clean_hour(), answer(4)], CONFIG))
    return hours


def test_b_the_same_laptops_day() -> None:
    hours = day_b()
    day = score_period(hours, CONFIG)
    assert day.hours == 8
    assert day.aggregates.metrics["cpu"].good == 474
    assert day.aggregates.metrics["wifi_signal"].poor == 6
    assert day.components == {
        "performance": doc(99.7596),
        "network": doc(98.8594),
        "reliability": 97.5,
        "sentiment": 75.0,
    }
    assert day.score == doc(91.6367)
    assert losses(day) == {
        "sentiment": doc(7.5),
        "app_crash": doc(0.525),
        "wifi_signal": doc(0.1838),
        "cpu": doc(0.0589),
        "http_ttfb": doc(0.0459),
        "gateway_latency": doc(0.0306),
        "probe_failures": doc(0.0191),
    }
    assert sum(losses(day).values()) == doc(8.3633)
    hourly = [h.score for h in hours if h.score is not None]
    assert sum(hourly) / len(hourly) == pytest.approx(97.83, abs=0.005)
    assert hours[-1].score == pytest.approx(92.5)
    details = {loss.cause: loss.detail for loss in day.losses}
    assert details["app_crash"] == "1 app crash in 1 of 8 hours (Teams)"
    assert details["sentiment"] == "1 survey answer averaging 75 of 100"


def test_c_a_desktop_on_cable() -> None:
    samples = (
        [system(avail=40.0)] * 30 + [system(avail=3.0)] * 30 + [gateway(5.0)] * 60 + [http()] * 60
    )
    hour = score_hour(samples, CONFIG)
    assert hour.components == {
        "performance": doc(80.7692),
        "network": 100.0,
        "reliability": 100.0,
    }
    assert hour.score == doc(93.2692)
    assert losses(hour) == {"memory": doc(6.7308)}
    assert "wifi_signal" not in hour.aggregates.metrics


def test_d_a_crash_loop() -> None:
    samples = clean_hour() + [crash("Outlook")] * 12 + [hang("Excel")]
    hour = score_hour(samples, CONFIG)
    assert hour.aggregates.events["app_crash"].points == doc(39.9902)
    assert hour.aggregates.events["app_crash"].points == 40 * 4095 / 4096
    assert hour.components["reliability"] == doc(50.0098)
    assert hour.score == doc(85.0029)
    assert losses(hour) == {"app_crash": doc(11.9971), "app_hang": doc(3.0)}

    day = score_period([hour] + [score_hour(clean_hour(), CONFIG)] * 7, CONFIG)
    assert day.components["reliability"] == doc(93.7512)
    assert day.score == doc(98.1254)
    details = {loss.cause: loss.detail for loss in day.losses}
    assert details["app_crash"] == "12 app crashes in 1 of 8 hours (Outlook)"


def device(score: float, **lost: float) -> PeriodScore:
    return PeriodScore(
        score=score,
        components={},
        losses=[Loss(cause, "x", points, "") for cause, points in lost.items()],
        aggregates=Aggregates(),
        fingerprint=CONFIG.fingerprint(),
    )


def site_e() -> list[PeriodScore]:
    return [
        device(96, wifi_signal=4),
        device(90, wifi_signal=6, app_crash=4),
        device(84, memory=10, wifi_signal=6),
        device(78, wifi_signal=12, sentiment=10),
        device(62, memory=20, app_crash=8, sentiment=10),
    ]


def test_e_a_group() -> None:
    group = score_group(site_e(), CONFIG)
    assert group is not None
    assert group.score == pytest.approx(82)
    assert group.devices == 5
    assert {loss.cause: loss.points for loss in group.losses} == {
        "memory": pytest.approx(6.0),
        "wifi_signal": pytest.approx(5.6),
        "sentiment": pytest.approx(4.0),
        "app_crash": pytest.approx(2.4),
    }
    assert sum(loss.points for loss in group.losses) == pytest.approx(100 - 82)
    assert group.xla_target == 80
    assert group.xla_share == pytest.approx(0.6)
    assert group.losses[0].detail == (
        "Memory pressure: 6.0 points per device on average; 2 of 5 devices affected"
    )
    assert score_group(site_e()[:4], CONFIG) is None
