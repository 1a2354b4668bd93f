"""Linux sysfs power-supply ``uevent`` -> one BatterySample per system battery.

Why: psutil gives charge and plugged state but no wear; the kernel's power_supply class gives
both, readable by any user, in ``/sys/class/power_supply/BAT*/uevent``::

    POWER_SUPPLY_NAME=BAT0
    POWER_SUPPLY_STATUS=Discharging
    POWER_SUPPLY_CYCLE_COUNT=0
    POWER_SUPPLY_VOLTAGE_MIN_DESIGN=10800000
    POWER_SUPPLY_ENERGY_FULL_DESIGN=47520000
    POWER_SUPPLY_ENERGY_FULL=45070000
    POWER_SUPPLY_ENERGY_NOW=36580000
    POWER_SUPPLY_CAPACITY=81

Units: energy µWh, charge µAh, voltage µV. Batteries report either ENERGY_* or CHARGE_*; from
charge the Wh figures are charge × VOLTAGE_MIN_DESIGN (VOLTAGE_MAX_DESIGN if min is absent);
health is FULL / FULL_DESIGN of the same kind, so it needs no voltage. Zero capacities (broken
firmware) are treated as unknown.

- ``percent``: CAPACITY, else ENERGY_NOW/ENERGY_FULL or CHARGE_NOW/CHARGE_FULL; clamped to
  0-100 (NOW above FULL happens).
- ``status``: Charging/Discharging/Full/Not charging -> charging/discharging/full/not_charging;
  "Unknown" -> None.
- ``plugged``: from the ONLINE of Mains/USB supplies when the text includes their uevents
  (``cat /sys/class/power_supply/*/uevent``), else from status (discharging -> False, the other
  three -> True).
- ``cycle_count``: CYCLE_COUNT, but 0 is left None: many firmwares (the sample's ThinkPad at
  95 % health among them) report 0 for "not counted", and a truly new battery loses nothing.

Several uevents may be concatenated (a repeated key starts the next supply). A text with only
Mains/USB supplies, an absent battery (PRESENT=0) or a peripheral's battery (SCOPE=Device, e.g.
a wireless mouse) has no laptop battery: ``[]``. Two batteries (ThinkPads with BAT0 and BAT1)
give two samples with the same ``ts`` (the schema has no battery name). The text has no time:
``ts`` is ``ctx.now``.
"""

from __future__ import annotations

import re

from dexpulse.schema.samples import BatterySample

from . import ParseContext, ParseError, register

_LINE = re.compile(r"^(?P<key>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")
_FILE_HEADER = re.compile(r"^==> .* <==$")  # `tail -n +1 */uevent` between files
_PREFIX = "POWER_SUPPLY_"
_STATUS = {
    "charging": "charging",
    "discharging": "discharging",
    "full": "full",
    "not charging": "not_charging",
}
_PLUGGED_STATUS = {"charging": True, "full": True, "not_charging": True, "discharging": False}
_SOURCE_TYPES = {"mains", "usb", "wireless"}
_BATTERY_KEYS = {"CAPACITY", "STATUS", "CYCLE_COUNT", "TECHNOLOGY"}
_HINT = "is this /sys/class/power_supply/BAT0/uevent?"

Supply = dict[str, str]


def _split_supplies(text: str) -> list[Supply]:
    """KEY=VALUE lines -> one dict per supply (POWER_SUPPLY_ prefix removed)."""
    lines = [line.strip() for line in text.replace("\r", "").split("\n")]
    lines = [line for line in lines if line]
    if lines and lines[0].startswith(("#", "$")):
        lines = lines[1:]
    supplies: list[Supply] = []
    current: Supply = {}
    seen: set[str] = set()
    for line in lines:
        if _FILE_HEADER.match(line):
            supplies.append(current)
            current, seen = {}, set()
            continue
        match = _LINE.match(line)
        if match is None:
            raise ParseError(f"line {line[:80]!r} is not KEY=VALUE: {_HINT}")
        key = match["key"]
        if key in seen:
            supplies.append(current)
            current, seen = {}, set()
        seen.add(key)
        if key.startswith(_PREFIX):
            current[key.removeprefix(_PREFIX)] = match["value"].strip()
    supplies.append(current)
    return [supply for supply in supplies if supply]


