"""Windows event log XML (``wevtutil qe ... /f:xml``) -> crash, hang, device, Wi-Fi, boot samples.

Why: on Windows the event log is the one place that records app crashes (Application Error
1000), hangs (Application Hang 1002, WER 1001), devices that failed to start (Kernel-PnP 411),
Wi-Fi connects/drops (WLAN-AutoConfig 8001/8003) and boot times (Diagnostics-Performance 100).
Its XML ``EventData`` names do not change with the display language, unlike the rendered
message. Real sample (``wevtutil qe Application /q:"*[System[EventID=1000]]" /f:xml /c:1``)::

    <Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">
      <System>
        <Provider Name="Application Error" Guid="{a0e9b465-b939-57d7-b27d-95d8e925ff57}" />
        <EventID>1000</EventID>
        <TimeCreated SystemTime="2025-03-26T23:00:53.1703727Z" />
      </System>
      <EventData>
        <Data Name="AppName">AIMTService.exe</Data>
        <Data Name="ProcessId">0x1628</Data> ...

wevtutil prints events back to back with no root element; Event Viewer's "Save as XML" wraps
them in ``<Events>``; both, with or without the namespace, are read. A DOCTYPE is refused (no
entity expansion). An event that is not well-formed is skipped if others are readable.

Older builds (and WER 1001 / Application Hang 1002 still) write *unnamed* positional ``<Data>``;
these are named by the documented order (``_POSITIONAL``). ``ts`` is ``System/TimeCreated/
@SystemTime`` (UTC; ``ctx.now`` only if an event has none).

Mapping (other events are skipped):

* Application Error 1000 -> AppCrashSample; ``pid`` from the hex ProcessId, ``exception_code``
  as ``0x`` + lower-case hex, ``report_id`` = IntegratorReportId (WER's Report Id).
* Application Hang 1002 -> AppHangSample (ProcessId is hex even without ``0x``). Its
  TerminationTime is not a documented duration, so ``hang_duration_s`` stays None.
* Windows Error Reporting 1001 -> AppHangSample only for EventName AppHangB1/AppHangXProcB1
  (P1 app, P2 version, ReportId). Decision: WER files this report for the same hang that 1002
  logs, with the same Report Id, so within one text a 1001 hang whose report_id a 1002 also
  has is dropped (1002 has pid and path); across texts ``report_id`` lets the collector
  dedupe. Crash buckets (APPCRASH, BEX...) are skipped: 1000 already reports those crashes.
* Kernel-PnP 411 ("had a problem starting") -> PeripheralFailureSample: ``device_id`` =
  DeviceInstanceId, ``error`` = ``problem code N`` (CM_PROB_*, decimal) plus the NTSTATUS if
  non-zero, ``driver`` = the service (else the INF), ids from ``VID_``/``VEN_``/``PID_``/
  ``DEV_``, ``device_class`` from ClassGuid or bus. 410 (started) is not a failure.
* WLAN-AutoConfig 8001 connected, 8003 disconnected, 8002/11002/11006/12013 (connect,
  association, security, 802.1X failures) -> WifiEventSample ``auth_failed`` (the schema's only
  failure kind). ``interface`` is the adapter description (the event has no interface name).
* Diagnostics-Performance 100 -> BootSample: BootTime -> ``boot_duration_s``, OSLoaderDuration
  -> ``loader_s``, UserProfileProcessing + ExplorerInit + PostBoot -> ``logon_duration_s`` (a
  proxy); ``ts`` = BootStartTime when given. Windows gives no firmware/kernel split to map.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from dexpulse.schema import SampleBase
from dexpulse.schema.events import (
    AppCrashSample,
    AppHangSample,
    PeripheralFailureSample,
    WifiEventSample,
)
from dexpulse.schema.samples import BootSample

from . import ParseContext, ParseError, register
from .wifi_common import clean_text, normalize_mac

_WLAN_HEAD = ("InterfaceGuid", "InterfaceDescription", "ConnectionMode", "ProfileName", "SSID")
_POSITIONAL: dict[tuple[str, int], tuple[str, ...]] = {
    ("application error", 1000): (
        "AppName", "AppVersion", "AppTimeStamp", "ModuleName", "ModuleVersion",
        "ModuleTimeStamp", "ExceptionCode", "FaultingOffset", "ProcessId",
        "ProcessCreationTime", "AppPath", "ModulePath", "IntegratorReportId",
        "PackageFullName", "PackageRelativeAppId",
    ),
    ("application hang", 1002): (
        "AppName", "AppVersion", "ProcessId", "StartTime", "TerminationTime", "AppPath",
        "ReportId", "PackageFullName", "PackageRelativeAppId", "HangType",
    ),
    ("windows error reporting", 1001): (
        "Bucket", "BucketType", "EventName", "Response", "CabId",
        *(f"P{i}" for i in range(1, 11)),
        "AttachedFiles", "StorePath", "AnalysisSymbol", "Rechecking", "ReportId",
        "ReportStatus", "HashedBucket",
    ),
    ("microsoft-windows-wlan-autoconfig", 8001): (
        *_WLAN_HEAD, "BSSType", "BSSID", "PHYType", "AuthenticationAlgorithm",
        "CipherAlgorithm", "OnexEnabled",
    ),
    ("microsoft-windows-wlan-autoconfig", 8002): (*_WLAN_HEAD, "BSSType", "FailureReason"),
    ("microsoft-windows-wlan-autoconfig", 8003): (*_WLAN_HEAD, "BSSType", "Reason"),
}  # fmt: skip
_WLAN_FAILURES = {8002, 11002, 11006, 12013}
_HANG_BUCKETS = {"apphangb1", "apphangxprocb1"}
CLASS_GUIDS = {
    "36fc9e60-c465-11cf-8056-444553540000": "usb",
    "e0cbf06c-cd8b-4647-bb8a-263b43f0f974": "bluetooth",
    "4d36e968-e325-11ce-bfc1-08002be10318": "display",
    "4d36e96e-e325-11ce-bfc1-08002be10318": "display",
    "4d36e96c-e325-11ce-bfc1-08002be10318": "audio",
    "c166523c-fe0c-4a94-a586-f1a80cfbbf3e": "audio",
    "ca3e7ab9-b4c3-4ae6-8251-579ef933890f": "camera",
    "6bdd1fc6-810f-11d0-bec7-08002be2092f": "camera",
    "4d36e979-e325-11ce-bfc1-08002be10318": "printer",
    "745a17a0-74d3-11d0-b6fe-00a0c90f57da": "hid",
    "4d36e96b-e325-11ce-bfc1-08002be10318": "keyboard",
    "4d36e96f-e325-11ce-bfc1-08002be10318": "mouse",
    "4d36e972-e325-11ce-bfc1-08002be10318": "network",
}
BUSES = {"usb": "usb", "usbstor": "usb", "bthenum": "bluetooth", "bthle": "bluetooth",
          "bthledevice": "bluetooth", "hid": "hid", "display": "display", "hdaudio": "audio",
          "pci": "pci"}  # fmt: skip
VENDOR = re.compile(r"(?:VID|VEN)_([0-9A-F]{4})(?![0-9A-F])|VID&[0-9A-F]{4}([0-9A-F]{4})", re.I)
PRODUCT = re.compile(r"(?:PID|DEV)[_&]([0-9A-F]{4})(?![0-9A-F])", re.I)
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_EVENT_START = re.compile(r"<Event[\s>/]")
_STRIP = re.compile(r"<\?xml[^>]*\?>|</?Events\s*>", re.I)


@dataclass
class Event:
    """One event, format-neutral: what the text parser also builds from rendered text."""

    provider: str
    event_id: int
    ts: datetime
    data: dict[str, str] = field(default_factory=dict)


@register(
    "windows-event-xml",
    description="Windows event log XML: app crashes/hangs, device failures, Wi-Fi, boot time",
    carries_time=True,
    example='wevtutil qe Application /q:"*[System[(EventID=1000 or EventID=1002)]]" /f:xml',
)
def parse_windows_event_xml(text: str, ctx: ParseContext) -> list[SampleBase]:
    return samples_from_events(read_xml_events(text, ctx))


def read_xml_events(text: str, ctx: ParseContext) -> list[Event]:
    if re.search(r"<!(?:DOCTYPE|ENTITY)", text, re.I):
        raise ParseError("the XML declares a DOCTYPE/ENTITY, which event log XML never does")
    body = _STRIP.sub("", text.replace("\ufeff", ""))
    starts = [m.start() for m in _EVENT_START.finditer(body)]
    if not starts:
        raise ParseError(
            "no <Event> element: is this the output of `wevtutil qe <log> /f:xml` "
            "or an Event Viewer 'Save as XML' file?"
        )
    events: list[Event] = []
    for begin, end in zip(starts, [*starts[1:], len(body)], strict=True):
        chunk = body[begin:end]
        close = chunk.rfind("</Event>")
        try:
            root = ET.fromstring(chunk[: close + 8] if close >= 0 else chunk)
        except ET.ParseError:
            continue
        event = _read_event(root, ctx)
        if event is not None:
            events.append(event)
    if not events:
        raise ParseError("the <Event> XML is not well-formed or has no System/EventID")
    return events


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(parent: ET.Element, name: str) -> ET.Element | None:
    return next((child for child in parent if _local(child.tag) == name), None)


def _read_event(root: ET.Element, ctx: ParseContext) -> Event | None:
    system = _find(root, "System")
    if _local(root.tag) != "Event" or system is None:
        return None
    provider = _find(system, "Provider")
    event_id = _find(system, "EventID")
    created = _find(system, "TimeCreated")
    try:
        number = int((event_id.text or "") if event_id is not None else "")
    except ValueError:
        return None
    name = provider.get("Name", "") if provider is not None else ""
    stamp = parse_system_time(created.get("SystemTime", "") if created is not None else "")
    event = Event(name, number, stamp or ctx.now)
    payload = _find(root, "EventData")
    if payload is not None:
        values = [
            (d.get("Name"), (d.text or "").strip()) for d in payload if _local(d.tag) == "Data"
        ]
        order = _POSITIONAL.get((name.lower(), number), ())
        for index, (key, value) in enumerate(values):
            key = key or (order[index] if index < len(order) else None)
            if key:
                event.data[key] = value
    return event


def parse_system_time(value: str) -> datetime | None:
    """``2019-01-08T14:01:18.909425000Z`` (7 or 9 fraction digits) as an aware UTC datetime."""
    m = _ISO.match(value.strip())
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    micro = int((m[7] or "0")[:6].ljust(6, "0"))
    try:
        stamp = datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
        if m[8] and m[8] != "Z":
            stamp = datetime.fromisoformat(stamp.strftime("%Y-%m-%dT%H:%M:%S.%f") + m[8])
    except ValueError:
        return None
    return stamp.astimezone(UTC)


def samples_from_events(events: Iterable[Event]) -> list[SampleBase]:
    """Samples of all events; a WER 1001 hang whose Report Id a 1002 also has is dropped."""
    pairs = [(event, event_samples(event)) for event in events]
    hang_ids = {
        sample.report_id
        for event, samples in pairs
        if event.event_id == 1002
        for sample in samples
        if isinstance(sample, AppHangSample) and sample.report_id
    }
    kept: list[SampleBase] = []
    for event, samples in pairs:
        if event.event_id == 1001 and any(
            isinstance(s, AppHangSample) and s.report_id in hang_ids for s in samples
        ):
            continue
        kept.extend(samples)
    return kept


def event_samples(event: Event) -> list[SampleBase]:
    key = (event.provider.lower(), event.event_id)
    d = event.data
    if key == ("application error", 1000):
        return _crash(event.ts, d)
    if key == ("application hang", 1002):
        return _hang(event.ts, d["AppName"], d) if d.get("AppName") else []
    if key == ("windows error reporting", 1001):
        if d.get("EventName", "").lower() not in _HANG_BUCKETS or not d.get("P1"):
            return []
        return _hang(event.ts, d["P1"], {"AppVersion": d.get("P2", ""), **_rid(d)})
    if key == ("microsoft-windows-kernel-pnp", 411):
        return _device(event.ts, d)
    if key[0] == "microsoft-windows-wlan-autoconfig":
        return _wifi(event.ts, event.event_id, d)
    if key == ("microsoft-windows-diagnostics-performance", 100):
        return _boot(event.ts, d)
    return []


def _rid(d: Mapping[str, str]) -> dict[str, str]:
    return {"ReportId": d.get("ReportId", "")}


def _text(d: Mapping[str, str], *keys: str, limit: int = 256) -> str | None:
    for key in keys:
        value = clean_text(d.get(key, ""), limit)
        if value is not None:
            return value
    return None


def hex_number(value: str | None, *, bare_hex: bool = True) -> int | None:
    """``0x1628``/``25ac`` (hex) or, with ``bare_hex=False``, ``229378`` (decimal)."""
    raw = (value or "").strip().lower()
    try:
        if raw.startswith("0x"):
            return int(raw[2:], 16)
        return int(raw, 16 if bare_hex else 10) if raw else None
    except ValueError:
        return None


def _pid(d: Mapping[str, str]) -> int | None:
    pid = hex_number(d.get("ProcessId"))
    return pid if pid is not None and 0 <= pid < 2**32 else None


def _crash(ts: datetime, d: Mapping[str, str]) -> list[SampleBase]:
    app = _text(d, "AppName")
    if app is None:
        return []
    code = hex_number(d.get("ExceptionCode"))
    return [
        AppCrashSample(
            ts=ts,
            app_name=app,
            app_version=_text(d, "AppVersion"),
            app_path=_text(d, "AppPath", limit=4096),
            module_name=_text(d, "ModuleName"),
            module_version=_text(d, "ModuleVersion"),
            exception_code=f"0x{code:08x}" if code is not None else _text(d, "ExceptionCode"),
            pid=_pid(d),
            report_id=_text(d, "IntegratorReportId", "ReportId"),
        )
    ]


def _hang(ts: datetime, app: str, d: Mapping[str, str]) -> list[SampleBase]:
    name = clean_text(app)
    if name is None:
        return []
    return [
        AppHangSample(
            ts=ts,
            app_name=name,
            app_version=_text(d, "AppVersion"),
            app_path=_text(d, "AppPath", limit=4096),
            pid=_pid(d),
            report_id=_text(d, "ReportId"),
        )
    ]


def _device(ts: datetime, d: Mapping[str, str]) -> list[SampleBase]:
    device = _text(d, "DeviceInstanceId", limit=4096) or ""
    problem, status = hex_number(d.get("Problem")), hex_number(d.get("Status"))
    error = f"problem code {problem}" if problem is not None else None
    if status:
        error = f"{error or 'problem'}, status 0x{status:08x}"
    vendor, product = VENDOR.search(device), PRODUCT.search(device)
    guid = d.get("ClassGuid", "").strip().strip("{}").lower()
    bus = device.split("\\", 1)[0].lower()
    return [
        PeripheralFailureSample(
            ts=ts,
            device_class=CLASS_GUIDS.get(guid) or BUSES.get(bus),
            device_id=device or None,
            vendor_id=(vendor[1] or vendor[2]).lower() if vendor else None,
            product_id=product[1].lower() if product else None,
            driver=_text(d, "ServiceName", "DriverName"),
            error=error,
            message=_text(d, "Message", limit=4096),
        )
    ]


def _wifi(ts: datetime, event_id: int, d: Mapping[str, str]) -> list[SampleBase]:
    kind: Literal["connected", "disconnected", "auth_failed"]
    if event_id == 8001:
        kind = "connected"
    elif event_id == 8003:
        kind = "disconnected"
    elif event_id in _WLAN_FAILURES:
        kind = "auth_failed"
    else:
        return []
    ssid = clean_text(d.get("SSID", ""), strip=False)
    code = hex_number(d.get("ReasonCode"), bare_hex=False)
    return [
        WifiEventSample(
            ts=ts,
            event=kind,
            interface=_text(d, "InterfaceDescription", "Adapter"),
            ssid=None if ssid is None or ssid.strip() in ("", "<redacted>") else ssid,
            bssid=normalize_mac(d.get("BSSID") or d.get("PeerMac") or ""),
            reason=_text(d, "Reason", "FailureReason", "ReasonText", limit=4096),
            reason_code=code if code is not None and -(2**31) <= code < 2**32 else None,
        )
    ]


def _seconds(d: Mapping[str, str], keys: Sequence[str]) -> float | None:
    values = [hex_number(d.get(key), bare_hex=False) for key in keys]
    known = [v for v in values if v is not None and v >= 0]
    return sum(known) / 1000.0 if known else None


def _boot(ts: datetime, d: Mapping[str, str]) -> list[SampleBase]:
    total = _seconds(d, ("BootTime",))
    if total is None:
        return []
    logon = ("BootUserProfileProcessingTime", "BootExplorerInitTime", "BootPostBootTime")
    return [
        BootSample(
            ts=parse_system_time(d.get("BootStartTime", "")) or ts,
            boot_duration_s=total,
            loader_s=_seconds(d, ("OSLoaderDuration",)),
            logon_duration_s=_seconds(d, logon),
        )
    ]
