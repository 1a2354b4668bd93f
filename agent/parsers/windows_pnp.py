"""Windows Plug and Play devices as PowerShell JSON -> device problems and attached peripherals.

Why: a device that Windows stopped or could not install ("This device cannot start. (Code
10)") is often the dock, headset or camera a user calls about, and many laptops showing the
same problem on the same driver version is an outage. The event log records only some of
these (Kernel-PnP 411 when a start fails); the device's current problem code is in
``Win32_PnPEntity.ConfigManagerErrorCode`` for all of them. The same PnP tree, with
``Win32_PnPSignedDriver``'s driver versions, is the inventory of attached peripherals.

**Device problems** (``windows-pnp-problems-json``): the peripherals backend's
``Win32_PnPEntity -Filter 'ConfigManagerErrorCode<>0'`` answer, e.g. (Intel Bluetooth that
failed to start; shape documented, values illustrative)::

    [{"Name": "Intel(R) Wireless Bluetooth(R)", "PNPClass": "Bluetooth",
      "DeviceID": "USB\\\\VID_8087&PID_0026\\\\5&2B6E2D1&0&10", "ConfigManagerErrorCode": 10,
      "ClassGuid": "{e0cbf06c-cd8b-4647-bb8a-263b43f0f974}", "Service": "BTHUSB",
      "Manufacturer": "Intel Corporation"}]

-> PeripheralFailureSample ``error`` "problem code 10", spelled exactly as the Kernel-PnP 411
events are (:mod:`.wevt`), so both sources of one failure share a key; the CM_PROB name
(cfg.h, the codes of Device Manager's "Code N" messages) goes into ``message``:
"CM_PROB_FAILED_START (problem code 10): Intel(R) Wireless Bluetooth(R)". Not failures and
skipped: 22 DISABLED (disabled by a person), 45 PHANTOM (not plugged in now), 46
SYSTEM_SHUTDOWN (transient) and 47 HELD_FOR_EJECT (the user asked to eject it). The code may
also arrive as its CM_PROB name (``Get-PnpDevice`` output). ``ts`` is ``ctx.now``: the state
says nothing of when the problem began.

**Peripherals**: ``Win32_PnPSignedDriver`` rows with the device's ``Service`` and presence
joined in from ``Win32_PnPEntity`` by the script. Kept: present devices of a user-facing
class (USB, HIDClass, Bluetooth, Image, Camera, Media, Printer, Keyboard, Mouse, Monitor,
Net) on an external bus (USB, HID, Bluetooth, USB/WSD printing, software printer queues,
DISPLAY monitors), so the PCI Wi-Fi card and the internal audio codec are not "attached
peripherals"; USB root hubs are left out. ``driver`` is the service (as in 411's
ServiceName), else the INF unless it is a machine-specific ``oemNN.inf``; ``driver_version``
the DriverVersion; ids from ``VID_``/``PID_`` as :mod:`.wevt` reads them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dexpulse.schema import InventoryPeripheral, SampleBase
from dexpulse.schema.events import PeripheralFailureSample

from . import ParseContext, ParseError, register
from .ps_json import as_dicts, flag, integer, load, text
from .wevt import BUSES, CLASS_GUIDS, PRODUCT, VENDOR

CM_PROB = {
    1: "NOT_CONFIGURED", 2: "DEVLOADER_FAILED", 3: "OUT_OF_MEMORY", 4: "ENTRY_IS_WRONG_TYPE",
    5: "LACKED_ARBITRATOR", 6: "BOOT_CONFIG_CONFLICT", 7: "FAILED_FILTER",
    8: "DEVLOADER_NOT_FOUND", 9: "INVALID_DATA", 10: "FAILED_START", 11: "LIAR",
    12: "NORMAL_CONFLICT", 13: "NOT_VERIFIED", 14: "NEED_RESTART", 15: "REENUMERATION",
    16: "PARTIAL_LOG_CONF", 17: "UNKNOWN_RESOURCE", 18: "REINSTALL", 19: "REGISTRY",
    20: "VXDLDR", 21: "WILL_BE_REMOVED", 22: "DISABLED", 23: "DEVLOADER_NOT_READY",
    24: "DEVICE_NOT_THERE", 25: "MOVED", 26: "TOO_EARLY", 27: "NO_VALID_LOG_CONF",
    28: "FAILED_INSTALL", 29: "HARDWARE_DISABLED", 30: "CANT_SHARE_IRQ", 31: "FAILED_ADD",
    32: "DISABLED_SERVICE", 33: "TRANSLATION_FAILED", 34: "NO_SOFTCONFIG", 35: "BIOS_TABLE",
    36: "IRQ_TRANSLATION_FAILED", 37: "FAILED_DRIVER_ENTRY", 38: "DRIVER_FAILED_PRIOR_UNLOAD",
    39: "DRIVER_FAILED_LOAD", 40: "DRIVER_SERVICE_KEY_INVALID", 41: "LEGACY_SERVICE_NO_DEVICES",
    42: "DUPLICATE_DEVICE", 43: "FAILED_POST_START", 44: "HALTED", 45: "PHANTOM",
    46: "SYSTEM_SHUTDOWN", 47: "HELD_FOR_EJECT", 48: "DRIVER_BLOCKED", 49: "REGISTRY_TOO_LARGE",
    50: "SETPROPERTIES_FAILED", 51: "WAITING_ON_DEPENDENCY", 52: "UNSIGNED_DRIVER",
    53: "USED_BY_DEBUGGER", 54: "DEVICE_RESET", 55: "CONSOLE_LOCKED", 56: "NEED_CLASS_CONFIG",
    57: "GUEST_ASSIGNMENT_FAILED",
}  # fmt: skip
"""CM_PROB_* of cfg.h (Windows SDK), the "Code N" of Device Manager's error messages."""
NOT_FAILURES = frozenset({22, 45, 46, 47})
MAX_PROBLEMS = 200
MAX_PERIPHERALS = 200
_BY_NAME = {f"CM_PROB_{name}": code for code, name in CM_PROB.items()}
_CLASS_NAMES = {
    "usb": "usb", "bluetooth": "bluetooth", "hidclass": "hid", "keyboard": "keyboard",
    "mouse": "mouse", "image": "camera", "camera": "camera", "media": "audio",
    "audioendpoint": "audio", "printer": "printer", "printqueue": "printer",
    "monitor": "display", "display": "display", "net": "network",
}  # fmt: skip
USER_CLASSES = frozenset(
    {"usb", "hidclass", "bluetooth", "image", "camera", "media", "printer", "keyboard",
     "mouse", "monitor", "net"}
)  # fmt: skip
EXTERNAL_BUSES = frozenset(
    {"usb", "hid", "bthenum", "bthle", "bthledevice", "bthhfenum", "usbprint", "wsdprint",
     "swd", "display"}
)  # fmt: skip
_OEM_INF = re.compile(r"^oem\d+\.inf$", re.I)