def _int(supply: Supply, key: str) -> int | None:
    try:
        return int(supply[key])
    except (KeyError, ValueError):
        return None


def _positive(supply: Supply, key: str) -> int | None:
    value = _int(supply, key)
    return value if value is not None and value > 0 else None


def _is_battery(supply: Supply) -> bool:
    kind = supply.get("TYPE", "").lower()
    if kind:
        return kind == "battery"
    return any(key in _BATTERY_KEYS or key.startswith(("ENERGY_", "CHARGE_")) for key in supply)


def _is_source(supply: Supply) -> bool:
    kind = supply.get("TYPE", "").lower()
    return kind in _SOURCE_TYPES or (not kind and not _is_battery(supply) and "ONLINE" in supply)


def _ratio_percent(now: int | None, full: int | None) -> float | None:
    if now is None or full is None or now < 0:
        return None
    return round(min(100.0, now / full * 100), 1)


def _battery(supply: Supply, sources_online: list[bool], ctx: ParseContext) -> BatterySample:
    capacity = _int(supply, "CAPACITY")
    if capacity is not None:
        percent: float | None = float(min(100, max(0, capacity)))
    else:
        percent = _ratio_percent(_int(supply, "ENERGY_NOW"), _positive(supply, "ENERGY_FULL"))
        if percent is None:
            percent = _ratio_percent(_int(supply, "CHARGE_NOW"), _positive(supply, "CHARGE_FULL"))

    status = _STATUS.get(supply.get("STATUS", "").strip().lower())
    plugged = any(sources_online) if sources_online else _PLUGGED_STATUS.get(status or "")

    volts_uv = _positive(supply, "VOLTAGE_MIN_DESIGN") or _positive(supply, "VOLTAGE_MAX_DESIGN")

    def watt_hours(kind: str) -> float | None:
        energy = _positive(supply, f"ENERGY_{kind}")
        if energy is not None:
            return round(energy / 1e6, 3)
        charge = _positive(supply, f"CHARGE_{kind}")
        if charge is not None and volts_uv is not None:
            return round(charge * volts_uv / 1e12, 3)
        return None

    design_wh, full_wh = watt_hours("FULL_DESIGN"), watt_hours("FULL")
    health: float | None = None
    for unit in ("ENERGY", "CHARGE"):
        full, design = _positive(supply, f"{unit}_FULL"), _positive(supply, f"{unit}_FULL_DESIGN")
        if full is not None and design is not None:
            health = round(full / design * 100, 1)
            break
    if health is None and full_wh is not None and design_wh is not None and design_wh > 0:
        health = round(full_wh / design_wh * 100, 1)

    cycles = _positive(supply, "CYCLE_COUNT")  # 0 = "not counted" on much firmware
    return BatterySample(
        ts=ctx.now,
        percent=percent,
        plugged=plugged,
        status=status,
        design_capacity_wh=design_wh,
        full_charge_capacity_wh=full_wh,
        health_percent=health,
        cycle_count=cycles if cycles is not None and cycles < 2**32 else None,
    )


@register(
    "linux-power-supply",
    description="Linux battery charge, status and wear from a sysfs power_supply uevent",
    carries_time=False,
    example="cat /sys/class/power_supply/BAT0/uevent",
)
def parse_power_supply_uevent(text: str, ctx: ParseContext) -> list[BatterySample]:
    supplies = _split_supplies(text)
    if not supplies:
        raise ParseError(f"no POWER_SUPPLY_* lines: {_HINT}")
    system = [supply for supply in supplies if supply.get("SCOPE", "").lower() != "device"]
    sources_online = [
        online == 1
        for supply in system
        if _is_source(supply) and (online := _int(supply, "ONLINE")) is not None
    ]
    return [
        _battery(supply, sources_online, ctx)
        for supply in system
        if _is_battery(supply) and supply.get("PRESENT", "1").strip() != "0"
    ]
