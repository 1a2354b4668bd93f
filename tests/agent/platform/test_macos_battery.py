"""macOS battery backend: ``system_profiler SPPowerDataType -json`` -> BatterySample.

The JSON samples here are hand-made from the documented format (the keys chef/ohai's darwin
hardware plugin reads, see docs/reference telemetry-sources "Battery"), not captured from a
Mac: no recorded SPPowerDataType output is in the fixtures.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fakehost import Machine

from dexpulse.agent import platform
from dexpulse.agent.config import AgentConfig
from dexpulse.agent.parsers import ParseError
from dexpulse.agent.platform import NoData
from dexpulse.agent.platform._macos import battery
from dexpulse.agent.platform._macos.battery import SYSTEM_PROFILER, battery_samples
from dexpulse.agent.samplers.base import Context
from dexpulse.agent.samplers.battery import BatterySampler
from dexpulse.agent.state import StateStore
from dexpulse.schema import BatterySample

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def power(*items: dict[str, Any]) -> str:
    return json.dumps({"SPPowerDataType": list(items)}, indent=2)


APPLE_SILICON = {
    "_name": "spbattery_information",
    "sppower_battery_charge_info": {
        "sppower_battery_at_warn_level": "FALSE",
        "sppower_battery_fully_charged": "FALSE",
        "sppower_battery_is_charging": "FALSE",
        "sppower_battery_state_of_charge": 81,
    },
    "sppower_battery_health_info": {
        "sppower_battery_cycle_count": 312,
        "sppower_battery_health": "Good",
        "sppower_battery_health_maximum_capacity": "84%",
    },
    "sppower_battery_model_info": {"sppower_battery_device_name": "bq40z651"},
}
INTEL = {
    "_name": "spbattery_information",
    "sppower_battery_charge_info": {
        "sppower_battery_current_capacity": 3000,
        "sppower_battery_max_capacity": 4000,
        "sppower_battery_design_capacity": 5000,
        "sppower_battery_fully_charged": "FALSE",
        "sppower_battery_is_charging": "TRUE",
    },
    "sppower_battery_health_info": {
        "sppower_battery_cycle_count": 87,
        "sppower_battery_health": "Normal",
    },
}
SETTINGS = {"_name": "sppower_information", "AC Power": {"System Sleep Timer (Minutes)": 1}}


def charger(connected: str, charging: str = "FALSE") -> dict[str, Any]:
    return {
        "_name": "sppower_ac_charger_information",
        "sppower_battery_charger_connected": connected,
        "sppower_battery_is_charging": charging,
    }


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


def context(machine: Machine, tmp_path: Path) -> Context:
    config = AgentConfig(state_dir=tmp_path / "state")
    store = StateStore(tmp_path / "state" / "state")
    return Context(machine.host, config, store, lambda: NOW)


def one(machine: Machine, text: str) -> BatterySample:
    machine.answer(SYSTEM_PROFILER, text)
    (sample,) = battery_samples(machine.host, NOW)
    assert machine.calls == [SYSTEM_PROFILER]
    return sample


def test_apple_silicon_on_battery(machine: Machine) -> None:
    sample = one(machine, power(APPLE_SILICON, SETTINGS, charger("FALSE")))
    assert sample.ts == NOW
    assert sample.percent == 81.0
    assert sample.plugged is False
    assert sample.status == "discharging"
    assert sample.health_percent == 84.0
    assert sample.cycle_count == 312
    assert sample.design_capacity_wh is None  # system_profiler gives mAh, not Wh


def test_plugged_not_charging_and_full(machine: Machine) -> None:
    sample = one(machine, power(APPLE_SILICON, charger("TRUE")))
    assert (sample.plugged, sample.status) == (True, "not_charging")
    full = json.loads(json.dumps(APPLE_SILICON))
    full["sppower_battery_charge_info"]["sppower_battery_fully_charged"] = "TRUE"
    machine.calls.clear()
    assert one(machine, power(full, charger("TRUE"))).status == "full"


def test_older_intel_capacities_in_mah(machine: Machine) -> None:
    sample = one(machine, power(INTEL))  # no charger item: charging implies plugged
    assert sample.percent == 75.0
    assert sample.health_percent == 80.0  # max 4000 mAh of a 5000 mAh design
    assert (sample.plugged, sample.status, sample.cycle_count) == (True, "charging", 87)


def test_no_battery_is_nodata(machine: Machine) -> None:
    machine.answer(SYSTEM_PROFILER, power(SETTINGS, charger("TRUE")))  # a Mac mini
    with pytest.raises(NoData, match="no battery"):
        battery_samples(machine.host, NOW)


def test_tool_missing_is_nodata_and_garbage_is_a_failure(machine: Machine) -> None:
    with pytest.raises(NoData, match="not installed"):
        battery_samples(machine.host, NOW)
    machine.answer(SYSTEM_PROFILER, "Power:\n    Battery Information:\n")
    with pytest.raises(ParseError, match="not JSON"):
        battery_samples(machine.host, NOW)
    machine.answer(SYSTEM_PROFILER, "[]")
    with pytest.raises(ParseError, match="SPPowerDataType"):
        battery_samples(machine.host, NOW)


def test_battery_sampler_over_macos_backend(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform, "area", lambda name: {"battery": battery}[name])
    machine.answer(SYSTEM_PROFILER, power(APPLE_SILICON, SETTINGS, charger("TRUE")))
    (sample,) = BatterySampler(context(machine, tmp_path)).collect()
    assert isinstance(sample, BatterySample)
    assert (sample.percent, sample.status, sample.plugged) == (81.0, "not_charging", True)
