"""sysfs power_supply uevent -> BatterySample."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dexpulse.agent.parsers import FORMATS, ParseContext, ParseError
from dexpulse.agent.parsers.power_supply import parse_power_supply_uevent

FIXTURES = Path(__file__).parents[2] / "fixtures" / "battery" / "linux"
CTX = ParseContext(now=datetime(2026, 11, 27, 9, 0, tzinfo=UTC))

AC_ONLINE = "POWER_SUPPLY_NAME=AC\nPOWER_SUPPLY_TYPE=Mains\nPOWER_SUPPLY_ONLINE=1\n"
AC_OFFLINE = "POWER_SUPPLY_NAME=AC\nPOWER_SUPPLY_TYPE=Mains\nPOWER_SUPPLY_ONLINE=0\n"


def fixture(case: str) -> str:
    return (FIXTURES / case / f"linux_{case}.txt").read_text(encoding="utf-8")


def test_format_registered() -> None:
    assert FORMATS["linux-power-supply"].carries_time is False


def test_fixture_thinkpad_energy_battery() -> None:
    (battery,) = parse_power_supply_uevent(fixture("sysfs_power_supply_BAT0_uevent_1"), CTX)
    assert battery.ts == CTX.now
    assert battery.percent == 81.0
    assert battery.status == "discharging"
    assert battery.plugged is False
    assert battery.design_capacity_wh == 47.52
    assert battery.full_charge_capacity_wh == 45.07
    assert battery.health_percent == 94.8
    assert battery.cycle_count is None  # CYCLE_COUNT=0 means "not counted"


def test_charge_battery_uses_design_voltage() -> None:
    text = (
        "# cat /sys/class/power_supply/BAT1/uevent\r\n"
        "DEVTYPE=power_supply\r\n"
        "POWER_SUPPLY_NAME=BAT1\r\n"
        "POWER_SUPPLY_TYPE=Battery\r\n"
        "POWER_SUPPLY_STATUS=Charging\r\n"
        "POWER_SUPPLY_PRESENT=1\r\n"
        "POWER_SUPPLY_CYCLE_COUNT=231\r\n"
        "POWER_SUPPLY_VOLTAGE_MIN_DESIGN=7600000\r\n"
        "POWER_SUPPLY_CHARGE_FULL_DESIGN=5000000\r\n"
        "POWER_SUPPLY_CHARGE_FULL=4321000\r\n"
        "POWER_SUPPLY_CHARGE_NOW=2160500\r\n"
        "\r\n"
    )
    (battery,) = parse_power_supply_uevent(text, CTX)
    assert battery.percent == 50.0  # CHARGE_NOW / CHARGE_FULL, no CAPACITY line
    assert (battery.status, battery.plugged) == ("charging", True)
    assert battery.design_capacity_wh == 38.0
    assert battery.full_charge_capacity_wh == 32.84
    assert battery.health_percent == 86.4
    assert battery.cycle_count == 231


def test_charge_without_voltage_still_gives_health() -> None:
    text = (
        "POWER_SUPPLY_NAME=BAT0\nPOWER_SUPPLY_STATUS=Full\nPOWER_SUPPLY_CAPACITY=100\n"
        "POWER_SUPPLY_CHARGE_FULL_DESIGN=4000000\nPOWER_SUPPLY_CHARGE_FULL=4100000\n"
    )
    (battery,) = parse_power_supply_uevent(text, CTX)
    assert (battery.design_capacity_wh, battery.full_charge_capacity_wh) == (None, None)
    assert battery.health_percent == 102.5
    assert (battery.status, battery.plugged, battery.percent) == ("full", True, 100.0)


def test_voltage_max_design_fallback() -> None:
    text = (
        "POWER_SUPPLY_NAME=BAT0\nPOWER_SUPPLY_VOLTAGE_MAX_DESIGN=8000000\n"
        "POWER_SUPPLY_CHARGE_FULL_DESIGN=5000000\nPOWER_SUPPLY_CHARGE_FULL=4000000\n"
    )
    (battery,) = parse_power_supply_uevent(text, CTX)
    assert (battery.design_capacity_wh, battery.full_charge_capacity_wh) == (40.0, 32.0)


def test_energy_now_over_full_is_clamped_and_unknown_status() -> None:
    text = (
        "POWER_SUPPLY_NAME=BAT0\nPOWER_SUPPLY_STATUS=Unknown\n"
        "POWER_SUPPLY_ENERGY_FULL=40000000\nPOWER_SUPPLY_ENERGY_NOW=40400000\n"
        "POWER_SUPPLY_ENERGY_FULL_DESIGN=0\n"
    )
    (battery,) = parse_power_supply_uevent(text, CTX)
    assert battery.percent == 100.0
    assert (battery.status, battery.plugged) == (None, None)
    assert (battery.design_capacity_wh, battery.health_percent) == (None, None)
    assert battery.full_charge_capacity_wh == 40.0


@pytest.mark.parametrize(
    ("status", "snake", "plugged"),
    [
        ("Charging", "charging", True),
        ("Discharging", "discharging", False),
        ("Full", "full", True),
        ("Not charging", "not_charging", True),
    ],
)
def test_status_mapping(status: str, snake: str, plugged: bool) -> None:
    (battery,) = parse_power_supply_uevent(f"POWER_SUPPLY_STATUS={status}\n", CTX)
    assert (battery.status, battery.plugged) == (snake, plugged)


def test_ac_online_overrides_status() -> None:
    bat = fixture("sysfs_power_supply_BAT0_uevent_1")  # says Discharging
    (on_ac,) = parse_power_supply_uevent(AC_ONLINE + bat, CTX)
    assert (on_ac.status, on_ac.plugged) == ("discharging", True)
    full = "POWER_SUPPLY_NAME=BAT0\nPOWER_SUPPLY_STATUS=Full\nPOWER_SUPPLY_CAPACITY=100\n"
    (unplugged,) = parse_power_supply_uevent(full + AC_OFFLINE, CTX)
    assert (unplugged.status, unplugged.plugged) == ("full", False)


def test_usb_c_source_counts_as_plugged() -> None:
    usb = (
        "POWER_SUPPLY_NAME=ucsi-source-psy-USBC000:001\n"
        "POWER_SUPPLY_TYPE=USB\nPOWER_SUPPLY_ONLINE=1\n"
    )
    text = AC_OFFLINE + usb + "POWER_SUPPLY_NAME=BAT0\nPOWER_SUPPLY_STATUS=Discharging\n"
    (battery,) = parse_power_supply_uevent(text, CTX)
    assert battery.plugged is True


def test_two_batteries_give_two_samples() -> None:
    text = (
        "==> /sys/class/power_supply/BAT0/uevent <==\n"
        "POWER_SUPPLY_NAME=BAT0\nPOWER_SUPPLY_CAPACITY=40\n\n"
        "==> /sys/class/power_supply/BAT1/uevent <==\n"
        "POWER_SUPPLY_NAME=BAT1\nPOWER_SUPPLY_CAPACITY=90\n"
    )
    assert [b.percent for b in parse_power_supply_uevent(text, CTX)] == [40.0, 90.0]


@pytest.mark.parametrize(
    "text",
    [
        AC_ONLINE,
        "POWER_SUPPLY_NAME=ucsi-source-psy\nPOWER_SUPPLY_TYPE=USB\nPOWER_SUPPLY_ONLINE=0\n",
        "POWER_SUPPLY_NAME=AC0\nPOWER_SUPPLY_ONLINE=1\n",  # old kernels: no TYPE line
        "POWER_SUPPLY_NAME=BAT1\nPOWER_SUPPLY_TYPE=Battery\nPOWER_SUPPLY_PRESENT=0\n",
        "POWER_SUPPLY_NAME=hidpp_battery_0\nPOWER_SUPPLY_TYPE=Battery\n"
        "POWER_SUPPLY_SCOPE=Device\nPOWER_SUPPLY_CAPACITY=55\nPOWER_SUPPLY_STATUS=Discharging\n",
    ],
)
def test_no_system_battery_is_empty(text: str) -> None:
    assert parse_power_supply_uevent(text, CTX) == []


def test_cycle_count_zero_and_garbage_values() -> None:
    text = "POWER_SUPPLY_CYCLE_COUNT=abc\nPOWER_SUPPLY_CAPACITY=n/a\nPOWER_SUPPLY_STATUS=Charging\n"
    (battery,) = parse_power_supply_uevent(text, CTX)
    assert (battery.cycle_count, battery.percent, battery.status) == (None, None, "charging")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n",
        "Battery 0: Discharging, 81%, 02:10:00 remaining",  # acpi -b
        "PATH=/usr/bin\nHOME=/root\n",  # env, no POWER_SUPPLY_ keys
        "/sys/class/power_supply/BAT0/capacity:81\n",  # grep . output
        "POWER_SUPPLY_NAME=BAT0\nthis line is prose\n",
    ],
)
def test_rejects_other_text(text: str) -> None:
    with pytest.raises(ParseError):
        parse_power_supply_uevent(text, CTX)
