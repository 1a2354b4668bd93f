"""Windows CIM/WMI answers as PowerShell JSON -> battery samples, device facts, file versions.

Why: on Windows the battery's wear, the machine's model and the version of a running program
are not in any log; WMI has them, and the agent reads them with one PowerShell call each (see
:mod:`dexpulse.agent.platform._windows.powershell`), which prints JSON.

**Battery** (``windows-battery-json``). ``Win32_Battery`` has the charge and a status code;
the battery class driver's ``root\\wmi`` classes have the capacities, joined on
``InstanceName``. Answer of a ThinkPad on battery (shape as the battery backend's script
prints it; capacities from the reference's ``Get-MyLaptopBatteryStatus.ps1`` sample
``ACPI\\PNP0C0A\\1_0 53398 83995 63.57``)::

    {"Battery": [{"DeviceID": "1234LGCLNV-45N1", "EstimatedChargeRemaining": 81,
                  "BatteryStatus": 1}],
     "Static": [{"InstanceName": "ACPI\\\\PNP0C0A\\\\1_0", "DesignedCapacity": 83995,
                 "Capabilities": 2147483648}],
     "Full": [{"InstanceName": "ACPI\\\\PNP0C0A\\\\1_0", "FullChargedCapacity": 53398}],
     "Cycles": [], "Status": [{"InstanceName": "ACPI\\\\PNP0C0A\\\\1_0", "PowerOnline": false,
                               "Charging": false, "Discharging": true}]}

* ``percent`` = EstimatedChargeRemaining. ``BatteryStatus`` (CIM_Battery): 1 discharging;
  2 "on AC, not necessarily charging"; 3 fully charged; 4 low and 5 critical (on battery);
  6-9 charging; 11 partially charged; 10 undefined. Many laptops only ever say 1 or 2, so
  the driver's live flags (``root\\wmi`` BatteryStatus: PowerOnline, Charging, Discharging)
  decide ``plugged`` and ``status`` where present; code 2 without them is plugged with an
  unknown status.
* Capacities are mWh (BATTERY_WMI_STATIC_DATA), sent as Wh; ``health_percent`` = full /
  design. ``Capabilities`` with BATTERY_CAPACITY_RELATIVE (0x40000000) means the figures
  are not mWh: the ratio is kept, the Wh figures are not. BATTERY_IS_SHORT_TERM (0x20000000,
  a UPS) units are not laptop batteries. 0, BATTERY_UNKNOWN_CAPACITY (0xFFFFFFFF) and
  figures over 500 Wh are unknown; a health over 150 % is a firmware error, left out.
* Joining ``Win32_Battery`` to the ``root\\wmi`` units: one of each, or as many of each in
  their order (a ThinkPad with two batteries) [unverified order]; any other count leaves the
  capacities out rather than pairing them wrongly. The ``root\\wmi`` classes need rights a
  standard user may lack and some firmwares omit them: then only charge and status are sent.
* No ``Win32_Battery`` item (a desktop, most VMs): ``[]``. No time in the text: ``ts`` is
  ``ctx.now``.

**Device facts**: Win32_ComputerSystem Manufacturer/Model, Win32_OperatingSystem Caption and
``HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion`` DisplayVersion (ReleaseId before
20H2), CurrentBuild and UBR -> ``os_version`` "Windows 11 Pro 23H2", ``os_build``
"22631.4460". The registry's ProductName still says "Windows 10" on Windows 11, so the
Caption is used. Firmware placeholders ("To Be Filled By O.E.M.") are dropped.

**File versions**: per path the fixed file version of ``(Get-Item).VersionInfo``
(FileMajorPart.FileMinorPart.FileBuildPart.FilePrivatePart), which is what Application Error
1000 reports as AppVersion (``w3wp.exe, version: 8.0.9200.16384``), so a crash and the
exposure to it share a version; the FileVersion string only when the fixed parts are absent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from dexpulse.schema import SampleBase
from dexpulse.schema.samples import BatterySample

from . import ParseContext, ParseError, register
from .ps_json import as_dicts, flag, integer, load, number, text

RELATIVE = 0x40000000
SHORT_TERM = 0x20000000
UNKNOWN_CAPACITY = 0xFFFFFFFF
MAX_MWH = 500_000.0
MAX_HEALTH = 150.0
MAX_BATTERIES = 4
_DISCHARGING, _AC = {1, 4, 5}, {2, 3, 6, 7, 8, 9}
_CHARGING = {6, 7, 8, 9}
_PLACEHOLDERS = {
    "to be filled by o.e.m.", "system product name", "system manufacturer", "default string",
    "not applicable", "none", "o.e.m.", "oem",
}  # fmt: skip
_VERSION = re.compile(r"^\s*(\d+(?:[.,]\d+){1,3})")


# -- battery -----------------------------------------------------------------------------------


def _capacity(value: Any) -> float | None:
    mwh = number(value)
    if mwh is None or mwh <= 0 or mwh >= UNKNOWN_CAPACITY or mwh > MAX_MWH:
        return None
    return mwh


def _units(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``root\\wmi`` batteries, one dict per InstanceName, in the order first seen."""
    units: dict[str, dict[str, Any]] = {}
    for key in ("Static", "Full", "Cycles", "Status"):
        for item in as_dicts(data.get(key)):
            name = text(item.get("InstanceName"), 512)
            if name is not None:
                units.setdefault(name, {}).update(item)
    kept = []
    for unit in units.values():
        caps = integer(unit.get("Capabilities")) or 0
        if caps & SHORT_TERM:
            continue  # a UPS
        kept.append(unit)
    return kept


