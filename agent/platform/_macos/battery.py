"""macOS battery: ``system_profiler SPPowerDataType -json``, readable by any user.

The JSON is a list of items told apart by ``_name`` (the keys chef/ohai's darwin hardware
plugin reads)::

    {"SPPowerDataType": [
      {"_name": "spbattery_information",
       "sppower_battery_charge_info": {"sppower_battery_state_of_charge": 81,
                                       "sppower_battery_is_charging": "FALSE",
                                       "sppower_battery_fully_charged": "FALSE"},
       "sppower_battery_health_info": {"sppower_battery_cycle_count": 312,
                                       "sppower_battery_health": "Good",
                                       "sppower_battery_health_maximum_capacity": "84%"}},
      {"_name": "sppower_ac_charger_information",
       "sppower_battery_charger_connected": "TRUE", "sppower_battery_is_charging": "FALSE"},
      ...]}

Read here (a small pure parser, :func:`parse_sp_power`): ``percent`` from
``state_of_charge`` (Apple Silicon and recent Intel) or ``current_capacity`` /
``max_capacity`` (mAh, older Intel); ``health_percent`` from ``health_maximum_capacity``
(Apple's own figure: full charge / design) or, where both are given in mAh,
``max_capacity`` / ``design_capacity``; ``cycle_count``; ``plugged`` from
``charger_connected``; ``status`` charging / full / not_charging (plugged in, not charging) /
discharging, spelled as the Linux parser does. The condition ("Good", "Service Recommended")
has no field in BatterySample and is not sent. Capacities are mAh, not Wh: the ``*_wh``
fields stay None. No battery item (a Mac mini, a VM): NoData.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from dexpulse.schema import BatterySample

from ...parsers import ParseError
from ..host import Host, NoData

SYSTEM_PROFILER = ("system_profiler", "SPPowerDataType", "-json")
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%?\s*$")


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _flag(value: object) -> bool | None:
    """system_profiler's ``"TRUE"``/``"FALSE"`` (also ``"Yes"``/``"No"``, real booleans)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if value is not None else ""
    return {"true": True, "yes": True, "false": False, "no": False}.get(text)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    m = _PERCENT.match(str(value))
    return float(m[1]) if m else None


def _ratio(part: float | None, whole: float | None) -> float | None:
    if part is None or whole is None or whole <= 0 or part < 0:
        return None
    return round(100.0 * part / whole, 1)


def _status(charging: bool | None, full: bool | None, plugged: bool | None) -> str | None:
    if charging:
        return "charging"
    if plugged:
        return "full" if full else "not_charging"
    if plugged is False:
        return "discharging"
    return "full" if full else None


def parse_sp_power(text: str, now: datetime) -> list[BatterySample]:
    """The battery of ``system_profiler SPPowerDataType -json``; [] when it lists none.

    ParseError when the text is not that JSON (the format changed: a real failure).
    """
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"system_profiler SPPowerDataType: not JSON ({exc})") from None
    items = data.get("SPPowerDataType") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ParseError("no 'SPPowerDataType' list in system_profiler's output")
    named = {str(item.get("_name")): item for item in items if isinstance(item, dict)}
    battery = named.get("spbattery_information")
    if battery is None:
        return []
    charge = _dict(battery.get("sppower_battery_charge_info"))
    health = _dict(battery.get("sppower_battery_health_info"))
    charger = _dict(named.get("sppower_ac_charger_information"))
    percent = _number(charge.get("sppower_battery_state_of_charge"))
    max_mah = _number(charge.get("sppower_battery_max_capacity"))
    if percent is None:
        percent = _ratio(_number(charge.get("sppower_battery_current_capacity")), max_mah)
    health_percent = _number(health.get("sppower_battery_health_maximum_capacity"))
    if health_percent is None:
        design = _number(charge.get("sppower_battery_design_capacity"))
        health_percent = _ratio(max_mah, design)
    cycles = _number(health.get("sppower_battery_cycle_count"))
    plugged = _flag(charger.get("sppower_battery_charger_connected"))
    charging = _flag(charge.get("sppower_battery_is_charging"))
    if charging is None:
        charging = _flag(charger.get("sppower_battery_is_charging"))
    full = _flag(charge.get("sppower_battery_fully_charged"))
    if plugged is None and charging:
        plugged = True
    return [
        BatterySample(
            ts=now,
            percent=min(percent, 100.0) if percent is not None else None,
            plugged=plugged,
            status=_status(charging, full, plugged),
            health_percent=health_percent,
            cycle_count=int(cycles) if cycles is not None and cycles >= 0 else None,
        )
    ]


def battery_samples(host: Host, now: datetime) -> list[BatterySample]:
    """The Mac's battery; NoData when there is none or system_profiler cannot say."""
    samples = parse_sp_power(host.command(*SYSTEM_PROFILER), now)
    if not samples:
        raise NoData("no battery in system_profiler SPPowerDataType")
    return samples
