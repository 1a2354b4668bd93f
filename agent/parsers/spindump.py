"""macOS hang reports (spindump's ``.hang``/``.spin`` text) -> one AppHangSample each.

Why: when an app stops answering events long enough for the spinning cursor, spindump samples
it and writes a report to ``/Library/Logs/DiagnosticReports`` (spindump(8): "used by various
system components to create reports when an unresponsive application is force quit"). It is
the only record of the hang that names the app, its version and how long it did not respond.

``macos-hang``: the report is plain text, a header about the hung process followed by a
stackshot of every process. A real macOS 12.7.6 ``.hang`` (shortened)::

    Date/Time:        2025-12-17 19:00:41.615 -0500
    End time:         2025-12-17 19:00:48.846 -0500
    OS Version:       macOS 12.7.6 (Build 21H1320)
    Report Version:   35.1
    Incident Identifier: A98C24B4-1E32-4D66-B89B-69F59C6F98D7

    Command:          RedLemon
    Path:             /Users/USER/Desktop/*/RedLemon.app/Contents/MacOS/RedLemon
    Identifier:       com.redlemon.app
    Version:          1.0.14 (14)
    PID:              27952

    Event:            hang
    Duration:         7.23s
    Duration Sampled: 4.90s (process was unresponsive for 2 seconds before sampling)
    Steps:            49 (100ms sampling interval)
    ...
    Process:          RedLemon [27952]
    Path:             /Users/USER/Desktop/*/RedLemon.app/Contents/MacOS/RedLemon
    Note:             Unresponsive for 2 seconds before sampling

Read: ``app_name`` from ``Command:`` (the process name, the key crash reports use too),
``pid`` from ``PID:``, ``app_path`` from ``Path:``, ``app_version`` the short version before
" (" as in :func:`.ips.parse_crash` (``1.0.14 (14)`` -> ``1.0.14``; ``??? (???)`` -> None),
``hang_duration_s`` from ``Duration: 7.23s`` (the whole hang; "Duration Sampled" is only the
sampled part and is not used), ``ts`` from ``Date/Time:`` (a time without offset is read in
``ctx.local_tz``), ``report_id`` from ``Incident Identifier:``. Where the header has no
``Command:`` (seen in public reports of newer releases, whose process blocks read
``Process: stable (Warp) [53958] [unique pid 3039444]``), the hung process is the block with a
``Note: Unresponsive ...`` line, or the only block. Names are kept whole: process names can
contain parentheses ("Google Chrome Helper (Renderer)").

Also accepted: the same text behind a one-line JSON header (spindump's resource reports are
stored as ``.ips`` that way: ``{"bug_type":"202",...}`` then ``Command:``/``Event: cpu
usage``); the header's ``timestamp``/``incident_id``/``app_name`` fill gaps. A report whose
``Event:`` is not a hang (``cpu usage``, ``disk writes``, ``wakeups``) gives ``[]``. The values
accepted as a hang are ``hang`` (verified) and ``spin`` (not seen in a public sample: older
``.spin`` reports may carry no ``Event:`` line at all, and are then read like a hang).
Text without any spindump line (``Event:``, ``Duration:``, ``Steps:``, ``Num samples:``,
``Data Source:``), a crash report (``Exception Type:``) or an ``.ips`` with a JSON body raises
ParseError.
"""

from __future__ import annotations

import json
import re
from typing import Any

from dexpulse.schema.events import AppHangSample

from . import ParseContext, ParseError, register
from .ips import _pid, _text, _time, _version

HANG_EVENTS = frozenset({"hang", "spin"})
_FIELD = re.compile(r"^(?P<key>[A-Za-z][A-Za-z /]*?):[ \t]*(?P<value>.*?)\s*$")
_PROCESS = re.compile(r"^(?P<name>.*?)\s*\[(?P<pid>\d+)\](?:\s*\[unique pid \d+\])?\s*$")
_SECONDS = re.compile(r"^(?P<s>\d+(?:\.\d+)?)\s*s\b")
_PREAMBLE_END = ("Process:", "Heaviest stack", "Powerstats for:", "-----", "Binary Images")
_SPINDUMP_KEYS = ("Event", "Steps", "Duration", "Duration Sampled", "Num samples", "Data Source")
_CRASH_LINE = re.compile(r"^(?:Exception Type|Crashed Thread|Triggered by Thread):", re.M)


def _fields(lines: list[str]) -> dict[str, str]:
    """``Key: value`` lines, first occurrence of each key."""
    fields: dict[str, str] = {}
    for line in lines:
        if m := _FIELD.match(line):
            fields.setdefault(m["key"].strip(), m["value"])
    return fields


