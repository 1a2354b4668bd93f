"""Windows battery backend: one PowerShell call (Win32_Battery + root\\wmi) and the battery
sampler over it.

The answers are written in Windows PowerShell 5.1's ``ConvertTo-Json -Compress`` shape of the
battery script's ``$out`` (see test_parse_windows_cim for the documented sources); not
captured from a laptop.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakehost import Machine

from dexpulse.agent import platform
from dexpulse.agent.config import AgentConfig
from dexpulse.agent.parsers import ParseError
from dexpulse.agent.platform import NoData
from dexpulse.agent.platform._windows import battery
from dexpulse.agent.samplers.base import Context, Supervisor
from dexpulse.agent.samplers.battery import BatterySampler
from dexpulse.agent.state import StateStore
from dexpulse.schema import AgentHealthSample, BatterySample

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
THINKPAD = (
    '{"Battery":[{"DeviceID":"1234LGCLNV-45N1","EstimatedChargeRemaining":81,'
    '"BatteryStatus":2}],'
    '"Static":[{"InstanceName":"ACPI\\\\PNP0C0A\\\\1_0","DesignedCapacity":83995,'
    '"Capabilities":2147483648}],'
    '"Full":[{"InstanceName":"ACPI\\\\PNP0C0A\\\\1_0","FullChargedCapacity":53398}],'
    '"Cycles":[{"InstanceName":"ACPI\\\\PNP0C0A\\\\1_0","CycleCount":412}],'
    '"Status":[{"InstanceName":"ACPI\\\\PNP0C0A\\\\1_0","PowerOnline":true,"Charging":true,'
    '"Discharging":false}]}'
)
NOT_ADMIN = (  # the root\wmi classes refused: their lists are empty
    '{"Battery":[{"DeviceID":"1234LGCLNV-45N1","EstimatedChargeRemaining":81,'
    '"BatteryStatus":1}],"Static":[],"Full":[],"Cycles":[],"Status":[]}'
)
DESKTOP = '{"Battery":[],"Static":[],"Full":[],"Cycles":[],"Status":[]}'


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


def context(machine: Machine, tmp_path: Path) -> Context:
    config = AgentConfig(state_dir=tmp_path / "state")
    return Context(machine.host, config, StateStore(tmp_path / "state" / "state"), lambda: NOW)


def test_the_exact_command() -> None:
    assert battery.BATTERY == (
        "powershell", "-NoProfile", "-NonInteractive", "-Command", battery.BATTERY_SCRIPT,
    )  # fmt: skip
    script = battery.BATTERY_SCRIPT
    assert "$Battery = @(Get-CimInstance -ClassName Win32_Battery " in script
    for cls in ("BatteryStaticData", "BatteryFullChargedCapacity", "BatteryCycleCount"):
        assert f"@(try {{ Get-CimInstance -Namespace root\\wmi -ClassName {cls} " in script
    assert '"' not in script and "\n" not in script


def test_a_charging_thinkpad(machine: Machine) -> None:
    machine.answer(battery.BATTERY, THINKPAD)
    (sample,) = battery.battery_samples(machine.host, NOW)
    assert sample == BatterySample(
        ts=NOW, percent=81.0, plugged=True, status="charging", design_capacity_wh=83.995,
        full_charge_capacity_wh=53.398, health_percent=63.6, cycle_count=412,
    )  # fmt: skip
    assert machine.calls == [battery.BATTERY]


def test_without_root_wmi_the_sample_has_no_wear(machine: Machine) -> None:
    machine.answer(battery.BATTERY, NOT_ADMIN)
    (sample,) = battery.battery_samples(machine.host, NOW)
    assert (sample.percent, sample.plugged, sample.status) == (81.0, False, "discharging")
    assert sample.health_percent is None and sample.design_capacity_wh is None


def test_desktop_and_no_powershell_are_nodata(machine: Machine) -> None:
    with pytest.raises(NoData):
        battery.battery_samples(machine.host, NOW)  # powershell missing
    machine.answer(battery.BATTERY, DESKTOP)
    with pytest.raises(NoData, match="no battery"):
        battery.battery_samples(machine.host, NOW)
    machine.answer(battery.BATTERY, "", rc=1, stderr="Get-CimInstance : Provider load failure")
    with pytest.raises(NoData, match="Provider load failure"):
        battery.battery_samples(machine.host, NOW)


def test_bad_json_is_a_parse_error(machine: Machine) -> None:
    machine.answer(battery.BATTERY, '{"Battery":[{"DeviceID":"x",')
    with pytest.raises(ParseError, match="battery: the PowerShell answer is not JSON"):
        battery.battery_samples(machine.host, NOW)


def test_battery_sampler_over_the_windows_backend(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform, "area", {"battery": battery}.__getitem__)
    machine.answer(battery.BATTERY, THINKPAD)
    (sample,) = BatterySampler(context(machine, tmp_path)).collect()
    assert isinstance(sample, BatterySample) and sample.health_percent == 63.6
    machine.answer(battery.BATTERY, DESKTOP)
    with pytest.raises(NoData):
        BatterySampler(context(machine, tmp_path)).collect()


def test_bad_json_reaches_the_supervisor_as_a_message(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform, "area", {"battery": battery}.__getitem__)
    machine.answer(battery.BATTERY, "Get-CimInstance : Invalid class 'Win32_Battery'")
    settings = AgentConfig().samplers.battery
    supervisor = Supervisor(BatterySampler(context(machine, tmp_path)), settings, clock=lambda: NOW)
    (health,) = supervisor.run()
    assert isinstance(health, AgentHealthSample) and health.status == "error"
    assert health.message is not None
    assert health.message.startswith("ParseError: battery: the PowerShell answer is not JSON")
