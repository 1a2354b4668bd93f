"""score_hour on hand-made hours: what each sample kind counts for, where the boundaries are,
what is left out, how events are charged, and the JSON form of the result."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from scoring_support import Sample, answer, clean_hour, crash, gateway, hang, http, system, wifi

from dexpulse.collector.scoring import HourScore, ScoringConfig, Tally, score_hour
from dexpulse.collector.scoring.results import MAX_NAMES

CONFIG = ScoringConfig()


def tally(samples: list[Sample], metric: str, config: ScoringConfig = CONFIG) -> Tally | None:
    return score_hour(samples, config).aggregates.metrics.get(metric)


def test_no_sample_no_score() -> None:
    hour = score_hour([], CONFIG)
    assert hour.score is None
    assert hour.components == {} and hour.losses == []
    assert hour.aggregates.hours == 0
    assert hour.fingerprint == CONFIG.fingerprint()


def test_an_hour_with_only_bookkeeping_scores_on_reliability_alone() -> None:
    """The agent was up (an inventory went out) and nothing broke: reliability 100."""
    hour = score_hour([("inventory", {"apps": []})], CONFIG)
    assert hour.score == 100.0
    assert hour.components == {"reliability": 100.0}
    assert hour.aggregates.hours == 1


def test_samples_may_come_from_a_generator() -> None:
    hour = score_hour((s for s in clean_hour()), CONFIG)
    assert hour.score == 100.0
    assert hour.aggregates.metrics["cpu"] == Tally(60, 0, 0)


@pytest.mark.parametrize(
    ("cpu", "expected"),
    [(70.0, "good"), (70.01, "fair"), (90.0, "fair"), (90.01, "poor"), (0, "good")],
)
def test_boundaries_are_inclusive_on_the_good_side(cpu: float, expected: str) -> None:
    t = tally([("system", {"cpu_percent": cpu})], "cpu")
    assert t is not None
    assert {"good": t.good, "fair": t.fair, "poor": t.poor}[expected] == 1


@pytest.mark.parametrize(
    ("rssi", "expected"),
    [(-67.0, Tally(1, 0, 0)), (-75.0, Tally(0, 1, 0)), (-75.5, Tally(0, 0, 1))],
)
def test_wifi_signal_boundaries(rssi: float, expected: Tally) -> None:
    assert tally([wifi(rssi)], "wifi_signal") == expected


@pytest.mark.parametrize(
    ("percent", "expected"),
    [(66.0, Tally(1, 0, 0)), (50.0, Tally(0, 1, 0)), (49.0, Tally(0, 0, 1))],
)
def test_windows_signal_percent_is_converted_to_dbm(percent: float, expected: Tally) -> None:
    """Windows: 0 % is -100 dBm and 100 % is -50 dBm, linear in between."""
    assert tally([("wifi", {"connected": True, "signal_percent": percent})], "wifi_signal") == (
        expected
    )


def test_wifi_not_connected_is_no_data() -> None:
    hour = score_hour([*[system()] * 10, ("wifi", {"connected": False, "rssi_dbm": -90.0})], CONFIG)
    assert "wifi_signal" not in hour.aggregates.metrics
    assert "network" not in hour.components
    assert hour.score == 100.0


def test_cpu_is_the_worse_of_load_and_run_queue() -> None:
    assert tally([("system", {"cpu_percent": 20.0, "cpu_queue_length": 12.0})], "cpu") == Tally(
        0, 0, 1
    )
    assert tally([("system", {"cpu_queue_length": 5.0})], "cpu") == Tally(0, 1, 0)


def test_memory_is_the_worse_of_stalls_and_available() -> None:
    both = {"memory_pressure_percent": 25.0, "memory_available_percent": 50.0}
    assert tally([("system", both)], "memory") == Tally(0, 0, 1)
    assert tally([("system", {"memory_percent": 90.0})], "memory") == Tally(0, 1, 0)
    assert tally([("system", {"memory_percent": 96.0})], "memory") == Tally(0, 0, 1)
    assert tally([("system", {"uptime_s": 5.0})], "memory") is None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"disk_free_percent": 5.0, "disk_free_gb": 100.0}, Tally(1, 0, 0)),  # a big disk
        ({"disk_free_percent": 5.0, "disk_free_gb": 30.0}, Tally(0, 1, 0)),
        ({"disk_free_percent": 5.0, "disk_free_gb": 10.0}, Tally(0, 0, 1)),
        ({"disk_free_percent": 15.0}, Tally(0, 1, 0)),
        ({"disk_free_gb": 10.0}, Tally(0, 0, 1)),
    ],
)
def test_disk_space_is_the_better_of_share_and_gigabytes(
    data: dict[str, Any], expected: Tally
) -> None:
    assert tally([("system", data)], "disk_space") == expected


def test_probes_feed_their_metrics() -> None:
    samples = [
        gateway(5.0),
        gateway(50.0),
        gateway(150.0),
        http(dns=350.0, connect=100.0, tls=150.0, ttfb=2500.0),  # connect + TLS = 250: fair
        http(ttfb=None, status="timeout", code=None),
    ]
    metrics = score_hour(samples, CONFIG).aggregates.metrics
    assert metrics["gateway_latency"] == Tally(1, 1, 1)
    assert metrics["probe_failures"] == Tally(4, 0, 1)
    assert metrics["dns_time"] == Tally(1, 0, 1)
    assert metrics["connect_time"] == Tally(1, 1, 0)
    assert metrics["http_ttfb"] == Tally(0, 0, 1)


def test_gateway_probes_do_not_count_as_web_timings() -> None:
    metrics = score_hour([gateway(5.0)], CONFIG).aggregates.metrics
    assert set(metrics) == {"gateway_latency", "probe_failures"}


@pytest.mark.parametrize(
    ("mode", "with_ok", "expected"),
    [
        ("failure_if_online", True, Tally(1, 0, 2)),
        ("failure_if_online", False, None),
        ("failure", False, Tally(0, 0, 2)),
        ("ignore", True, Tally(1, 0, 0)),
    ],
)
def test_unreachable_probes(mode: str, with_ok: bool, expected: Tally | None) -> None:
    """No route at all counts as a failure only when the hour had a network (by default)."""
    config = ScoringConfig.model_validate({"unreachable_probes": mode})
    offline = http(status="unreachable", ttfb=None, code=None, dns=900.0, connect=None, tls=None)
    samples = [offline, offline, *([http()] if with_ok else [])]
    hour = score_hour(samples, config)
    assert hour.aggregates.metrics.get("probe_failures") == expected
    assert hour.aggregates.metrics.get("dns_time", Tally()).poor == 0  # never its timings
    assert hour.aggregates.hours == 1


def test_boot_and_battery() -> None:
    samples = [
        ("boot", {"boot_duration_s": 130.0, "logon_duration_s": 20.0}),
        ("battery", {"health_percent": 72.0, "percent": 55.0}),
    ]
    metrics = score_hour(samples, CONFIG).aggregates.metrics
    assert metrics["boot_time"] == Tally(0, 0, 1)
    assert metrics["logon_time"] == Tally(1, 0, 0)
    assert metrics["battery_health"] == Tally(0, 1, 0)


def test_survey_answers() -> None:
    def sentiment(*samples: Sample, config: ScoringConfig = CONFIG) -> float | None:
        return score_hour([system(), *samples], config).components.get("sentiment")

    assert sentiment(answer(1)) == 0.0
    assert sentiment(answer(4)) == 75.0
    assert sentiment(answer(5), answer(2)) == 62.5
    assert sentiment(answer(1, status="dismissed")) is None
    assert sentiment(answer(1, anonymous=True)) is None
    yes = ("survey_response", {"survey_id": "s", "status": "answered", "yes_no": True})
    assert sentiment(yes) is None
    assert sentiment(yes, config=ScoringConfig(survey_yes_no=True)) == 100.0


def test_the_worst_answer_on_a_flawless_hour_gives_70() -> None:
    assert score_hour([*clean_hour(), answer(1)], CONFIG).score == pytest.approx(70.0)


def test_events_diminish_within_an_hour() -> None:
    def points(n: int) -> float:
        return score_hour([system()] + [crash()] * n, CONFIG).aggregates.events["app_crash"].points

    assert [points(n) for n in (1, 2, 3)] == [20.0, 30.0, 35.0]
    assert points(60) == pytest.approx(40.0)


def test_events_are_capped_at_the_whole_component_in_proportion() -> None:
    config = ScoringConfig.model_validate(
        {"event_points": {"app_crash": 100, "app_hang": 50}, "event_decay": 0}
    )
    hour = score_hour([system(), crash(), hang()], config)
    events = hour.aggregates.events
    assert events["app_crash"].points == pytest.approx(200 / 3)
    assert events["app_hang"].points == pytest.approx(100 / 3)
    assert hour.components["reliability"] == pytest.approx(0.0)
    assert sum(loss.points for loss in hour.losses) == pytest.approx(100 - (hour.score or 0))


def test_wifi_disconnects_are_counted_but_free_by_default() -> None:
    samples = [
        system(),
        ("wifi_event", {"event": "disconnected"}),
        ("wifi_event", {"event": "roamed"}),
    ]
    hour = score_hour(samples, CONFIG)
    assert hour.aggregates.events["wifi_disconnect"].count == 1
    assert hour.aggregates.events["wifi_disconnect"].points == 0.0
    assert hour.losses == [] and hour.score == 100.0
    charged = score_hour(
        samples, ScoringConfig.model_validate({"event_points": {"wifi_disconnect": 4}})
    )
    assert charged.components["reliability"] == 96.0


def test_event_names_are_kept_for_the_details_bounded() -> None:
    samples = [system()] + [crash(f"app{i:02d}") for i in range(15)] + [crash("Teams")] * 3
    hour = score_hour(samples, CONFIG)
    names = hour.aggregates.events["app_crash"].names
    assert len(names) == MAX_NAMES
    assert next(iter(names.items())) == ("Teams", 3)
    assert hour.losses[0].detail.startswith("18 app crashes (Teams 3, app00 1, app01 1)")
    dock = [("peripheral_failure", {"device_class": "usb"}), ("peripheral_failure", {})]
    assert score_hour(dock, CONFIG).aggregates.events["peripheral_failure"].names == {
        "unnamed device": 1,
        "usb": 1,
    }


def test_losses_are_largest_first_and_add_up() -> None:
    samples = [*[system(cpu=95.0)] * 10, *[wifi(-80.0)] * 20, crash(), answer(3)]
    hour = score_hour(samples, CONFIG)
    points = [loss.points for loss in hour.losses]
    assert points == sorted(points, reverse=True)
    assert sum(points) == pytest.approx(100.0 - (hour.score or 0.0), abs=1e-9)
    assert {loss.component for loss in hour.losses} == {
        "performance",
        "network",
        "reliability",
        "sentiment",
    }


def test_json_round_trip() -> None:
    hour = score_hour([*clean_hour(), crash(), hang(), answer(2)], CONFIG)
    stored = json.loads(json.dumps(hour.to_json()))
    assert HourScore.from_json(stored) == hour
    empty = score_hour([], CONFIG)
    assert HourScore.from_json(json.loads(json.dumps(empty.to_json()))) == empty


@pytest.mark.parametrize("bad", [{}, {"score": 1}, {"score": 1, "components": [], "losses": 3}])
def test_a_malformed_stored_hour_raises_value_error(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not a stored score"):
        HourScore.from_json(bad)


def test_results_are_frozen() -> None:
    hour = score_hour(clean_hour(), CONFIG)
    with pytest.raises(dataclasses.FrozenInstanceError):
        hour.score = 1.0  # type: ignore[misc]
