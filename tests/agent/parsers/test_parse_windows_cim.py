"""Windows battery, device facts and file versions from the agent's PowerShell JSON.

The JSON texts are written in Windows PowerShell 5.1's ``ConvertTo-Json -Compress`` shape
(the agent runs ``powershell``, i.e. 5.1) from the documented classes and units
(Win32_Battery's BatteryStatus codes, BATTERY_WMI_STATIC_DATA in mWh, the reference's
``ACPI\\PNP0C0A\\1_0 53398 83995 63.57`` battery); no capture from a machine is in the
fixtures.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from dexpulse.agent.parsers import FORMATS, ParseContext, ParseError, load_all
from dexpulse.agent.parsers.windows_cim import (
    battery_samples,
    device_facts,
    file_versions,
    parse_windows_battery,
)
from dexpulse.schema import BatterySample

CTX = ParseContext(now=datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
UNIT = "ACPI\\PNP0C0A\\1_0"
SYSTEM = 0x80000000


def answer(
    battery: Any,
    static: Any = (),
    full: Any = (),
    cycles: Any = (),
    status: Any = (),
) -> str:
    """The battery script's output (keys as its $out), compressed as 5.1 prints it."""
    data = {"Battery": battery, "Static": static, "Full": full, "Cycles": cycles, "Status": status}
    return json.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in data.items()},
                      separators=(",", ":"))  # fmt: skip


def win32(status: int, percent: int = 81, device: str = "1234LGCLNV-45N1") -> dict[str, Any]:
    return {"DeviceID": device, "EstimatedChargeRemaining": percent, "BatteryStatus": status}


def static(design: int, caps: int = SYSTEM, unit: str = UNIT) -> dict[str, Any]:
    return {"InstanceName": unit, "DesignedCapacity": design, "Capabilities": caps}


def fullcap(value: int, unit: str = UNIT) -> dict[str, Any]:
    return {"InstanceName": unit, "FullChargedCapacity": value}


def live(online: bool, charging: bool, discharging: bool, unit: str = UNIT) -> dict[str, Any]:
    return {
        "InstanceName": unit,
        "PowerOnline": online,
        "Charging": charging,
        "Discharging": discharging,
    }


def one(text: str) -> BatterySample:
    (sample,) = battery_samples(text, CTX)
    assert sample.ts == CTX.now
    return sample


def test_format_registered() -> None:
    load_all()
    fmt = FORMATS["windows-battery-json"]
    assert fmt.parse is parse_windows_battery and fmt.carries_time is False


def test_reference_battery_on_battery_power() -> None:
    sample = one(
        answer([win32(1)], [static(83995)], [fullcap(53398)], [], [live(False, False, True)])
    )
    assert sample.percent == 81.0
    assert (sample.plugged, sample.status) == (False, "discharging")
    assert (sample.design_capacity_wh, sample.full_charge_capacity_wh) == (83.995, 53.398)
    assert sample.health_percent == 63.6  # the reference script's 63.57, rounded
    assert sample.cycle_count is None  # no BatteryCycleCount on this firmware


def test_bare_objects_instead_of_arrays() -> None:
    text = json.dumps(
        {"Battery": win32(1), "Static": static(83995), "Full": fullcap(53398), "Cycles": None,
         "Status": live(False, False, True)}
    )  # fmt: skip
    assert one(text).health_percent == 63.6


@pytest.mark.parametrize(
    ("code", "plugged", "status"),
    [
        (1, False, "discharging"),
        (2, True, None),  # on AC "not necessarily charging": no live flags to tell
        (3, True, "full"),
        (4, False, "discharging"),
        (5, False, "discharging"),
        (6, True, "charging"),
        (9, True, "charging"),
        (10, None, None),
        (11, None, None),
    ],
)
def test_status_codes_without_root_wmi(code: int, plugged: bool | None, status: str) -> None:
    sample = one(answer([win32(code)]))
    assert (sample.plugged, sample.status) == (plugged, status)
    assert sample.design_capacity_wh is None and sample.health_percent is None


@pytest.mark.parametrize(
    ("code", "flags", "plugged", "status"),
    [
        (2, (True, True, False), True, "charging"),  # the laptop that only says 1 or 2
        (2, (True, False, False), True, "not_charging"),
        (3, (True, False, False), True, "full"),
        (2, (False, False, True), False, "discharging"),
    ],
)
def test_live_flags_decide(
    code: int, flags: tuple[bool, bool, bool], plugged: bool, status: str
) -> None:
    sample = one(answer([win32(code)], status=[live(*flags)]))
    assert (sample.plugged, sample.status) == (plugged, status)


def test_cycle_count_and_zero_cycles() -> None:
    cycles = [{"InstanceName": UNIT, "CycleCount": 312}]
    assert one(answer([win32(1)], [static(57000)], cycles=cycles)).cycle_count == 312
    zero = [{"InstanceName": UNIT, "CycleCount": 0}]
    assert one(answer([win32(1)], [static(57000)], cycles=zero)).cycle_count is None