@dataclass(frozen=True)
class Problem:
    device_id: str
    code: int
    sample: PeripheralFailureSample


def bus_of(device_id: str) -> str:
    """The enumerator of a device instance id (``USB`` of ``USB\\VID_...``), lower case."""
    return device_id.split("\\", 1)[0].strip().lower()


def device_class(class_name: str | None, class_guid: str | None, device_id: str) -> str | None:
    """The project's device class: from the setup class name, its GUID (as :mod:`.wevt` maps
    them), the bus, else the class name itself in lower case."""
    name = (class_name or "").strip().lower()
    guid = (class_guid or "").strip().strip("{}").lower()
    found = _CLASS_NAMES.get(name) or CLASS_GUIDS.get(guid) or BUSES.get(bus_of(device_id))
    return found or (name[:64] or None)


def vendor_product(device_id: str) -> tuple[str | None, str | None]:
    """USB/PCI/Bluetooth vendor and product ids in ``device_id`` (four lower-case hex digits)."""
    vendor, product = VENDOR.search(device_id), PRODUCT.search(device_id)
    return (
        (vendor[1] or vendor[2]).lower() if vendor else None,
        product[1].lower() if product else None,
    )


def problem_code(value: Any) -> int | None:
    """ConfigManagerErrorCode as a number (also from its ``CM_PROB_*`` name)."""
    if isinstance(value, str) and value.strip().upper() in _BY_NAME:
        return _BY_NAME[value.strip().upper()]
    code = integer(value)
    return code if code is not None and 0 < code < 2**32 else None


