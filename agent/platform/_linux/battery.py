"""Linux battery: the kernel's power_supply class, readable by any user.

Every ``/sys/class/power_supply/<name>/`` is one supply. Its ``type`` file says what it is:
``Battery``, ``Mains`` (the AC adapter), ``USB`` (a USB-C/PD charger port; older kernels
also say ``USB_C``, ``USB_PD``, ...), ``Wireless``, ``UPS``. Batteries of peripherals (a
wireless mouse through hid-*, a headset) are type Battery too, but say ``SCOPE=Device`` in
their ``uevent``: the parser skips them.

The ``uevent`` files of the batteries and of the chargers (whose ``ONLINE=1`` says the laptop
is plugged in) are joined with ``==> path <==`` headers, the way ``tail -n +1 */uevent`` prints
them, and handed to
:func:`dexpulse.agent.parsers.power_supply.parse_power_supply_uevent` in one call. Kernels
before 5.x put no ``POWER_SUPPLY_TYPE`` in the uevent: it is then added from the ``type`` file
so the parser does not have to guess.

Reading a battery's uevent can make the embedded controller answer over ACPI (a few
milliseconds): done once per run, which is daily by default.
"""

from __future__ import annotations

from datetime import datetime

from dexpulse.schema import BatterySample

from ...parsers import ParseContext
from ...parsers.power_supply import parse_power_supply_uevent
from ..host import Host, NoData

POWER_SUPPLY = "/sys/class/power_supply"
MAX_SUPPLIES = 32
_SOURCE_PREFIXES = ("mains", "usb", "wireless")


def _supply_type(host: Host, name: str, uevent: str) -> str:
    for line in uevent.splitlines():
        if line.startswith("POWER_SUPPLY_TYPE="):
            return line.partition("=")[2].strip()
    try:
        return host.read(f"{POWER_SUPPLY}/{name}/type").strip()
    except NoData:
        return ""


def power_supply_text(host: Host) -> tuple[str, int]:
    """The uevents of the batteries and chargers, joined; and how many batteries there are."""
    try:
        names = sorted(entry.name for entry in host.path(POWER_SUPPLY).iterdir())
    except OSError:
        raise NoData(f"{POWER_SUPPLY} is not readable (no power_supply class)") from None
    parts: list[str] = []
    batteries = 0
    for name in names[:MAX_SUPPLIES]:
        try:
            uevent = host.read(f"{POWER_SUPPLY}/{name}/uevent")
        except NoData:
            continue
        kind = _supply_type(host, name, uevent)
        if kind.lower() == "battery":
            batteries += 1
        elif not kind.lower().startswith(_SOURCE_PREFIXES):
            continue  # UPS, unknown: not this laptop's power
        if "POWER_SUPPLY_TYPE=" not in uevent:
            uevent = f"POWER_SUPPLY_TYPE={kind}\n{uevent}"
        parts.append(f"==> {POWER_SUPPLY}/{name}/uevent <==\n{uevent.strip()}\n")
    return "".join(parts), batteries


def battery_samples(host: Host, now: datetime) -> list[BatterySample]:
    """One BatterySample per system battery; NoData when there is none (a desktop, a VM)."""
    text, batteries = power_supply_text(host)
    if not batteries:
        raise NoData("no battery in /sys/class/power_supply")
    samples = parse_power_supply_uevent(text, ParseContext(now=now))
    if not samples:
        raise NoData("only peripheral or absent batteries in /sys/class/power_supply")
    return samples
