"""The battery sampler: system batteries from sysfs with the charger's ONLINE, peripherals'
batteries left out, NoData on desktops."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dexpulse.agent.config import AgentConfig
from dexpulse.agent.platform import Host, NoData
from dexpulse.agent.samplers.base import REGISTRY, Context, Supervisor
from dexpulse.agent.samplers.battery import BatterySampler
from dexpulse.agent.state import StateStore
from dexpulse.schema import BatterySample, SampleBase

FIXTURE = (
    Path(__file__).parents[2]
    / "fixtures/battery/linux/sysfs_power_supply_BAT0_uevent_1"
    / "linux_sysfs_power_supply_BAT0_uevent_1.txt"
)
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
SUPPLIES = "sys/class/power_supply"

MOUSE = (
    "POWER_SUPPLY_NAME=hidpp_battery_0\nPOWER_SUPPLY_TYPE=Battery\nPOWER_SUPPLY_SCOPE=Device\n"
    "POWER_SUPPLY_STATUS=Discharging\nPOWER_SUPPLY_ONLINE=1\nPOWER_SUPPLY_CAPACITY=40\n"
)
BAT1_CHARGE = (
    "POWER_SUPPLY_NAME=BAT1\nPOWER_SUPPLY_TYPE=Battery\nPOWER_SUPPLY_STATUS=Charging\n"
    "POWER_SUPPLY_PRESENT=1\nPOWER_SUPPLY_VOLTAGE_MIN_DESIGN=11400000\n"
    "POWER_SUPPLY_CYCLE_COUNT=312\nPOWER_SUPPLY_CHARGE_FULL_DESIGN=4000000\n"
    "POWER_SUPPLY_CHARGE_FULL=3200000\nPOWER_SUPPLY_CHARGE_NOW=1600000\n"
)


def supply(root: Path, name: str, uevent: str, kind: str) -> None:
    folder = root / SUPPLIES / name
    folder.mkdir(parents=True)
    (folder / "uevent").write_text(uevent)
    (folder / "type").write_text(kind + "\n")


def laptop(tmp_path: Path, ac_online: int | None = 1) -> Path:
    """The ThinkPad fixture as BAT0 (its uevent has no TYPE line, like kernels before 5.x)."""
    root = tmp_path / "root"
    (root / SUPPLIES / "BAT0").mkdir(parents=True)
    shutil.copy(FIXTURE, root / SUPPLIES / "BAT0" / "uevent")
    (root / SUPPLIES / "BAT0" / "type").write_text("Battery\n")
    if ac_online is not None:
        supply(root, "AC", f"POWER_SUPPLY_NAME=AC\nPOWER_SUPPLY_ONLINE={ac_online}\n", "Mains")
    return root


def one(samples: list[SampleBase]) -> BatterySample:
    (sample,) = samples
    assert isinstance(sample, BatterySample)
    return sample


def sampler(tmp_path: Path, root: Path) -> BatterySampler:
    config = AgentConfig(state_dir=tmp_path / "state")
    state = StateStore(tmp_path / "state" / "state")
    return BatterySampler(Context(Host(root=root), config, state, lambda: NOW))


def test_registered_daily() -> None:
    assert REGISTRY["battery"] is BatterySampler
    assert AgentConfig().samplers.battery.interval_s == 86400


def test_thinkpad_on_ac(tmp_path: Path) -> None:
    (sample,) = sampler(tmp_path, laptop(tmp_path, ac_online=1)).collect()
    assert isinstance(sample, BatterySample)
    assert sample.ts == NOW
    assert sample.percent == 81.0
    assert sample.plugged is True  # the Mains supply says so, though the battery discharges
    assert sample.status == "discharging"
    assert sample.design_capacity_wh == 47.52
    assert sample.full_charge_capacity_wh == 45.07
    assert sample.health_percent == 94.8
    assert sample.cycle_count is None
    assert BatterySample.model_validate(sample.model_dump()) == sample


def test_thinkpad_unplugged(tmp_path: Path) -> None:
    sample = one(sampler(tmp_path, laptop(tmp_path, ac_online=0)).collect())
    assert sample.plugged is False


def test_without_a_charger_plugged_comes_from_the_status(tmp_path: Path) -> None:
    sample = one(sampler(tmp_path, laptop(tmp_path, ac_online=None)).collect())
    assert sample.plugged is False  # Discharging


def test_usb_c_charger_counts_as_plugged(tmp_path: Path) -> None:
    root = laptop(tmp_path, ac_online=0)
    supply(root, "ucsi-source-psy-USBC000:001", "POWER_SUPPLY_ONLINE=1\n", "USB")
    sample = one(sampler(tmp_path, root).collect())
    assert sample.plugged is True


def test_peripheral_battery_is_left_out(tmp_path: Path) -> None:
    root = laptop(tmp_path)
    supply(root, "hidpp_battery_0", MOUSE, "Battery")
    samples = sampler(tmp_path, root).collect()
    assert [s.percent for s in samples if isinstance(s, BatterySample)] == [81.0]


def test_two_batteries_give_two_samples(tmp_path: Path) -> None:
    root = laptop(tmp_path)
    supply(root, "BAT1", BAT1_CHARGE, "Battery")
    first, second = sampler(tmp_path, root).collect()
    assert isinstance(first, BatterySample) and isinstance(second, BatterySample)
    assert (first.percent, second.percent) == (81.0, 50.0)
    assert second.status == "charging"
    assert second.health_percent == 80.0
    assert second.design_capacity_wh == 45.6
    assert second.cycle_count == 312
    assert first.ts == second.ts == NOW


@pytest.mark.parametrize("case", ["no-class", "mains-only", "mouse-only", "absent-battery"])
def test_desktop_is_no_data(tmp_path: Path, case: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    if case != "no-class":
        supply(root, "AC", "POWER_SUPPLY_NAME=AC\nPOWER_SUPPLY_ONLINE=1\n", "Mains")
    if case == "mouse-only":
        supply(root, "hidpp_battery_0", MOUSE, "Battery")
    if case == "absent-battery":
        supply(root, "BAT0", "POWER_SUPPLY_NAME=BAT0\nPOWER_SUPPLY_PRESENT=0\n", "Battery")
    battery = sampler(tmp_path, root)
    with pytest.raises(NoData):
        battery.collect()
    supervisor = Supervisor(battery, AgentConfig().samplers.battery)
    assert supervisor.run() == []
    assert supervisor.failures == 0
