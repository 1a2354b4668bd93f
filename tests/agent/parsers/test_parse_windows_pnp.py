"""Windows PnP devices as PowerShell JSON: problem codes -> failures, signed drivers ->
peripherals.

Texts in Windows PowerShell 5.1's compressed ConvertTo-Json shape, which escapes ``&`` as
``\\u0026`` and ``'`` as ``\\u0027``; properties as the Win32_PnPEntity and
Win32_PnPSignedDriver classes document them; the device ids follow the documented
enumerator formats (``USB\\VID_xxxx&PID_xxxx\\...``, ``BTHENUM\\{uuid}_VID&...``). Values
are illustrative, not captured.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from dexpulse.agent.parsers import FORMATS, ParseContext, ParseError, load_all
from dexpulse.agent.parsers.wevt import parse_windows_event_xml
from dexpulse.agent.parsers.windows_pnp import (
    CM_PROB,
    parse_windows_pnp_problems,
    read_problems,
    signed_drivers,
)
from dexpulse.schema import InventoryPeripheral
from dexpulse.schema.events import PeripheralFailureSample

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
BT_ID = "USB\\VID_8087&PID_0026\\5&2B6E2D1&0&10"
# 5.1 output: backslashes doubled by JSON, & as \u0026
PROBLEMS_51 = (
    '[{"Name":"Intel(R) Wireless Bluetooth(R)","DeviceID":"USB\\\\VID_8087\\u0026PID_0026\\\\'
    '5\\u00262B6E2D1\\u00260\\u002610","PNPClass":"Bluetooth",'
    '"ClassGuid":"{e0cbf06c-cd8b-4647-bb8a-263b43f0f974}","ConfigManagerErrorCode":10,'
    '"Service":"BTHUSB","Manufacturer":"Intel Corporation"},'
    '{"Name":"USB Video Device","DeviceID":"USB\\\\VID_0BDA\\u0026PID_58FD\\u0026MI_00\\\\'
    '6\\u00261A2B3C4D\\u00260\\u00260000","PNPClass":"Camera",'
    '"ClassGuid":"{ca3e7ab9-b4c3-4ae6-8251-579ef933890f}","ConfigManagerErrorCode":28,'
    '"Service":null,"Manufacturer":null},'
    '{"Name":"Kamera (deaktiviert)","DeviceID":"USB\\\\VID_04F2\\u0026PID_B6DD\\\\1",'
    '"PNPClass":"Camera","ClassGuid":null,"ConfigManagerErrorCode":22,"Service":"usbvideo"}]'
)


def test_format_registered() -> None:
    load_all()
    fmt = FORMATS["windows-pnp-problems-json"]
    assert fmt.parse is parse_windows_pnp_problems and fmt.carries_time is False


def test_problem_codes_become_failures() -> None:
    camera, bluetooth = read_problems(PROBLEMS_51, NOW)  # sorted by device id; 22 skipped
    assert (bluetooth.device_id, bluetooth.code) == (BT_ID, 10)
    sample = bluetooth.sample
    assert isinstance(sample, PeripheralFailureSample) and sample.ts == NOW
    ids = (sample.device_class, sample.vendor_id, sample.product_id)
    assert ids == ("bluetooth", "8087", "0026")
    assert (sample.driver, sample.name, sample.error) == (
        "BTHUSB", "Intel(R) Wireless Bluetooth(R)", "problem code 10",
    )  # fmt: skip
    assert sample.message == (
        "CM_PROB_FAILED_START (problem code 10): Intel(R) Wireless Bluetooth(R)"
    )
    assert camera.code == 28 and camera.sample.device_class == "camera"
    assert camera.sample.driver is None
    assert camera.sample.message is not None and "CM_PROB_FAILED_INSTALL" in camera.sample.message


def test_error_is_spelled_as_kernel_pnp_411() -> None:
    """The same failure from the log and from the state has the same ``error``."""
    event = (
        '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
        '<Provider Name="Microsoft-Windows-Kernel-PnP" /><EventID>411</EventID>'
        '<TimeCreated SystemTime="2026-11-27T08:59:00.000Z" /></System><EventData>'
        f'<Data Name="DeviceInstanceId">{BT_ID.replace("&", "&amp;")}</Data>'
        '<Data Name="ClassGuid">{E0CBF06C-CD8B-4647-BB8A-263B43F0F974}</Data>'
        '<Data Name="ServiceName">BTHUSB</Data><Data Name="Problem">0xa</Data>'
        '<Data Name="Status">0x0</Data></EventData></Event>'
    )
    (logged,) = parse_windows_event_xml(event, ParseContext(now=NOW))
    (state,) = [
        s
        for s in parse_windows_pnp_problems(PROBLEMS_51, ParseContext(now=NOW))
        if isinstance(s, PeripheralFailureSample) and s.device_id == BT_ID
    ]
    assert isinstance(logged, PeripheralFailureSample)
    assert isinstance(state, PeripheralFailureSample)
    assert (logged.error, logged.device_id, logged.driver, logged.device_class) == (
        state.error, state.device_id, state.driver, state.device_class,
    )  # fmt: skip


@pytest.mark.parametrize("code", [22, 45, 46, 47])
def test_states_that_are_not_failures(code: int) -> None:
    text = json.dumps({"Name": "x", "DeviceID": "USB\\VID_1\\2", "ConfigManagerErrorCode": code})
    assert read_problems(text, NOW) == []


def test_single_object_names_unknown_codes_and_junk() -> None:
    one = json.dumps(
        {"Name": None, "DeviceID": "HID\\VID_046D&PID_B023\\1", "PNPClass": "HIDClass",
         "ConfigManagerErrorCode": "CM_PROB_FAILED_POST_START"}
    )  # fmt: skip
    (problem,) = read_problems(one, NOW)
    assert problem.code == 43 and problem.sample.device_class == "hid"
    assert problem.sample.message == (
        "CM_PROB_FAILED_POST_START (problem code 43): HID\\VID_046D&PID_B023\\1"
    )
    odd = json.dumps(
        [
            {"DeviceID": "ROOT\\X\\0000", "ConfigManagerErrorCode": 99},
            {"DeviceID": None, "ConfigManagerErrorCode": 10},
            {"DeviceID": "ROOT\\Y\\0000", "ConfigManagerErrorCode": 0},
            "junk",
        ]
    )
    (unknown,) = read_problems(odd, NOW)
    assert unknown.code == 99 and unknown.sample.error == "problem code 99"
    assert unknown.sample.device_class is None
    assert read_problems("", NOW) == [] and read_problems("[]", NOW) == []
    with pytest.raises(ParseError):
        read_problems('"Access denied"', NOW)
    with pytest.raises(ParseError, match="not JSON"):
        read_problems("Get-CimInstance : Zugriff verweigert", NOW)
    with pytest.raises(ParseError, match="without DeviceID: is this Win32_PnPEntity"):
        read_problems('{"Battery":[],"Static":[]}', NOW)  # another script's answer


def test_cm_prob_names_cover_the_documented_codes() -> None:
    assert CM_PROB[10] == "FAILED_START" and CM_PROB[28] == "FAILED_INSTALL"
    assert CM_PROB[43] == "FAILED_POST_START" and CM_PROB[52] == "UNSIGNED_DRIVER"
    assert sorted(CM_PROB) == list(range(1, 58))


# -- signed drivers -> peripherals -------------------------------------------------------------


def driver(device_id: str, klass: str, name: str, **extra: Any) -> dict[str, Any]:
    row = {"DeviceName": name, "DeviceClass": klass, "DeviceID": device_id, "ClassGuid": None,
           "InfName": "input.inf", "DriverVersion": "10.0.22621.1", "Service": None,
           "Present": True}  # fmt: skip
    row.update(extra)
    return row


DRIVERS = [
    driver("USB\\VID_046D&PID_C52B\\5&1", "USB", "USB Composite Device", Service="usbccgp",
           InfName="usb.inf"),
    driver("HID\\VID_046D&PID_C52B&MI_01&COL01\\7&1", "HIDCLASS", "HID-compliant mouse",
           Service="mouhid"),
    driver("HID\\VID_046D&PID_C52B&MI_01&COL02\\7&2", "HIDCLASS", "HID-compliant mouse",
           Service="mouhid"),  # the same model twice: one entry
    driver("USB\\VID_17EF&PID_A387\\1", "USB", "Lenovo USB-C Dock", InfName="oem42.inf",
           DriverVersion="1.2.3.4"),
    driver("USB\\VID_0BDA&PID_8153\\000001", "Net", "Realtek USB GbE Family Controller",
           Service="rtux64w10", DriverVersion="10.56.119.2022"),
    driver("BTHENUM\\{0000110b-0000-1000-8000-00805f9b34fb}_VID&0001004c_PID&2006\\8&1",
           "MEDIA", "AirPods Pro", Service="BthA2dp"),
    driver("DISPLAY\\DELA0C4\\5&1", "MONITOR", "Dell U2720Q (DisplayPort)", Service="monitor"),
    driver("SWD\\PRINTENUM\\{1F7A}", "PRINTER", "HP LaserJet M404", InfName="prnms003.inf"),
    # left out: internal bus, not a user-facing class, not plugged in, root hub
    driver("PCI\\VEN_8086&DEV_51F0\\3&1", "NET", "Intel(R) Wi-Fi 6E AX211 160MHz"),
    driver("HDAUDIO\\FUNC_01&VEN_10EC&DEV_0257\\4&1", "MEDIA", "Realtek(R) Audio"),
    driver("USB\\VID_0781&PID_5581\\4C53", "DiskDrive", "SanDisk Ultra USB Device"),
    driver("USB\\VID_05AC&PID_12A8\\1", "USB", "Apple Mobile Device USB Composite Device",
           Present=False),
    driver("USB\\ROOT_HUB30\\4&1", "USB", "USB Root Hub (USB 3.0)", Service="USBHUB3"),
]  # fmt: skip


def test_signed_drivers_keep_present_user_facing_devices() -> None:
    found = signed_drivers(json.dumps(DRIVERS))
    assert found == sorted(found, key=lambda p: p.model_dump_json())
    by_name = {p.name: p for p in found}
    assert set(by_name) == {
        "USB Composite Device", "HID-compliant mouse", "Lenovo USB-C Dock",
        "Realtek USB GbE Family Controller", "AirPods Pro", "Dell U2720Q (DisplayPort)",
        "HP LaserJet M404",
    }  # fmt: skip
    assert len(found) == 7
    assert by_name["HID-compliant mouse"] == InventoryPeripheral(
        device_class="hid", name="HID-compliant mouse", vendor_id="046d", product_id="c52b",
        driver="mouhid", driver_version="10.0.22621.1",
    )  # fmt: skip
    dock = by_name["Lenovo USB-C Dock"]
    assert (dock.driver, dock.driver_version) == (None, "1.2.3.4")  # oem42.inf is per machine
    nic = by_name["Realtek USB GbE Family Controller"]
    assert (nic.device_class, nic.vendor_id, nic.product_id) == ("network", "0bda", "8153")
    pods = by_name["AirPods Pro"]
    assert (pods.device_class, pods.vendor_id, pods.product_id) == ("audio", "004c", "2006")
    assert by_name["Dell U2720Q (DisplayPort)"].device_class == "display"
    assert by_name["HP LaserJet M404"].driver == "prnms003.inf"


def test_signed_drivers_single_object_empty_and_bad() -> None:
    (only,) = signed_drivers(json.dumps(DRIVERS[0]))
    assert only.driver == "usbccgp"
    assert signed_drivers("[]") == [] and signed_drivers("") == []
    with pytest.raises(ParseError, match="peripherals"):
        signed_drivers("42")
    with pytest.raises(ParseError, match="Win32_PnPSignedDriver"):
        signed_drivers('[{"Name":"x"}]')
