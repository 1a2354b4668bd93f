"""``systemd-analyze time`` -> one BootSample (how long the last boot took, by phase).

Why: boot time is a classic experience metric and on systemd machines this command, which needs
no root, splits the last boot into firmware, boot loader, kernel, initrd and user space::

    Startup finished in 7.797s (firmware) + 1.172s (loader) + 877ms (kernel) + 861ms (initrd)
    + 5.841s (userspace) = 16.550s
    graphical.target reached after 5.123s in userspace.

(one line up to "= 16.550s"; systemd ``src/analyze/analyze-time-data.c``). Segments are printed
only when known: BIOS machines and most VMs have no firmware/loader figures, containers and
``--user`` print only ``(userspace)`` and no "= total", a soft reboot adds ``(soft reboot)``
(no field: ignored) and no total. Absent segments stay None; nothing is summed by us.

Durations are systemd time spans: space-separated parts with units y, month, w, d, h, min, s,
ms, us (also µs), e.g. "877ms", "1min 2.345s", "1h 2min 3.456s", or "0".

``boot_duration_s`` is the "= total" (firmware start to the end of the boot job queue). The
"<target> reached after X in userspace" line is checked but not stored: the schema has no field
for it. The text has no time: ``ts`` is ``ctx.now``, so parse it once per boot.

"Bootup is not yet finished (...). Please try again later." (systemd-analyze's error while boot
jobs still run) is a well-formed "nothing yet": ``[]``. A journal line ("systemd[1]: Startup
finished in ...") is not this format.
"""

from __future__ import annotations

import re

from dexpulse.schema.samples import BootSample

from . import ParseContext, ParseError, register

_UNIT_S: dict[str, float] = {
    "y": 31_557_600.0,
    "month": 2_629_800.0,
    "w": 604_800.0,
    "d": 86_400.0,
    "h": 3_600.0,
    "min": 60.0,
    "s": 1.0,
    "ms": 0.001,
    "us": 0.000_001,
    "µs": 0.000_001,
    "μs": 0.000_001,
}
"""systemd's format_timespan() units (USEC_PER_YEAR is 365.25 days, a month 1/12 of that)."""

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(month|min|ms|us|µs|μs|y|w|d|h|s)")
_SEGMENT = re.compile(r"^(?P<span>.+?)\s*\((?P<label>[a-z ]+)\)$")
_TARGET = re.compile(r"^\S+ reached after (?P<span>.+?) in userspace\.?$")
_FIELDS = {
    "firmware": "firmware_s",
    "loader": "loader_s",
    "kernel": "kernel_s",
    "initrd": "initrd_s",
    "userspace": "userspace_s",
}
_PREFIX = "Startup finished in "
_NOT_FINISHED = "Bootup is not yet finished"
_HINT = "is this the output of `systemd-analyze time`?"


def parse_timespan(text: str) -> float:
    """systemd time span ("1min 2.345s", "877ms", "0") -> seconds; ParseError if not one."""
    span = text.strip()
    if span == "0":
        return 0.0
    total = 0.0
    position = 0
    for match in _PART.finditer(span):
        if span[position : match.start()].strip():
            break
        total += float(match[1]) * _UNIT_S[match[2]]
        position = match.end()
    else:
        if position and not span[position:].strip():
            return round(total, 9)
    raise ParseError(f"{text.strip()!r} is not a systemd time span (like 1min 2.345s or 877ms)")


def _clean_lines(text: str) -> list[str]:
    lines = [line.strip() for line in text.replace("\r", "").split("\n")]
    lines = [line for line in lines if line]
    if lines and lines[0].startswith(("#", "$")):
        lines = lines[1:]
    return lines


@register(
    "linux-systemd-analyze",
    description="systemd boot time by phase (firmware, loader, kernel, initrd, userspace)",
    carries_time=False,
    example="systemd-analyze time",
)
def parse_systemd_analyze_time(text: str, ctx: ParseContext) -> list[BootSample]:
    lines = _clean_lines(text)
    startup = [line for line in lines if line.startswith(_PREFIX)]
    if not startup:
        if any(line.startswith(_NOT_FINISHED) for line in lines):
            return []  # boot jobs still running: no figures yet
        raise ParseError(f"no 'Startup finished in' line: {_HINT}")
    if len(startup) > 1:
        raise ParseError(f"{len(startup)} 'Startup finished in' lines (a log?): {_HINT}")

    body = startup[0][len(_PREFIX) :].strip().removesuffix(".")
    segments_text, equals, total_text = body.partition("=")
    values: dict[str, float] = {}
    for segment in segments_text.split(" + "):
        match = _SEGMENT.match(segment.strip())
        if match is None:
            raise ParseError(f"segment {segment.strip()!r} is not 'DURATION (phase)': {_HINT}")
        field = _FIELDS.get(match["label"])
        span = parse_timespan(match["span"])
        if field is not None:
            values[field] = span
    if "userspace_s" not in values:
        raise ParseError(f"no '(userspace)' segment in {startup[0]!r}: {_HINT}")
    if equals:
        values["boot_duration_s"] = parse_timespan(total_text)

    for line in lines:
        target = _TARGET.match(line)
        if target is not None:
            parse_timespan(target["span"])  # validated only: no schema field for it

    return [
        BootSample(
            ts=ctx.now,
            boot_duration_s=values.get("boot_duration_s"),
            firmware_s=values.get("firmware_s"),
            loader_s=values.get("loader_s"),
            kernel_s=values.get("kernel_s"),
            initrd_s=values.get("initrd_s"),
            userspace_s=values.get("userspace_s"),
        )
    ]