def _objects(data: Any, what: str, cls: str) -> list[dict[str, Any]]:
    """The device objects of ``data``; ParseError when it is not a list of ``cls`` objects
    (each has a DeviceID key, even if null)."""
    if data is not None and not isinstance(data, (list, dict)):
        raise ParseError(f"{what}: expected {cls} objects, not {type(data).__name__}")
    items = as_dicts(data)
    if any("DeviceID" not in item for item in items):
        raise ParseError(f"{what}: an object without DeviceID: is this {cls} output?")
    return items


def _problem(now: datetime, item: Mapping[str, Any]) -> Problem | None:
    device = text(item.get("DeviceID"), 4096)
    code = problem_code(item.get("ConfigManagerErrorCode"))
    if device is None or code is None or code in NOT_FAILURES:
        return None
    name = text(item.get("Name"))
    vendor, product = vendor_product(device)
    label = f"CM_PROB_{CM_PROB[code]}" if code in CM_PROB else "unknown problem"
    sample = PeripheralFailureSample(
        ts=now,
        device_class=device_class(text(item.get("PNPClass")), text(item.get("ClassGuid")), device),
        device_id=device,
        vendor_id=vendor,
        product_id=product,
        name=name,
        driver=text(item.get("Service")),
        error=f"problem code {code}",
        message=f"{label} (problem code {code}): {name or device}"[:4096],
    )
    return Problem(device, code, sample)


def read_problems(text_: str, now: datetime) -> list[Problem]:
    """The devices in a problem state of the problems script's JSON (failures only), sorted
    by device id, at most MAX_PROBLEMS."""
    items = _objects(load(text_, "device problems"), "device problems", "Win32_PnPEntity")
    found = [p for item in items if (p := _problem(now, item)) is not None]
    return sorted(found, key=lambda p: (p.device_id, p.code))[:MAX_PROBLEMS]


@register(
    "windows-pnp-problems-json",
    description="Windows devices with a problem code (Win32_PnPEntity as PowerShell JSON)",
    carries_time=False,
    example="Get-CimInstance Win32_PnPEntity -Filter 'ConfigManagerErrorCode<>0' | "
    "Select-Object Name,DeviceID,PNPClass,ClassGuid,ConfigManagerErrorCode,Service | "
    "ConvertTo-Json",
)
def parse_windows_pnp_problems(text_: str, ctx: ParseContext) -> list[SampleBase]:
    return [problem.sample for problem in read_problems(text_, ctx.now)]


def _driver(item: Mapping[str, Any]) -> str | None:
    service = text(item.get("Service"))
    if service is not None:
        return service
    inf = text(item.get("InfName"))
    return None if inf is None or _OEM_INF.match(inf) else inf


def signed_drivers(text_: str) -> list[InventoryPeripheral]:
    """The attached user-facing peripherals of the peripherals script's JSON, distinct and
    sorted, at most MAX_PERIPHERALS."""
    found: dict[str, InventoryPeripheral] = {}
    for item in _objects(load(text_, "peripherals"), "peripherals", "Win32_PnPSignedDriver"):
        device = text(item.get("DeviceID"), 4096) or ""
        klass = (text(item.get("DeviceClass")) or "").lower()
        if klass not in USER_CLASSES or bus_of(device) not in EXTERNAL_BUSES:
            continue
        if flag(item.get("Present")) is False or device.upper().startswith("USB\\ROOT_HUB"):
            continue
        vendor, product = vendor_product(device)
        peripheral = InventoryPeripheral(
            device_class=device_class(klass, text(item.get("ClassGuid")), device),
            name=text(item.get("DeviceName")),
            vendor_id=vendor,
            product_id=product,
            driver=_driver(item),
            driver_version=text(item.get("DriverVersion")),
        )
        found.setdefault(peripheral.model_dump_json(), peripheral)
    return [found[key] for key in sorted(found)][:MAX_PERIPHERALS]
