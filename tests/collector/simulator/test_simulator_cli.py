"""``dexpulse simulate`` on the command line, and the parsers behind its options."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dexpulse.agent.cli import main
from dexpulse.collector.simulator.scenarios import ScenarioError, parse_spec
from dexpulse.collector.simulator.timefmt import iso_ms, parse_duration, parse_utc
from dexpulse.schema import Batch


def test_the_command_writes_batches_and_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, truth = tmp_path / "b.jsonl", tmp_path / "t.json"
    code = main(
        [
            "simulate", "--devices", "30", "--sites", "2", "--seed", "4",
            "--start", "2026-11-24T08:00:00Z", "--duration", "90m",
            "--scenario", "saas_outage:at=20m,duration=30m,intensity=1,target=login.example.com",
            "--random-scenarios", "1", "--output", str(out), "--truth", str(truth),
        ]
    )  # fmt: skip
    assert code == 0
    assert "simulated 30 devices at 2 sites" in capsys.readouterr().err
    lines = out.read_text().splitlines()
    assert lines and all(Batch.model_validate_json(line) for line in lines[:50])
    facts = json.loads(truth.read_text())
    assert facts["seed"] == 4 and facts["devices"] == 30 and len(facts["sites"]) == 2
    assert (
        facts["start"] == "2026-11-24T08:00:00.000Z" and facts["end"] == "2026-11-24T09:30:00.000Z"
    )
    saas = facts["outages"][0]
    assert saas["type"] == "saas_outage" and saas["cohort"] == {"probe_target": "login.example.com"}
    assert saas["start"] == "2026-11-24T08:20:00.000Z" and saas["end"] == "2026-11-24T08:50:00.000Z"
    assert saas["signal"] == "network_probe" and saas["intensity"] == 1.0
    assert len(facts["outages"]) == 2
    for outage in facts["outages"]:
        assert set(outage) >= {
            "id", "type", "signal", "cohort", "start", "end", "intensity", "exposed_devices",
            "affected_devices", "first_ticket_at",
        }  # fmt: skip
    assert {t["outage_id"] for t in facts["tickets"]} <= {o["id"] for o in facts["outages"]}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--scenario", "meteor_strike"], "unknown scenario type"),
        (["--scenario", "ap_failure:colour=red"], "unknown or valueless option"),
        (["--scenario", "ap_failure:target=00:00:00:00:00:00"], "no BSSID"),
        (["--scenario", "bad_app_version:target=nope@1"], "no device runs"),
        (["--duration", "soon"], "not a duration"),
        ([], "either --output FILE or --post URL"),
    ],
)
def test_mistakes_are_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    output = [] if argv == [] else ["--output", str(tmp_path / "b.jsonl")]
    assert main(["simulate", "--devices", "20", "--duration", "1h", *output, *argv]) == 2
    assert message in capsys.readouterr().err


def test_post_needs_a_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEXPULSE_ENROLLMENT_SECRET", raising=False)
    assert main(["simulate", "--post", "http://127.0.0.1:9"]) == 2
    assert "--enrollment-secret" in capsys.readouterr().err


def test_the_top_level_help_lists_simulate(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "simulate" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("1h30m", timedelta(minutes=90)),
        ("2h", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("1w", timedelta(days=7)),
        ("45", timedelta(minutes=45)),
    ],
)
def test_durations(text: str, value: timedelta) -> None:
    assert parse_duration(text) == value


@pytest.mark.parametrize("text", ["", "m", "5x", "1h soon", "-5m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_times_are_utc() -> None:
    assert parse_utc("2026-11-23T07:00:00+01:00") == datetime(2026, 11, 23, 6, tzinfo=UTC)
    assert parse_utc("2026-11-23T06:00") == datetime(2026, 11, 23, 6, tzinfo=UTC)
    assert iso_ms(0) == "1970-01-01T00:00:00.000Z"
    assert iso_ms(1_764_000_061_234) == "2025-11-24T16:01:01.234Z"


def test_scenario_specs() -> None:
    spec = parse_spec("bad_driver:at=2h,duration=45m,intensity=0.4,ramp=10m,target=rtux64w10@1.0,"
                      "peripheral=HP USB-C Dock G5,rate=0.3")  # fmt: skip
    assert spec.kind == "bad_driver" and spec.at == timedelta(hours=2)
    assert spec.duration == timedelta(minutes=45) and spec.ramp == timedelta(minutes=10)
    assert spec.intensity == 0.4 and spec.target == "rtux64w10@1.0"
    assert spec.options == {"peripheral": "HP USB-C Dock G5", "rate": "0.3"}
    absolute = parse_spec("ap_failure:at=2026-11-23T10:00:00Z")
    assert absolute.at == datetime(2026, 11, 23, 10, tzinfo=UTC)
    for bad in (
        "ap_failure:intensity=1.5", "ap_failure:duration=0m", "saas_outage:cut=true",
        "saas_outage:mode=sometimes", "bad_app_version:rate=lots", "ap_failure:roam=2",
    ):  # fmt: skip
        with pytest.raises(ScenarioError):
            parse_spec(bad)
