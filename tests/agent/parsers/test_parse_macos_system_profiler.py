"""system_profiler USB (SPUSBDataType, SPUSBHostDataType) and Bluetooth JSON -> inventory.

The JSON below is written here in the shapes public captures and parsers show (macOS 12-14
SPUSBDataType with hubs and ``apple_vendor_id``; macOS 26 SPUSBHostDataType's
``USBDeviceKey*`` keys; SPBluetoothDataType's ``device_connected`` since 12.3 and
``devices_list`` before), with made-up devices, serial numbers and addresses.
"""

from __future__ import annotations

import json

import pytest

from dexpulse.agent.parsers import ParseError
from dexpulse.agent.parsers.macos_system_profiler import (
    hex_id,
    parse_system_profiler_bluetooth,
    parse_system_profiler_usb,
)
from dexpulse.schema import InventoryPeripheral

SERIAL = "F0T2534RK0212HXAT"
ADDRESS = "AA-BB-CC-DD-EE-FF"

USB_LEGACY = {
    "SPUSBDataType": [
        {
            "_name": "USB31Bus",
            "host_controller": "AppleUSBXHCITR",
            "_items": [
                {
                    "_name": "USB3.1 Hub",
                    "vendor_id": "0x2109  (VIA Labs, Inc.)",
                    "product_id": "0x0817",
                    "_items": [
                        {
                            "_name": "Magic Keyboard",
                            "manufacturer": "Apple Inc.",
                            "bcd_device": "4.20",
                            "product_id": "0x029c",
                            "serial_num": SERIAL,
                            "location_id": "0x03120000 / 5",
                            "vendor_id": "apple_vendor_id",
                        },
                        {
                            "_name": "USB Receiver",
                            "manufacturer": "Logitech",
                            "product_id": "0xC52B",
                            "vendor_id": "0x046d  (Logitech Inc.)",
                        },
                    ],
                }
            ],
        },
        {"_name": "USB30Bus", "host_controller": "AppleUSBXHCISPT"},
    ]
}
USB_HOST = {
    "SPUSBHostDataType": [
        {
            "_name": "USB 3.1 Bus",
            "Driver": "AppleT8142USBXHCI",
            "USBKeyLocationID": "0x01000000",
            "_items": [
                {
                    "_name": "USB Serial",
                    "USBDeviceKeyVendorID": "0x1a86",
                    "USBDeviceKeyProductID": "0x7523",
                    "USBDeviceKeyVendorName": "QinHeng Electronics",
                    "USBDeviceKeySerialNumber": SERIAL,
                    "USBKeyLocationID": "0x01100000",
                }
            ],
        }
    ]
}
BLUETOOTH = {
    "SPBluetoothDataType": [
        {
            "controller_properties": {"controller_state": "attrib_on"},
            "device_connected": [
                {
                    "MX Master 3": {
                        "device_address": ADDRESS,
                        "device_vendorID": "0x046D",
                        "device_productID": "0xB023",
                        "device_minorType": "Mouse",
                        "device_firmwareVersion": "1.2.5",
                    }
                },
                {
                    "Desk Headphones": {
                        "device_address": ADDRESS,
                        "device_vendorID": "0x004C",
                        "device_productID": "0x2014",
                        "device_serialNumber": SERIAL,
                    }
                },
            ],
            "device_not_connected": [{"Old Speaker": {"device_address": ADDRESS}}],
        }
    ]
}
BLUETOOTH_BEFORE_12_3 = {
    "SPBluetoothDataType": [
        {
            "devices_list": [
                {"Keyboard K380": {"device_connected": "attrib_Yes", "device_vendorID": "0x46d"}},
                {"Old Speaker": {"device_connected": "attrib_No", "device_address": ADDRESS}},
            ]
        }
    ]
}


