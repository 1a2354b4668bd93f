"""macOS unified log ndjson (``log show --style ndjson``) -> PeripheralFailureSample.

Entries are written here in the ndjson shape of public captures (keys, kernel
``processImagePath`` "/kernel", timestamps with ``+HHMM``), with message texts taken from
public kernel and bluetoothd logs (ports, ids and statuses changed).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from dexpulse.agent.parsers import FORMATS, ParseContext, ParseError, load_all
from dexpulse.agent.parsers.unified_log import parse_unified_log_ndjson, timestamp

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
CTX = ParseContext(now=NOW)
BANNER = 'Filtering the log data using "process == \\"kernel\\""'
TRAILER = '{"count":3,"finished":1}'


def entry(
    message: str,
    process: str = "/kernel",
    ts: str = "2026-11-27 09:58:21.480463+0100",
    **extra: Any,
) -> str:
    fields: dict[str, object] = {
        "timezoneName": "", "messageType": "Default", "eventType": "logEvent", "source": None,
        "subsystem": "", "category": "", "threadID": 4939, "processImagePath": process,
        "senderImagePath": "/System/Library/Extensions/IOUSBHostFamily.kext/Contents/MacOS/"
        "IOUSBHostFamily", "timestamp": ts, "machTimestamp": 432123150336,
        "eventMessage": message, "processID": 0, "traceID": 103147935109124,
    }  # fmt: skip
    fields.update(extra)
    return json.dumps(fields)


ENUMERATION = (
    "AppleUSB20XHCIPort@01400000: AppleUSBHostPort::disconnect: persistent enumeration failures"
)
CREATE = "usb-drd1-port-hs@01100000: AppleUSBHostPort::createDevice: failed to create device"
ENCRYPT = "Failed to encrypt connection  STATUS 634. (status=65535)"


def test_registered_and_carries_time() -> None:
    load_all()
    assert FORMATS["macos-unified-log"].parse is parse_unified_log_ndjson
    assert FORMATS["macos-unified-log"].carries_time is True


def test_usb_enumeration_failure() -> None:
    text = "\n".join([BANNER, entry(ENUMERATION), TRAILER])
    (sample,) = parse_unified_log_ndjson(text, CTX)
    assert sample.device_class == "usb"
    assert sample.error == "enumeration_failed"
    assert sample.device_id == "AppleUSB20XHCIPort@01400000"
    assert sample.ts == datetime(2026, 11, 27, 8, 58, 21, 480463, tzinfo=UTC)
    assert sample.message == f"kernel: {ENUMERATION}"
    assert (sample.vendor_id, sample.product_id) == (None, None)


@pytest.mark.parametrize(
    ("message", "error", "port", "ids"),
    [
        (CREATE, "create_device_failed", "usb-drd1-port-hs@01100000", (None, None)),
        (
            "usb-drd0-port-ss@00200000: AppleUSBHostPort::enumerateDeviceComplete_block_invoke: "
            "enumeration failed 0x0781/55ab/0100 ( Stick / 1)",
            "enumeration_failed",
            "usb-drd0-port-ss@00200000",
            ("0781", "55ab"),
        ),
        (
            "IOUSBHostHIDDevice: VendorID: 0x413d ProductID: 0x2204 not responding",
            "not_responding",
            None,
            ("413d", "2204"),
        ),
        (
            "AppleUSBHostPort::setAddress: failed to set device address",
            "set_address_failed",
            None,
            (None, None),
        ),
    ],
)
def test_usb_failures(
    message: str, error: str, port: str | None, ids: tuple[str | None, str | None]
) -> None:
    (sample,) = parse_unified_log_ndjson(entry(message), CTX)
    assert (sample.error, sample.device_id, (sample.vendor_id, sample.product_id)) == (
        error, port, ids,
    )  # fmt: skip


def test_bluetooth_encryption_failures_with_addresses_masked() -> None:
    lines = [
        entry(ENCRYPT, "/usr/sbin/bluetoothd", subsystem="com.apple.bluetooth"),
        entry(
            "Encryption failed due to  STATUS 634, aborting connection notifications, "
            "address Public 0C:1A:2B:3C:4D:5E",
            "/usr/sbin/bluetoothd",
        ),
    ]
    first, second = parse_unified_log_ndjson("\n".join(lines), CTX)
    assert (first.device_class, first.error) == ("bluetooth", "encryption_failed status 634")
    assert second.message is not None and "0C:1A" not in second.message
    assert "<address>" in second.message


def test_entries_that_are_not_failures_are_skipped() -> None:
    lines = [
        entry(
            "usb-drd0-port-ss@00200000: AppleUSBHostPort::enumerateDeviceComplete_block_invoke:"
            " enumerated 0x0781/55ab/0100 ( Stick / 1) at 5 Gbps"
        ),
        entry("nfs server fs1:/home: not responding"),  # kernel, but not USB
        entry(ENUMERATION, "/usr/libexec/usbd"),  # not the kernel
        entry(
            "LE Link disconnected for handle 0x762d33c1c0 address Public 0C:[redacted] with "
            "reason 762 encryptionPending 1",
            "/usr/sbin/bluetoothd",
        ),
        entry(ENCRYPT, "/usr/libexec/otherd"),
        '{"eventType":"activityCreateEvent"}',
        "{not json",
        TRAILER,
    ]
    assert parse_unified_log_ndjson("\n".join(lines), CTX) == []


def test_bad_or_missing_timestamp_is_now() -> None:
    (sample,) = parse_unified_log_ndjson(entry(ENUMERATION, ts="yesterday"), CTX)
    assert sample.ts == NOW
    bare = json.dumps({"processImagePath": "/kernel", "eventMessage": ENUMERATION})
    assert parse_unified_log_ndjson(bare, CTX)[0].ts == NOW


def test_timestamps() -> None:
    assert timestamp("2024-11-04 10:32:15.123456+0100") == datetime(
        2024, 11, 4, 9, 32, 15, 123456, tzinfo=UTC
    )
    assert timestamp("2026-10-05 12:49:50.069609+0530") == datetime(
        2026, 10, 5, 7, 19, 50, 69609, tzinfo=UTC
    )
    assert timestamp("1999-12-31 23:59:59-0800") == datetime(2000, 1, 1, 7, 59, 59, tzinfo=UTC)
    assert timestamp("2026-13-05 12:00:00.0+0000") is None
    assert timestamp("2026-07-12 18:51:45+08") is None
    assert timestamp(1234) is None


def test_a_long_message_is_bounded() -> None:
    (sample,) = parse_unified_log_ndjson(entry(ENUMERATION + " x" * 5000), CTX)
    assert sample.message is not None and len(sample.message) == 4096


def test_an_empty_result_is_not_an_error() -> None:
    assert parse_unified_log_ndjson(BANNER + "\n" + '{"count":0,"finished":1}\n', CTX) == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Startup finished in 7.797s (firmware) + 1.172s (loader) = 9s\n",
        "2026-11-27 09:58:21.480463+0100 0x1f Default 0x0 0 kernel: persistent enumeration\n",
        bytes(range(256)).decode("latin-1"),
    ],
)
def test_not_ndjson_is_a_one_line_parse_error(text: str) -> None:
    with pytest.raises(ParseError, match="no JSON log entries") as caught:
        parse_unified_log_ndjson(text, CTX)
    assert "\n" not in str(caught.value)