def _plugged_status(code: int | None, unit: Mapping[str, Any]) -> tuple[bool | None, str | None]:
    online, charging = flag(unit.get("PowerOnline")), flag(unit.get("Charging"))
    discharging = flag(unit.get("Discharging"))
    if charging:
        return True, "charging"
    if discharging:
        return False, "discharging"
    if online:
        return True, "full" if code == 3 else "not_charging"
    if code in _CHARGING:
        return True, "charging"
    if code == 3:
        return True, "full"
    if code in _DISCHARGING:
        return False, "discharging"
    return (True if code in _AC else None), None


def _battery(ts: datetime, battery: Mapping[str, Any], unit: Mapping[str, Any]) -> BatterySample:
    code = integer(battery.get("BatteryStatus"))
    plugged, status = _plugged_status(code, unit)
    percent = number(battery.get("EstimatedChargeRemaining"))
    design = _capacity(unit.get("DesignedCapacity"))
    full = _capacity(unit.get("FullChargedCapacity"))
    health = round(100.0 * full / design, 1) if design and full else None
    if health is not None and health > MAX_HEALTH:
        design = full = health = None
    relative = bool((integer(unit.get("Capabilities")) or 0) & RELATIVE)
    cycles = integer(unit.get("CycleCount"))
    return BatterySample(
        ts=ts,
        percent=percent if percent is not None and 0 <= percent <= 100 else None,
        plugged=plugged,
        status=status,
        design_capacity_wh=None if relative or design is None else round(design / 1000, 3),
        full_charge_capacity_wh=None if relative or full is None else round(full / 1000, 3),
        health_percent=health,
        cycle_count=cycles if cycles is not None and 0 < cycles < 2**32 else None,
    )


def battery_samples(text_: str, ctx: ParseContext) -> list[BatterySample]:
    """One BatterySample per ``Win32_Battery`` item of the battery script's JSON."""
    data = load(text_, "battery")
    if not isinstance(data, dict) or "Battery" not in data:
        raise ParseError("battery: no 'Battery' key: is this the agent's battery script output?")
    batteries = as_dicts(data.get("Battery"))[:MAX_BATTERIES]
    units = _units(data)
    paired = len(units) == len(batteries)
    return [
        _battery(ctx.now, battery, units[index] if paired else {})
        for index, battery in enumerate(batteries)
    ]


@register(
    "windows-battery-json",
    description="Windows battery: Win32_Battery and root\\wmi capacities as the agent's JSON",
    carries_time=False,
    example="the battery script of dexpulse.agent.platform._windows.battery (PowerShell)",
)
def parse_windows_battery(text_: str, ctx: ParseContext) -> list[SampleBase]:
    return list(battery_samples(text_, ctx))


# -- device facts ------------------------------------------------------------------------------


def _fact(value: Any, limit: int = 128) -> str | None:
    value = text(value, limit)
    return None if value is None or value.lower() in _PLACEHOLDERS else value


def device_facts(text_: str) -> dict[str, str | None]:
    """os_version, os_build, model, manufacturer from the facts script's JSON (missing: None)."""
    data = load(text_, "device facts")
    if not isinstance(data, dict):
        raise ParseError("device facts: expected one JSON object")
    caption = _fact(data.get("Caption"))
    if caption is not None and caption.lower().startswith("microsoft "):
        caption = caption[len("microsoft ") :]
    release = _fact(data.get("DisplayVersion"), 16) or _fact(data.get("ReleaseId"), 16)
    build, ubr = _fact(data.get("CurrentBuild"), 16), integer(data.get("UBR"))
    return {
        "os_version": f"{caption} {release}" if caption and release else caption,
        "os_build": f"{build}.{ubr}" if build and ubr is not None else build,
        "model": _fact(data.get("Model")),
        "manufacturer": _fact(data.get("Manufacturer")),
    }


# -- file versions -----------------------------------------------------------------------------


def _file_version(item: Mapping[str, Any]) -> str | None:
    parts = [integer(item.get(key)) for key in ("Major", "Minor", "Build", "Private")]
    if all(part is not None and 0 <= part < 65536 for part in parts) and any(parts):
        return ".".join(str(part) for part in parts)
    match = _VERSION.match(text(item.get("FileVersion")) or "")
    return match[1].replace(",", ".") if match else None


def file_versions(text_: str) -> dict[str, str | None]:
    """Path -> version from the versions script's JSON; None for a file without a version
    resource and for one the script could not read (``Error``: access denied, gone), which
    the caller caches like a versionless file rather than start PowerShell for it every run."""
    found: dict[str, str | None] = {}
    for item in as_dicts(load(text_, "file versions")):
        path = item.get("Path")
        if isinstance(path, str) and path:
            found[path] = None if item.get("Error") else _file_version(item)
    return found
