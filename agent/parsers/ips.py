"""macOS crash reports (``~/Library/Logs/DiagnosticReports/*.ips`` and legacy ``.crash``)
-> one AppCrashSample each.

Why: ReportCrash writes one report per crashing process; it is the only place macOS names the
exception, the signal and the image in which the crashing thread stopped.

* ``macos-ips``: since macOS 12 a report is one JSON *header* line followed by a pretty-printed
  JSON *body*. Real macOS 15.2 sample (shortened)::

      {"app_name":"Transit","timestamp":"2025-02-01 18:46:01.00 -0500","app_version":"5.17.10",
       "bundleID":"com.transitapp.TransitX","bug_type":"309","incident_id":"6D7FEBB5-..."}
      {
        "captureTime" : "2025-02-01 18:45:54.0676 -0500",
        "pid" : 27589,
        "procName" : "Transit",
        "procPath" : "\\/Users\\/USER\\/...\\/Transit.app\\/Transit",
        "exception" : {"codes":"0x0000000000000001, 0x000000011ecc5adc",
                       "type":"EXC_BREAKPOINT","signal":"SIGTRAP"},
        "faultingThread" : 13,
        "threads" : [... {"triggered":true,"frames":[{"imageIndex":4, ...}]} ...],
        "usedImages" : [... {"name":"Transit.debug.dylib", ...} ...],

  ``bug_type`` 309 is a crash. Before macOS 12 an ``.ips`` had the same header line but the
  classic text report as body (``bug_type`` 109); that body is read like ``macos-crash``.
  Other bug types (hangs, spins, Jetsam events, stackshots) are not app crashes and give ``[]``.
* ``macos-crash``: the classic text report (``.crash`` files, Console's "Translated Report")::

      Incident Identifier: 6D7FEBB5-F462-49B5-B498-6D5C30B8212A
      Process:             Transit [27589]
      Path:                /Users/USER/.../Transit.app/Transit
      Version:             5.17.10 (0)
      Date/Time:           2025-02-01 18:45:54.0676 -0500
      Exception Type:  EXC_BREAKPOINT (SIGTRAP)
      Exception Codes: 0x0000000000000001, 0x000000011ecc5adc
      Triggered by Thread:  13        (older reports: "Crashed Thread:  0  Dispatch queue: ...")
      Thread 13 Crashed:
      0   Transit.debug.dylib           	       0x11ecc5adc ...

  A "Full Report" JSON appended after the translation is ignored.

Fields: ``exception_code`` is the Mach exception type, with the kernel code name when the report
gives one (``EXC_BAD_ACCESS (KERN_INVALID_ADDRESS)``); addresses are left out so that one bug
gives one value. ``signal`` from the exception (else the ``SIGNAL`` termination code, numbered
as on Darwin). ``module_name`` is the image of the crashing thread's top frame, ``report_id``
the incident identifier (very old ``.crash`` files have none: None). ``ts`` is the capture time
(``Date/Time``), else the header's ``timestamp``; a time without offset is read in
``ctx.local_tz``. ``.hang``/``.spin`` (spindump) reports are not parsed here.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from dexpulse.schema.events import AppCrashSample

from . import ParseContext, ParseError, register

_CRASH_BUG_TYPES = {"309", "109"}
_DARWIN_SIGNALS = {
    1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
    7: "SIGEMT", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGBUS", 11: "SIGSEGV", 12: "SIGSYS",
    13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
}  # fmt: skip
_TIME = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d\d)-(?P<d>\d\d)[ T](?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)"
    r"(?:\.(?P<frac>\d+))?(?:\s*(?P<tz>[+-]\d{4}))?"
)
_CODE_NAME = re.compile(r"\b((?:KERN|EXC|UNKNOWN)_[A-Z_]+|[A-Z][A-Z_]{3,}(?= at 0x))")
_SIGNAL = re.compile(r"\b(SIG[A-Z]{2,})\b")
_COMMAND = re.compile(r"^\s*[$#]")
_HEADER_FIELD = re.compile(r"^(?P<key>[A-Za-z][A-Za-z /]*?):\s*(?P<value>.*?)\s*$")
_CRASHED = re.compile(r"^Thread \d+ Crashed\b.*$", re.M)
_FRAME = re.compile(r"^\d+\s+(?P<module>.+?)\s+0x[0-9a-fA-F]+\b")
_PROCESS = re.compile(r"^(?P<name>.*?)(?:\s*\[(?P<pid>\d+)\])?$")


def _time(text: object, ctx: ParseContext) -> datetime | None:
    m = _TIME.search(str(text)) if isinstance(text, str) else None
    if m is None:
        return None
    try:
        zone: tzinfo = ctx.local_tz
        if m["tz"] is not None:
            sign = -1 if m["tz"][0] == "-" else 1
            zone = timezone(sign * timedelta(hours=int(m["tz"][1:3]), minutes=int(m["tz"][3:5])))
        frac = int((m["frac"] or "0")[:6].ljust(6, "0"))
        ymd = int(m["y"]), int(m["mo"]), int(m["d"])
        hms = int(m["h"]), int(m["mi"]), int(m["s"])
        return datetime(*ymd, *hms, frac, tzinfo=zone).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _text(value: object) -> str | None:
    if value is None or isinstance(value, (bool, dict, list)):
        return None
    text = str(value).replace("\x00", "").strip()
    return text[:256] if text and text not in ("???", "-") else None


def _exception_code(kind: object, *details: object) -> str | None:
    """``EXC_BAD_ACCESS (KERN_INVALID_ADDRESS)`` from the type and its subtype/codes."""
    base = _text(kind)
    base = base.split()[0] if base else None
    for detail in details:
        m = _CODE_NAME.search(str(detail)) if isinstance(detail, str) else None
        if m and m[1] != base:
            return f"{base} ({m[1]})" if base else m[1]
    return base


def _pid(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        pid = int(str(value))
    except ValueError:
        return None
    return pid if 0 <= pid <= 0xFFFFFFFF else None


def _version(value: object) -> str | None:
    """``5.17.10`` from ``5.17.10 (0)`` (short version, then the bundle build number)."""
    text = _text(value)
    return _text(text.split(" (")[0]) if text else None


# --- JSON .ips ------------------------------------------------------------------------------


def _split_ips(text: str) -> tuple[dict[str, Any], str] | None:
    """The header object and the body text, or None if the text does not start with one."""
    lines = text.lstrip("\ufeff").splitlines()
    while lines and (not lines[0].strip() or _COMMAND.match(lines[0])):
        lines.pop(0)
    if not lines or not lines[0].lstrip().startswith("{"):
        return None
    try:
        header = json.loads(lines[0])
    except (ValueError, RecursionError):
        return None
    return (header, "\n".join(lines[1:])) if isinstance(header, dict) else None


def _crashed_module(body: dict[str, Any]) -> tuple[str | None, str | None]:
    threads = body.get("threads")
    if not isinstance(threads, list):
        return None, None
    thread = next((t for t in threads if isinstance(t, dict) and t.get("triggered")), None)
    index = body.get("faultingThread")
    if thread is None and isinstance(index, int) and 0 <= index < len(threads):
        thread = threads[index]
    frames = thread.get("frames") if isinstance(thread, dict) else None
    images = body.get("usedImages")
    if not frames or not isinstance(frames, list) or not isinstance(images, list):
        return None, None
    image_index = frames[0].get("imageIndex") if isinstance(frames[0], dict) else None
    if not isinstance(image_index, int) or not 0 <= image_index < len(images):
        return None, None
    image = images[image_index]
    if not isinstance(image, dict):
        return None, None
    name = _text(image.get("name")) or _text(str(image.get("path", "")).rsplit("/", 1)[-1])
    return name, _text(image.get("CFBundleShortVersionString"))


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _from_json(header: dict[str, Any], body: dict[str, Any], ctx: ParseContext) -> AppCrashSample:
    exc, term = _dict(body.get("exception")), _dict(body.get("termination"))
    signal = _text(exc.get("signal"))
    if signal is None and term.get("namespace") == "SIGNAL":
        signal = _DARWIN_SIGNALS.get(_pid(term.get("code")) or 0)
    bundle = _dict(body.get("bundleInfo"))
    name = _text(header.get("app_name")) or _text(body.get("procName")) or _text(header.get("name"))
    if name is None:
        raise ParseError("the .ips report names no process (no app_name or procName)")
    module, module_version = _crashed_module(body)
    ts = _time(body.get("captureTime"), ctx) or _time(header.get("timestamp"), ctx) or ctx.now
    return AppCrashSample(
        ts=ts,
        app_name=name,
        app_version=_text(header.get("app_version"))
        or _text(bundle.get("CFBundleShortVersionString")),
        app_path=_text(body.get("procPath")),
        module_name=module,
        module_version=module_version,
        exception_code=_exception_code(exc.get("type"), exc.get("subtype"), exc.get("codes")),
        signal=signal,
        pid=_pid(body.get("pid")),
        report_id=_text(header.get("incident_id")) or _text(body.get("incident")),
    )


@register(
    "macos-ips",
    description="macOS crash report (.ips: JSON header line + JSON body): one app_crash",
    carries_time=True,
    example="cat ~/Library/Logs/DiagnosticReports/<App>-<YYYY-MM-DD-HHMMSS>.ips",
)
def parse_ips(text: str, ctx: ParseContext) -> list[AppCrashSample]:
    split = _split_ips(text)
    if split is None:
        if _CRASHED.search(text) or re.search(r"^Exception Type:", text, re.M):
            raise ParseError("this is a text crash report, not .ips JSON: use format macos-crash")
        raise ParseError(
            "the first line is not a JSON header object: is this a macOS .ips report "
            "from ~/Library/Logs/DiagnosticReports?"
        )
    header, rest = split
    bug_type = str(header.get("bug_type", ""))
    if not rest.strip():
        raise ParseError("the .ips report has a header line but no body (truncated file?)")
    try:
        body = json.loads(rest)
    except (ValueError, RecursionError):
        body = None
    if isinstance(body, dict):
        bug_type = str(body.get("bug_type", bug_type))
        if bug_type not in _CRASH_BUG_TYPES and not (bug_type == "" and "exception" in body):
            return []  # a hang, spin, Jetsam event or stackshot: not an app crash
        return [_from_json(header, body, ctx)]
    if bug_type not in _CRASH_BUG_TYPES:
        if bug_type:
            return []
        raise ParseError("the .ips body is neither JSON nor a crash report")
    sample = _from_text(rest, ctx)  # pre-macOS 12: JSON header + classic text body
    updates = {
        "app_name": _text(header.get("app_name")) or sample.app_name,
        "app_version": _text(header.get("app_version")) or sample.app_version,
        "report_id": _text(header.get("incident_id")) or sample.report_id,
    }
    return [sample.model_copy(update=updates)]


# --- classic text ---------------------------------------------------------------------------


def _from_text(text: str, ctx: ParseContext) -> AppCrashSample:
    text = re.split(r"^-+\r?\nFull Report\r?\n-+\r?$", text, maxsplit=1, flags=re.M)[0]
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith(("Thread ", "Binary Images")):
            break
        if m := _HEADER_FIELD.match(line):
            fields.setdefault(m["key"].strip(), m["value"])
    process = fields.get("Process") or fields.get("Command")
    if process is None or not {"Exception Type", "Crashed Thread", "Triggered by Thread"} & set(
        fields
    ):
        raise ParseError(
            "no 'Process:' and 'Exception Type:' lines: is this a macOS crash report "
            "(.crash, or Console's text rendering of an .ips)?"
        )
    m = _PROCESS.match(process.strip())
    name = _text(m["name"]) if m else None
    if name is None:
        raise ParseError("the crash report's 'Process:' line names no process")
    module = None
    if crashed := _CRASHED.search(text):
        for line in text[crashed.end() :].splitlines()[1:3]:
            if frame := _FRAME.match(line):
                module = _text(frame["module"])
                break
    kind = fields.get("Exception Type", "")
    sig = _SIGNAL.search(kind) or _SIGNAL.search(fields.get("Termination Signal", ""))
    return AppCrashSample(
        ts=_time(fields.get("Date/Time"), ctx) or ctx.now,
        app_name=name,
        app_version=_version(fields.get("Version")),
        app_path=_text(fields.get("Path")),
        module_name=module,
        exception_code=_exception_code(
            kind, fields.get("Exception Subtype"), fields.get("Exception Codes")
        ),
        signal=sig[1] if sig else None,
        pid=_pid(m["pid"]) if m and m["pid"] else None,
        report_id=_text(fields.get("Incident Identifier")),
    )


@register(
    "macos-crash",
    description="macOS text crash report (.crash, or the 'Translated Report' of an .ips): "
    "one app_crash",
    carries_time=True,
    example="cat ~/Library/Logs/DiagnosticReports/<App>_<YYYY-MM-DD-HHMMSS>_<host>.crash",
)
def parse_crash(text: str, ctx: ParseContext) -> list[AppCrashSample]:
    split = _split_ips(text)
    if split is not None and split[1].lstrip().startswith("{"):
        raise ParseError("this is a JSON .ips report, not the text format: use format macos-ips")
    body = split[1] if split is not None else text
    return [_from_text(body.replace("\r\n", "\n"), ctx)]
