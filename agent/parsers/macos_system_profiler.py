"""``system_profiler`` USB and Bluetooth reports (``-json``) -> InventoryPeripheral lists.

Why: the inventory tells the collector who is exposed to a device model or firmware; on a Mac
``system_profiler`` is the unprivileged way to list what is plugged in and what is connected.
These parsers return inventory entries, not samples, so they are not ``agent parse`` formats.

USB, ``system_profiler SPUSBDataType -json`` (macOS 10.15 to 15): buses at the top, devices
nested under ``_items`` (behind hubs, to any depth). Real output (macOS 12-14, shortened)::

    {"SPUSBDataType" : [ {"_name" : "USB31Bus", "host_controller" : "AppleUSBXHCITR",
      "_items" : [ {"_name" : "USB3.1 Hub", "vendor_id" : "0x2109  (VIA Labs, Inc.)",
                    "product_id" : "0x0817", "_items" : [
          {"_name" : "Magic Keyboard", "manufacturer" : "Apple Inc.", "bcd_device" : "4.20",
           "product_id" : "0x029c", "serial_num" : "...", "vendor_id" : "apple_vendor_id"},
          {"_name" : "USB Audio", "manufacturer" : "LG Electronics Inc.",
           "product_id" : "0x9a40", "vendor_id" : "0x043e  (LG Electronics USA Inc.)"} ]} ]} ]}

``apple_vendor_id`` stands for Apple's USB vendor id, 05ac. macOS 26 dropped this data type
(it reports nothing) for ``SPUSBHostDataType``, same tree with other keys: ``_name``,
``USBDeviceKeyVendorID`` ("0x1a86"), ``USBDeviceKeyProductID`` ("0x7523"),
``USBDeviceKeyVendorName``, ``USBDeviceKeySerialNumber``, ``USBKeyLocationID``. Both key sets
are read, in either data type. No public ``-json`` capture of macOS 15 shows renamed keys:
public tools use ``SPUSBDataType`` through 15.x and ``SPUSBHostDataType`` from 26.

Bluetooth, ``system_profiler SPBluetoothDataType -json``: one entry per controller; since
macOS 12.3 connected devices are ``device_connected``, a list of one-key objects::

    {"SPBluetoothDataType" : [ {"controller_properties" : {...},
      "device_connected" : [ {"MX Master 3" : {"device_address" : "...",
          "device_vendorID" : "0x046D", "device_productID" : "0xB023",
          "device_minorType" : "Mouse", "device_firmwareVersion" : "1.2"}} ],
      "device_not_connected" : [ ... ] } ]}

Before 12.3 the devices were one ``devices_list`` (same one-key objects) each with its own
``device_connected`` ("Yes"/"attrib_Yes"); a ``device_title`` list, named in our notes for
older releases, was not found in public samples and is read like ``device_connected``.
Paired devices that are not connected are not listed. ``device_vendorID`` may be a Bluetooth
SIG company id (Apple's 0x004C) rather than a USB vendor id.

Each device gives ``device_class`` "usb"/"bluetooth", a name, and vendor/product ids as four
lower-case hex digits. USB names follow the Linux backend (manufacturer + product unless the
product already names the maker). macOS names no driver: ``driver`` is None; for Bluetooth
``driver_version`` carries the device's *firmware* version (``device_firmwareVersion``), the
version a regression would follow; for USB it is None (``bcd_device`` is a release number,
not reliably a firmware version). Serial numbers and device addresses are never read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from dexpulse.schema import InventoryPeripheral

from . import ParseError

APPLE_USB_VENDOR = "05ac"
USB_TYPES = ("SPUSBDataType", "SPUSBHostDataType")
_HEX_ID = re.compile(r"^\s*(?:0x)?(?P<hex>[0-9a-fA-F]{1,4})\b")
_MAX_DEPTH = 32
_YES = {"yes", "attrib_yes", "true", "1"}


def _load(text: str, key: str | tuple[str, ...]) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"system_profiler: not JSON ({exc})") from None
    keys = (key,) if isinstance(key, str) else key
    if not isinstance(data, dict) or not any(isinstance(data.get(k), list) for k in keys):
        raise ParseError(
            f"no {' or '.join(repr(k) for k in keys)} list in system_profiler's output"
        )
    return data


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.replace("\x00", "").strip()
    return text[:256] or None


def hex_id(value: object) -> str | None:
    """``"0x046d  (Logitech Inc.)"``, ``"0xC52B"``, ``"0x4c"`` -> ``"046d"``, ``"c52b"``,
    ``"004c"``; ``apple_vendor_id`` -> ``"05ac"``; anything else None."""
    if not isinstance(value, str):
        return None
    if value.strip() == "apple_vendor_id":
        return APPLE_USB_VENDOR
    m = _HEX_ID.match(value)
    if m is None or not value.strip().lower().startswith("0x"):
        return None
    return m["hex"].lower().rjust(4, "0")


def _usb_name(manufacturer: str | None, product: str | None) -> str | None:
    if manufacturer and product and manufacturer.lower() not in product.lower():
        return f"{manufacturer} {product}"[:256]
    return product or manufacturer


def _nodes(items: object, depth: int = 0) -> Iterator[dict[str, Any]]:
    if not isinstance(items, list) or depth > _MAX_DEPTH:
        return
    for item in items:
        if isinstance(item, dict):
            yield item
            yield from _nodes(item.get("_items"), depth + 1)


def parse_system_profiler_usb(text: str) -> list[InventoryPeripheral]:
    """The USB devices (hubs included, buses not) of ``SPUSBDataType`` or
    ``SPUSBHostDataType`` JSON; ParseError when the text is neither."""
    data = _load(text, USB_TYPES)
    out: list[InventoryPeripheral] = []
    for key in USB_TYPES:
        for node in _nodes(data.get(key)):
            vendor = hex_id(node.get("vendor_id", node.get("USBDeviceKeyVendorID")))
            product = hex_id(node.get("product_id", node.get("USBDeviceKeyProductID")))
            if vendor is None and product is None:
                continue  # a bus (host controller), not a device
            maker = _text(node.get("manufacturer", node.get("USBDeviceKeyVendorName")))
            out.append(
                InventoryPeripheral(
                    device_class="usb",
                    name=_usb_name(maker, _text(node.get("_name"))),
                    vendor_id=vendor,
                    product_id=product,
                )
            )
    return out


def _connected(controller: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for key in ("device_connected", "device_title"):
        for entry in controller.get(key) or []:
            if isinstance(entry, dict):
                yield from ((n, p) for n, p in entry.items() if isinstance(p, dict))
    for entry in controller.get("devices_list") or []:  # before macOS 12.3
        if isinstance(entry, dict):
            for name, props in entry.items():
                flag = props.get("device_connected") if isinstance(props, dict) else None
                if isinstance(flag, str) and flag.strip().lower() in _YES:
                    yield name, props


def parse_system_profiler_bluetooth(text: str) -> list[InventoryPeripheral]:
    """The connected devices of ``SPBluetoothDataType`` JSON; ParseError if it is not that."""
    data = _load(text, "SPBluetoothDataType")
    out: list[InventoryPeripheral] = []
    for controller in data["SPBluetoothDataType"]:
        if not isinstance(controller, dict):
            continue
        for name, props in _connected(controller):
            out.append(
                InventoryPeripheral(
                    device_class="bluetooth",
                    name=_text(name),
                    vendor_id=hex_id(props.get("device_vendorID")),
                    product_id=hex_id(props.get("device_productID")),
                    driver_version=_text(props.get("device_firmwareVersion")),
                )
            )
    return out
