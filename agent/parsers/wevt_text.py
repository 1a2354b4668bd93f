"""Event Viewer's rendered English text of Windows events -> the samples ``wevt`` maps.

Why: users and support staff paste what Event Viewer shows ("Copy > Copy details as text"),
not XML. The rendered message is localized, so this reads the *English* labels only and is a
fallback for the ``windows-event-xml`` format. Real sample (Kernel-PnP 411)::

    Log Name:      Microsoft-Windows-Kernel-PnP/Configuration
    Source:        Microsoft-Windows-Kernel-PnP
    Date:          13/04/2020 02.46.10
    Event ID:      411
    Description:
    Device PCI\\VEN_1B6F&DEV_7052&SUBSYS_70521849&REV_00\\4&11e7f7e8&0&0048 had a problem starting.
    Driver Name: usbxhci.inf
    Service: USBXHCI
    Problem: 0x15
    Problem Status: 0x0
    Event Xml:
    <Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"> ...

One or several ``Log Name:`` blocks; the header ``Source`` and ``Event ID`` pick the mapping,
the ``Description`` lines are turned into the XML's ``EventData`` names (``Faulting application
name: X, version: V`` -> AppName/AppVersion, ``The program X version V stopped interacting with
Windows`` (1002), ``Device X had a problem starting`` (411), ``Process ID:``, ``Report Id:``,
``SSID:``, ``Reason:`` ...) and handed to :func:`wevt.event_samples`, so both formats agree.

``ts``: the exact UTC ``SystemTime`` of a trailing ``Event Xml:`` section when present; else
``Date``, local wall-clock time in ``ctx.local_tz``, in the user's regional format:
``7/5/2018 10:08:35 AM``, ``13/04/2020 02.46.10``, ``13.04.2020 02:46:10``, ``2020-04-13 ...``.
Day and month are told apart by a part above 12; when both are <= 12, ``/`` with AM/PM is
US month-first and anything else day-first (a guess). A Date that cannot be read (anonymized
``XX.XX.XXXX``) stamps ``ctx.now``. Paths keep whatever backslashes the copy kept.
"""

from __future__ import annotations

import re
from datetime import datetime

from dexpulse.schema import SampleBase

from . import ParseContext, ParseError, register
from .logtime import local_to_utc
from .wevt import Event, parse_system_time, samples_from_events

_BLOCK = re.compile(r"^[ \t]*Log Name:", re.M)
_FIELD = re.compile(r"^[ \t]*([A-Za-z][A-Za-z0-9 .-]*?)[ \t]*:[ \t]*(.*?)[ \t]*$")
_SYSTEM_TIME = re.compile(r"<TimeCreated\s+SystemTime=['\"]([^'\"]+)['\"]")
_DATE = re.compile(
    r"(\d{1,4})([./-])(\d{1,2})[./-](\d{1,4})\.?,?\s+(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?"
    r"\s*([AaPp])?\.?\s?(?:[Mm]\.?)?\s*$"
)
_NAME_VERSION = re.compile(
    r"Faulting (application|module) name:\s*(.*?),\s*version:\s*([^,]*)(?:,.*)?$", re.I
)
_PROGRAM = re.compile(r"The program (.+?) version (\S+) stopped interacting with Windows", re.I)
_DEVICE = re.compile(r"Device (.+?) had a problem starting\.?$", re.I)
_LABELS = {
    "exception code": "ExceptionCode",
    "faulting process id": "ProcessId",
    "faulting application path": "AppPath",
    "faulting module path": "ModulePath",
    "report id": "ReportId",
    "process id": "ProcessId",
    "application path": "AppPath",
    "hang type": "HangType",
    "event name": "EventName",
    "driver name": "DriverName",
    "class guid": "ClassGuid",
    "service": "ServiceName",
    "problem": "Problem",
    "problem status": "Status",
    "network adapter": "InterfaceDescription",
    "ssid": "SSID",
    "network ssid": "SSID",
    "bssid": "BSSID",
    "reason": "Reason",
    "failure reason": "FailureReason",
    **{f"p{i}": f"P{i}" for i in range(1, 11)},
}


@register(
    "windows-event-text",
    description="Event Viewer's rendered English event text: crashes, hangs, device failures",
    carries_time=True,
    example="Event Viewer > event > Copy > Copy details as text",
)
def parse_windows_event_text(text: str, ctx: ParseContext) -> list[SampleBase]:
    body = text.replace("\ufeff", "").replace("\r\n", "\n").replace("\r", "\n")
    starts = [m.start() for m in _BLOCK.finditer(body)]
    if not starts and re.search(r"^[ \t]*Event ID:", body, re.M):
        starts = [0]
    ends = [*starts[1:], len(body)] if starts else []
    events = [
        event
        for begin, end in zip(starts, ends, strict=True)
        if (event := _read_block(body[begin:end], ctx)) is not None
    ]
    if not events:
        raise ParseError(
            "no 'Log Name:' block with a numeric 'Event ID:': is this Event Viewer's "
            "'Copy details as text' of an event (English)?"
        )
    return samples_from_events(events)


def _read_block(block: str, ctx: ParseContext) -> Event | None:
    head, _, rest = block.partition("\nDescription:")
    description, _, xml = rest.partition("\nEvent Xml:")
    header: dict[str, str] = {}
    for line in head.splitlines():
        m = _FIELD.match(line)
        if m:
            header.setdefault(m[1].lower(), m[2])
    try:
        event_id = int(header.get("event id", ""))
    except ValueError:
        return None
    stamp = _SYSTEM_TIME.search(xml)
    ts = (parse_system_time(stamp[1]) if stamp else None) or _local_date(
        header.get("date", ""), ctx
    )
    event = Event(header.get("source", ""), event_id, ts or ctx.now)
    _describe(description, event.data)
    return event


def _describe(description: str, data: dict[str, str]) -> None:
    for raw in description.splitlines():
        line = raw.strip()
        if m := _NAME_VERSION.match(line):
            prefix = "App" if m[1].lower() == "application" else "Module"
            data[f"{prefix}Name"], data[f"{prefix}Version"] = m[2].strip(), m[3].strip()
        elif m := _PROGRAM.match(line):
            data["AppName"], data["AppVersion"] = m[1], m[2]
        elif m := _DEVICE.match(line):
            data["DeviceInstanceId"], data["Message"] = m[1], line
        elif (m := _FIELD.match(line)) and m[1].lower() in _LABELS:
            data.setdefault(_LABELS[m[1].lower()], m[2])


def _local_date(value: str, ctx: ParseContext) -> datetime | None:
    m = _DATE.search(value.strip())
    if m is None:
        return None
    a, sep, b, c = int(m[1]), m[2], int(m[3]), m[4]
    if len(m[1]) == 4:
        year, month, day = a, b, int(c)
    else:
        year = int(c) + (2000 if len(c) <= 2 else 0)
        month_first = b > 12 or (a <= 12 and sep == "/" and m[8] is not None)
        month, day = (a, b) if month_first else (b, a)
    hour = int(m[5])
    if m[8] is not None:
        hour = hour % 12 + (12 if m[8].lower() == "p" else 0)
    try:
        naive = datetime(year, month, day, hour, int(m[6]), int(m[7] or 0))  # noqa: DTZ001
    except ValueError:
        return None
    return local_to_utc(naive, ctx.local_tz)