def test_usb_legacy_tree() -> None:
    found = parse_system_profiler_usb(json.dumps(USB_LEGACY))
    assert found == [
        InventoryPeripheral(
            device_class="usb", name="USB3.1 Hub", vendor_id="2109", product_id="0817"
        ),
        InventoryPeripheral(
            device_class="usb",
            name="Apple Inc. Magic Keyboard",
            vendor_id="05ac",
            product_id="029c",
        ),
        InventoryPeripheral(
            device_class="usb", name="Logitech USB Receiver", vendor_id="046d", product_id="c52b"
        ),
    ]


def test_usb_host_data_type() -> None:
    (serial,) = parse_system_profiler_usb(json.dumps(USB_HOST))
    assert serial == InventoryPeripheral(
        device_class="usb",
        name="QinHeng Electronics USB Serial",
        vendor_id="1a86",
        product_id="7523",
    )


def test_usb_lists_with_no_device() -> None:
    assert parse_system_profiler_usb('{"SPUSBDataType" : [ ]}') == []
    assert parse_system_profiler_usb('{"SPUSBDataType":[{"_name":"USB31Bus"}]}') == []


def test_bluetooth_connected_devices_only() -> None:
    found = parse_system_profiler_bluetooth(json.dumps(BLUETOOTH))
    assert found == [
        InventoryPeripheral(
            device_class="bluetooth",
            name="MX Master 3",
            vendor_id="046d",
            product_id="b023",
            driver_version="1.2.5",  # the firmware version, documented as such
        ),
        InventoryPeripheral(
            device_class="bluetooth", name="Desk Headphones", vendor_id="004c", product_id="2014"
        ),
    ]


def test_bluetooth_before_12_3() -> None:
    (keyboard,) = parse_system_profiler_bluetooth(json.dumps(BLUETOOTH_BEFORE_12_3))
    assert (keyboard.name, keyboard.vendor_id, keyboard.product_id) == (
        "Keyboard K380",
        "046d",
        None,
    )


def test_serial_numbers_and_addresses_are_never_read() -> None:
    everything = parse_system_profiler_usb(json.dumps(USB_LEGACY))
    everything += parse_system_profiler_usb(json.dumps(USB_HOST))
    everything += parse_system_profiler_bluetooth(json.dumps(BLUETOOTH))
    dumped = json.dumps([item.model_dump() for item in everything])
    assert SERIAL not in dumped and ADDRESS not in dumped and "0x03120000" not in dumped


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0x046d  (Logitech Inc.)", "046d"),
        ("0xC52B", "c52b"),
        ("0x4c", "004c"),
        ("apple_vendor_id", "05ac"),
        ("046d", None),  # no 0x: not system_profiler's spelling
        ("0x12345", None),
        ("", None),
        (76, None),
        (None, None),
    ],
)
def test_hex_id(value: object, expected: str | None) -> None:
    assert hex_id(value) == expected


@pytest.mark.parametrize(
    "text",
    ["", "not json", "[]", '{"SPAirPortDataType": []}', '{"SPUSBDataType": {"_items": []}}'],
)
def test_not_the_format_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_system_profiler_usb(text)
    assert "\n" not in str(caught.value)
    with pytest.raises(ParseError):
        parse_system_profiler_bluetooth(text.replace("SPUSBDataType", "SPBluetoothDataType"))


def test_odd_shapes_are_skipped_not_fatal() -> None:
    odd = {
        "SPBluetoothDataType": [
            "controller",
            {"device_connected": [["x"], {"A": "not a dict"}, {"B": {"device_vendorID": 5}}]},
        ]
    }
    (b,) = parse_system_profiler_bluetooth(json.dumps(odd))
    assert (b.name, b.vendor_id) == ("B", None)
    deep: dict[str, object] = {"_name": "leaf", "vendor_id": "0x0001", "product_id": "0x0002"}
    for _ in range(100):
        deep = {"_name": "hub", "_items": [deep]}
    assert parse_system_profiler_usb(json.dumps({"SPUSBDataType": [deep]})) == []  # too deep
