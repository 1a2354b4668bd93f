"""ScoringConfig: the document's defaults, partial overrides from JSON and the environment,
validation messages, and a fingerprint that follows the content."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from dexpulse.collector.scoring import ScoringConfig
from dexpulse.collector.scoring.catalogue import MEASURES

DOC = Path(__file__).resolve().parents[3] / "docs" / "scoring.md"


def test_the_documented_thresholds_are_the_defaults() -> None:
    rows = re.findall(r"^\| `(\w+)` \| (-?[\d.]+) \| (-?[\d.]+) \|$", DOC.read_text(), re.M)
    documented = {name: (float(good), float(poor)) for name, good, poor in rows}
    defaults = ScoringConfig().thresholds.model_dump()
    assert documented == {m: (defaults[m]["good"], defaults[m]["poor"]) for m in MEASURES}


@pytest.mark.parametrize(
    "key", ["component_weights", "performance_weights", "network_weights", "event_points"]
)
def test_the_documented_weights_are_the_defaults(key: str) -> None:
    row = re.search(rf"^\| `{key}` \| ([^|]+) \|", DOC.read_text(), re.M)
    assert row is not None
    documented = {name: float(v) for name, v in re.findall(r"(\w+) (\d+)", row.group(1))}
    assert documented == getattr(ScoringConfig(), key).model_dump()


def test_documented_scalars_are_the_defaults() -> None:
    text = DOC.read_text()
    config = ScoringConfig()
    for key, value in [
        ("event_decay", config.event_decay),
        ("fair_credit", config.fair_credit),
        ("sentiment_weight", config.sentiment_weight),
        ("min_group_size", config.min_group_size),
        ("xla_target", config.xla_target),
    ]:
        assert f"| `{key}` | {value:g} |" in text


def test_one_bound_may_be_given_alone() -> None:
    config = ScoringConfig.model_validate({"thresholds": {"rssi_dbm": {"poor": -80}}})
    assert config.thresholds.rssi_dbm.good == -67
    assert config.thresholds.rssi_dbm.poor == -80
    assert config.thresholds.ttfb_ms == ScoringConfig().thresholds.ttfb_ms


def test_the_document_example_parses() -> None:
    example = re.search(r"DEXPULSE_SCORING='(\{.*?\})'", DOC.read_text(), re.S)
    assert example is not None
    config = ScoringConfig.model_validate_json(example.group(1))
    assert config.thresholds.ttfb_ms.poor == 1500 and config.thresholds.ttfb_ms.good == 500
    assert config.component_weights.reliability == 20
    assert config.sentiment_weight == 0.4


def test_from_the_environment_as_a_settings_field(monkeypatch: pytest.MonkeyPatch) -> None:
    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="DEXPULSE_")
        scoring: ScoringConfig = Field(default_factory=ScoringConfig)

    monkeypatch.setenv(
        "DEXPULSE_SCORING", '{"xla_target": 75, "network_weights": {"connect_time": 0}}'
    )
    settings = Settings()
    assert settings.scoring.xla_target == 75
    assert settings.scoring.network_weights.connect_time == 0
    assert settings.scoring.network_weights.wifi_signal == 30
    monkeypatch.setenv("DEXPULSE_SCORING", '{"thresholds": {"dns_ms": {"good": 400}}}')
    with pytest.raises(ValidationError, match="dns_ms: lower is better"):
        Settings()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"thresholds": {"rssi_dbm": {"poor": -60}}},
            r"rssi_dbm: higher is better, so poor \(-60\) must be at or below good \(-67\)",
        ),
        (
            {"thresholds": {"cpu_percent": {"good": 95}}},
            r"cpu_percent: lower is better, so poor \(90\) must be at or above good \(95\)",
        ),
        ({"component_weights": {"network": -1}}, "greater than or equal to 0"),
        (
            {"component_weights": {"performance": 0, "reliability": 0, "network": 0}},
            "at least one weight must be above 0",
        ),
        (
            {
                "performance_weights": dict.fromkeys(
                    ["cpu", "memory", "disk_space", "boot_time", "logon_time", "battery_health"], 0
                )
            },
            "at least one weight must be above 0",
        ),  # fmt: skip
        ({"event_decay": 1}, "less than 1"),
        ({"sentiment_weight": 1.5}, "less than or equal to 1"),
        ({"thresholds": {"rssi": {"good": -60}}}, "Extra inputs are not permitted"),
        ({"xla_taget": 70}, "Extra inputs are not permitted"),
        ({"thresholds": {"ttfb_ms": {"good": "fast"}}}, "valid number"),
        ({"thresholds": {"ttfb_ms": {"poor": float("inf")}}}, "finite number"),
        ({"unreachable_probes": "sometimes"}, "failure_if_online"),
    ],
)
def test_invalid_configurations_say_why(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ScoringConfig.model_validate(data)


def test_equal_good_and_poor_leave_no_fair_band() -> None:
    config = ScoringConfig.model_validate({"thresholds": {"dns_ms": {"good": 200, "poor": 200}}})
    assert config.thresholds.dns_ms.good == config.thresholds.dns_ms.poor


def test_fingerprint_follows_the_content() -> None:
    default = ScoringConfig()
    assert re.fullmatch(r"[0-9a-f]{12}", default.fingerprint())
    spelt_out = ScoringConfig.model_validate(
        {"xla_target": 80.0, "thresholds": {"rssi_dbm": {"poor": -75, "good": -67}}}
    )
    assert spelt_out.fingerprint() == default.fingerprint()
    round_trip = ScoringConfig.model_validate_json(default.model_dump_json())
    assert round_trip.fingerprint() == default.fingerprint()
    changed = [
        {"xla_target": 79},
        {"min_group_size": 6},
        {"thresholds": {"rssi_dbm": {"good": -66}}},
        {"event_points": {"app_hang": 11}},
        {"survey_yes_no": True},
    ]
    prints = {ScoringConfig.model_validate(c).fingerprint() for c in changed}
    assert len(prints) == len(changed) and default.fingerprint() not in prints


def test_default_fingerprint_is_pinned() -> None:
    """Changes only when a default or the method version changes: update it deliberately."""
    assert ScoringConfig().fingerprint() == "d87ee9f9fe3a"


def test_config_is_immutable() -> None:
    config = ScoringConfig()
    with pytest.raises(ValidationError):
        config.xla_target = 50  # type: ignore[misc]


def test_a_copy_with_changes_is_validated_and_scores_with_its_own_values() -> None:
    config = ScoringConfig()
    assert config.rules.sentiment_weight == 0.3  # computed and kept on the instance
    changed = config.model_copy(update={"sentiment_weight": 0.5})
    assert changed.rules.sentiment_weight == 0.5
    assert changed.fingerprint() != config.fingerprint()
    assert config.model_copy().fingerprint() == config.fingerprint()
    with pytest.raises(ValidationError):
        config.model_copy(update={"sentiment_weight": 2})