def _split(body: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header lines before the first process block, and each block's header fields."""
    lines = body.split("\n")
    end = next((i for i, line in enumerate(lines) if line.startswith(_PREAMBLE_END)), len(lines))
    blocks: list[dict[str, str]] = []
    i = end
    while i < len(lines):
        if not lines[i].startswith("Process:"):
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].strip() and not lines[j].startswith(" "):
            j += 1
        blocks.append(_fields(lines[i:j]))
        i = j
    return lines[:end], blocks


def _json_header(text: str) -> tuple[dict[str, Any], str]:
    """The optional one-line JSON header and the text after it."""
    first, _, rest = text.partition("\n")
    if not first.lstrip().startswith("{"):
        return {}, text
    try:
        header = json.loads(first)
    except (ValueError, RecursionError):
        return {}, text
    if not isinstance(header, dict):
        return {}, text
    if rest.lstrip().startswith("{"):
        raise ParseError(
            "this .ips has a JSON body (a crash, stackshot or watchdog report), not spindump "
            "text: use format macos-ips for crashes"
        )
    return header, rest


def _seconds(value: str | None) -> float | None:
    m = _SECONDS.match(value.strip()) if value else None
    return float(m["s"]) if m else None


def _target(fields: dict[str, str], blocks: list[dict[str, str]]) -> dict[str, str] | None:
    """The hung process's fields: the header's ``Command:``, else the unresponsive block."""
    if fields.get("Command"):
        pid = fields.get("PID")
        twin = next((b for b in blocks if _block_pid(b) == pid), {}) if pid else {}
        return {**twin, **{k: v for k, v in fields.items() if v}}
    unresponsive = [b for b in blocks if "unresponsive" in b.get("Note", "").lower()]
    chosen = unresponsive or (blocks if len(blocks) == 1 else [])
    if not chosen:
        return None
    block = dict(chosen[0])
    m = _PROCESS.match(block.get("Process", ""))
    block["Command"] = m["name"] if m else block.get("Process", "")
    block["PID"] = m["pid"] if m else ""
    for key in ("Date/Time", "Duration", "Incident Identifier", "Event"):
        if fields.get(key):
            block[key] = fields[key]
    return block


def _block_pid(block: dict[str, str]) -> str | None:
    m = _PROCESS.match(block.get("Process", ""))
    return m["pid"] if m else None


@register(
    "macos-hang",
    description="macOS hang report (spindump .hang/.spin text, also behind an .ips JSON "
    "header line): one app_hang",
    carries_time=True,
    example="cat /Library/Logs/DiagnosticReports/<App>_<YYYY-MM-DD-HHMMSS>_<host>.hang",
)
def parse_spindump_hang(text: str, ctx: ParseContext) -> list[AppHangSample]:
    text = text.lstrip("\ufeff").replace("\r\n", "\n").lstrip("\n")
    header, body = _json_header(text)
    preamble, blocks = _split(body)
    fields = _fields(preamble)
    if not fields.get("Date/Time") and not fields.get("Command") and not blocks:
        raise ParseError(
            "no 'Date/Time:', 'Command:' or 'Process:' lines: is this a spindump hang report "
            "(.hang/.spin) from /Library/Logs/DiagnosticReports?"
        )
    if _CRASH_LINE.search(body):
        raise ParseError("this is a crash report, not a hang report: use format macos-crash")
    if not any(key in f for f in (fields, *blocks) for key in _SPINDUMP_KEYS):
        raise ParseError(
            "no spindump lines ('Event:', 'Duration:', 'Steps:', 'Num samples:'): not a hang report"
        )
    event = fields.get("Event", "").strip().lower()
    if event and event not in HANG_EVENTS:
        return []  # a cpu usage / disk writes / wakeups report: not a hang
    target = _target(fields, blocks)
    name = _text(target.get("Command")) if target else None
    name = name or _text(header.get("app_name")) or _text(header.get("name"))
    if target is None or name is None:
        raise ParseError(
            "the report names no hung process (no 'Command:' line and no process noted "
            "'Unresponsive')"
        )
    ts = _time(target.get("Date/Time"), ctx) or _time(header.get("timestamp"), ctx)
    return [
        AppHangSample(
            ts=ts or ctx.now,
            app_name=name,
            app_version=_version(target.get("Version")) or _text(header.get("app_version")),
            app_path=_text(target.get("Path")),
            pid=_pid(target.get("PID")) if target.get("PID") else None,
            hang_duration_s=_seconds(target.get("Duration")),
            report_id=_text(target.get("Incident Identifier")) or _text(header.get("incident_id")),
        )
    ]
