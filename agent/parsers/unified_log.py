"""macOS unified log entries (``log show --style ndjson``) -> PeripheralFailureSample.

Why: macOS writes no USB or Bluetooth failure anywhere but the unified log: the kernel's USB
host stack says when a device will not enumerate, bluetoothd when a connection fails.

``macos-unified-log``: one JSON object per line, after a banner line ("Filtering the log data
using ...") and before a ``{"count":N,"finished":1}`` trailer, both skipped. A real kernel
entry (macOS 14, shortened)::

    {"timezoneName":"","messageType":"Default","eventType":"logEvent","subsystem":"",
     "category":"","processImagePath":"\\/kernel","processID":0,
     "senderImagePath":"\\/System\\/Library\\/Extensions\\/HFS.kext\\/Contents\\/MacOS\\/HFS",
     "timestamp":"2025-07-27 15:31:22.695081-0400","eventMessage":"hfs: mounted ..."}

Failures recognised (message texts are not a stable API: a release may reword them):

* USB, from the kernel (``processImagePath`` ``/kernel``), messages that name USB, e.g.
  ``AppleUSB20XHCIPort@01400000: AppleUSBHostPort::disconnect: persistent enumeration
  failures`` -> ``error`` ``enumeration_failed`` (verified in a public kernel log; also
  "enumeration failed", "failed to enumerate", "not able to enumerate");
  ``AppleUSBHostPort::createDevice: failed to create device`` -> ``create_device_failed``
  (verified, macOS 11.3+); ``failed to set device address`` -> ``set_address_failed`` (seen
  only in a public test double); ``not responding`` -> ``not_responding`` (wording assumed).
  ``device_id`` is the port the message starts with (``AppleUSB20XHCIPort@01400000``,
  ``usb-drd0-port-ss@00200000``: IORegistry name @ location id); vendor and product ids when
  the message carries ``0x0781/55ab/...`` (as ``enumerated 0x0781/55ab/0100 (...)`` does) or
  ``VendorID: 0x413d ProductID: 0x2204``.
* Bluetooth, from bluetoothd (subsystem ``com.apple.bluetooth``): ``Failed to encrypt
  connection  STATUS 634.`` and ``Encryption failed due to  STATUS 634, ...`` (verified,
  categories Stack.SMP / Stack.LE) -> ``encryption_failed`` with the status
  (``encryption_failed status 634``). ``LE Link disconnected for handle ... with reason N`` is
  *not* a failure here: which reasons are abnormal is not documented, and a headset switched
  off would be reported as a fault. Classic (BR/EDR) connection failures: no verified text.

``ts`` is the entry's ``timestamp`` (``2024-11-04 10:32:15.123456+0100``), else ``ctx.now``;
``message`` is ``<process>: <eventMessage>`` with Bluetooth/MAC addresses masked (macOS itself
often prints them ``<private>`` or ``[redacted]``). Text with no JSON log entry at all raises
ParseError; entries that are not failures are skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from dexpulse.schema.events import PeripheralFailureSample

from . import ParseContext, ParseError, register

_TIMESTAMP = re.compile(
    r"^(?P<date>\d{4}-\d\d-\d\d) (?P<time>\d\d:\d\d:\d\d)(?:\.(?P<frac>\d{1,9}))?"
    r"(?P<sign>[+-])(?P<hh>\d\d):?(?P<mm>\d\d)$"
)
_USB_FAILURES = (
    (re.compile(r"enumeration fail|failed to enumerate|not able to enumerate", re.I),
     "enumeration_failed"),
    (re.compile(r"failed to create device", re.I), "create_device_failed"),
    (re.compile(r"failed to set device address", re.I), "set_address_failed"),
    (re.compile(r"not responding", re.I), "not_responding"),
)  # fmt: skip
_BT_ENCRYPTION = re.compile(r"Failed to encrypt connection|Encryption failed", re.I)
_STATUS = re.compile(r"\bSTATUS\s+(\d+)", re.I)
_PORT = re.compile(r"^(?P<port>[\w.\- ]{1,80}@[0-9a-fA-F]{1,16}):\s")
_IDS = re.compile(r"\b0x(?P<vendor>[0-9a-fA-F]{4})/(?P<product>[0-9a-fA-F]{4})\b")
_HID_IDS = re.compile(
    r"VendorID:\s*0x(?P<vendor>[0-9a-fA-F]{1,4})\s+ProductID:\s*0x(?P<product>[0-9a-fA-F]{1,4})"
)
_MAC = re.compile(r"\b[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}\b")


def timestamp(value: object) -> datetime | None:
    """``2024-11-04 10:32:15.123456+0100`` -> UTC; None if it is not that."""
    m = _TIMESTAMP.match(value.strip()) if isinstance(value, str) else None
    if m is None:
        return None
    try:
        offset = timedelta(hours=int(m["hh"]), minutes=int(m["mm"]))
        zone = timezone(-offset if m["sign"] == "-" else offset)
        frac = int((m["frac"] or "0")[:6].ljust(6, "0"))
        local = datetime.fromisoformat(f"{m['date']}T{m['time']}").replace(
            microsecond=frac, tzinfo=zone
        )
        return local.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def log_entries(text: str) -> Iterator[dict[str, Any]]:
    """The JSON log events of ndjson text (banner, trailer and other lines skipped)."""
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(entry, dict) and isinstance(entry.get("eventMessage"), str):
            yield entry


def _process(entry: dict[str, Any]) -> str:
    path = entry.get("processImagePath")
    return path.rsplit("/", 1)[-1] if isinstance(path, str) else ""


def _hex4(value: str | None) -> str | None:
    return value.lower().rjust(4, "0") if value else None


def _usb_error(message: str) -> str | None:
    if "usb" not in message.lower():
        return None
    return next((code for pattern, code in _USB_FAILURES if pattern.search(message)), None)


def failure(entry: dict[str, Any], ctx: ParseContext) -> PeripheralFailureSample | None:
    """The peripheral failure one log entry reports, or None."""
    message: str = entry["eventMessage"]
    process = _process(entry)
    port = ids = None
    if process == "kernel" and (error := _usb_error(message)):
        device_class = "usb"
        port = _PORT.match(message)
        ids = _IDS.search(message) or _HID_IDS.search(message)
    elif process == "bluetoothd" and _BT_ENCRYPTION.search(message):
        device_class = "bluetooth"
        status = _STATUS.search(message)
        error = "encryption_failed" + (f" status {status[1]}" if status else "")
    else:
        return None
    text = _MAC.sub("<address>", f"{process}: {message.strip()}").replace("\x00", "")
    return PeripheralFailureSample(
        ts=timestamp(entry.get("timestamp")) or ctx.now,
        device_class=device_class,
        device_id=port["port"] if port else None,
        vendor_id=_hex4(ids["vendor"]) if ids else None,
        product_id=_hex4(ids["product"]) if ids else None,
        error=error,
        message=text[:4096],
    )


@register(
    "macos-unified-log",
    description="macOS unified log as ndjson: USB enumeration and Bluetooth encryption "
    "failures, one peripheral_failure each",
    carries_time=True,
    example="log show --style ndjson --last 1h --predicate "
    '\'process == "kernel" OR process == "bluetoothd"\'',
)
def parse_unified_log_ndjson(text: str, ctx: ParseContext) -> list[PeripheralFailureSample]:
    entries = list(log_entries(text))
    if not entries:
        if '"finished"' in text:
            return []  # log show found nothing: only the trailer
        raise ParseError(
            "no JSON log entries: is this the output of `log show --style ndjson` "
            "(or `log stream --style ndjson`)?"
        )
    return [s for entry in entries if (s := failure(entry, ctx)) is not None]