@pytest.mark.parametrize(
    ("design", "full"),
    [
        (0, 53398),
        (83995, 0),
        (0xFFFFFFFF, 53398),
        (83995, 0xFFFFFFFF),
        (9_000_000, 53398),
        (20000, 53398),
    ],  # fmt: skip
)
def test_zero_unknown_and_absurd_capacities(design: int, full: int) -> None:
    sample = one(answer([win32(1)], [static(design)], [fullcap(full)]))
    assert sample.health_percent is None
    assert sample.percent == 81.0  # the rest of the sample stands


def test_relative_capacities_keep_the_ratio_not_the_watt_hours() -> None:
    sample = one(answer([win32(1)], [static(100, SYSTEM | 0x40000000)], [fullcap(88)]))
    assert sample.health_percent == 88.0
    assert sample.design_capacity_wh is None and sample.full_charge_capacity_wh is None


def test_two_batteries_pair_in_order_and_a_ups_is_not_one() -> None:
    second = "ACPI\\PNP0C0A\\2_0"
    ups = "HID\\VID_051D&PID_0002\\5&2B6E2D1&0&1"
    text = answer(
        [win32(1, 70, "A"), win32(1, 90, "B")],
        [static(23200), static(99000, 0x20000000, ups), static(72000, SYSTEM, second)],
        [fullcap(20000), fullcap(36000, second)],
    )
    first, other = battery_samples(text, CTX)
    assert (first.percent, first.health_percent) == (70.0, 86.2)
    assert (other.percent, other.health_percent) == (90.0, 50.0)


def test_counts_that_do_not_match_leave_capacities_out() -> None:
    second = "ACPI\\PNP0C0A\\2_0"
    text = answer([win32(1)], [static(23200), static(72000, SYSTEM, second)])
    assert one(text).design_capacity_wh is None


def test_no_battery_and_not_the_answer() -> None:
    assert battery_samples(answer([]), CTX) == []
    assert battery_samples('{"Battery":null,"Static":[]}', CTX) == []
    with pytest.raises(ParseError, match="no 'Battery' key"):
        battery_samples("[1, 2]", CTX)
    with pytest.raises(ParseError, match="not JSON"):
        battery_samples("Get-CimInstance : Invalid class", CTX)


def test_percent_out_of_range_is_dropped() -> None:
    assert one(answer([win32(1, percent=255)])).percent is None


# -- device facts ------------------------------------------------------------------------------


FACTS_51 = (
    '{"Manufacturer":"Dell Inc.","Model":"Latitude 7440","Caption":"Microsoft Windows 11 Pro",'
    '"DisplayVersion":"23H2","ReleaseId":"2009","CurrentBuild":"22631","UBR":4460}'
)


def test_device_facts() -> None:
    assert device_facts(FACTS_51) == {
        "os_version": "Windows 11 Pro 23H2",
        "os_build": "22631.4460",
        "model": "Latitude 7440",
        "manufacturer": "Dell Inc.",
    }


def test_device_facts_old_release_and_placeholders() -> None:
    text = json.dumps(
        {"Manufacturer": "To Be Filled By O.E.M.", "Model": "System Product Name",
         "Caption": "Microsoft Windows 10 Enterprise", "DisplayVersion": None,
         "ReleaseId": "1909", "CurrentBuild": "18363", "UBR": None}
    )  # fmt: skip
    assert device_facts(text) == {
        "os_version": "Windows 10 Enterprise 1909",
        "os_build": "18363",
        "model": None,
        "manufacturer": None,
    }


def test_device_facts_refuses_other_json() -> None:
    with pytest.raises(ParseError, match="one JSON object"):
        device_facts("[]")


# -- file versions -----------------------------------------------------------------------------


OUTLOOK = "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE"
EXPLORER = "C:\\Windows\\explorer.exe"


def version(path: str, parts: tuple[int, ...] | None, file_version: str | None) -> dict[str, Any]:
    major, minor, build, private = parts or (None, None, None, None)
    return {"Path": path, "Major": major, "Minor": minor, "Build": build, "Private": private,
            "FileVersion": file_version}  # fmt: skip


def test_file_versions_are_the_fixed_version_as_crash_events_report_it() -> None:
    text = json.dumps(
        [
            version(OUTLOOK, (16, 0, 18526, 20168), "16.0.18526.20168"),
            version(EXPLORER, (10, 0, 22621, 3672), "10.0.22621.1 (WinBuild.160101.0800)"),
            version("C:\\Tools\\plain.exe", (0, 0, 0, 0), None),
            version("C:\\Tools\\text.exe", (0, 0, 0, 0), "2,4,1,0"),
            {"Path": "C:\\Gone\\old.exe", "Error": "ItemNotFoundException"},
        ]
    )
    assert file_versions(text) == {
        OUTLOOK: "16.0.18526.20168",
        EXPLORER: "10.0.22621.3672",
        "C:\\Tools\\plain.exe": None,
        "C:\\Tools\\text.exe": "2.4.1.0",
        "C:\\Gone\\old.exe": None,  # unreadable: remembered as versionless
    }


def test_file_versions_single_object_and_garbage() -> None:
    text = json.dumps(version(OUTLOOK, (16, 0, 1, 2), None))
    assert file_versions(text) == {OUTLOOK: "16.0.1.2"}
    assert file_versions("") == {}
    with pytest.raises(ParseError, match="file versions"):
        file_versions("Get-Item : Cannot find path")
