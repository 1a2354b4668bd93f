"""bluetoothd (BlueZ) log lines -> bluetooth PeripheralFailureSample per failed connection.

Why: a headset that will not connect, or drops its audio profile, is a common complaint;
bluetoothd logs the refusal with the device address. Real sample (``/var/log/syslog``, rsyslog
RFC 3339 stamps)::

    2025-04-17T18:27:35.194301+02:00 klapp bluetoothd[731]: src/profile.c:ext_connect()
      Hands-Free Voice gateway failed connect to 4C:87:5D:CA:3F:18: Connection refused (111)
    2025-04-17T18:27:35.328443+02:00 klapp bluetoothd[731]:
      profiles/audio/avdtp.c:avdtp_connect_cb() connect to 4C:87:5D:CA:3F:18: Connection
      refused (111)

(one line each, wrapped here).

Accepted: ``journalctl -u bluetooth`` (short styles), syslog files and ``grep bluetoothd``
excerpts; only lines from ``bluetoothd[pid]:`` are read, others (blueman, pulseaudio) skipped.
A line whose stamp is not understood (no stamp, a localized month) gets ``ctx.now``. The
``src/file.c:function()`` prefix of newer BlueZ (and ``../bluez-5.54/`` build paths) is ignored.

Failures (one sample per line, ``device_id`` = the address in lower case when the line has one,
``error`` = the errno text such as "Connection refused (111)", ``message`` = the line):

* ``<profile> failed connect to <addr>: <error>`` (also "failed to connect to")
* ``connect to <addr>: <error>`` (avdtp and other L2CAP/RFCOMM connects; Host is down (112)
  when the device is off or out of range counts too: the user asked for, or expects, it)
* ``<profile> profile connect failed for <addr>: <error>``
* ``Unable to get connect data for <profile>: <error>`` and old ``connect error: <error>``
  (no address)
* ``Device <addr> disconnected, reason N`` (only with ``bluetoothd -d``) where N is a mgmt
  reason that is not a normal end: 0 unspecified (an unexpected HCI error), 1 connection
  timeout (link loss), 4 authentication failure; ``error`` = "disconnected: timeout" etc.
  Reasons 2 (terminated by this host: the user disconnected), 3 (terminated by the remote:
  headset switched off or user action) and 5 (suspend) are normal and give nothing.

A text with bluetoothd lines but none of these, or journalctl's ``-- No entries --``, returns
``[]``; a text with no bluetoothd line at all is refused.
"""

from __future__ import annotations

import re

from dexpulse.schema.events import PeripheralFailureSample

from . import ParseContext, ParseError, register
from .logtime import journal_had_no_entries, parse_syslog_header, stamped_lines

_IDENT = re.compile(r"(?:^|\s)bluetoothd(?:\[\d+\])?: ?")
_SOURCE = re.compile(r"^[\w./+-]*\.c:\w+\(\)\s*")
_ADDR = r"(?P<addr>(?:[0-9A-Fa-f]{2}[:_]){5}[0-9A-Fa-f]{2})"
_FAILURES = (
    re.compile(rf"\bfailed (?:to )?connect to {_ADDR}: (?P<err>.+)$"),
    re.compile(rf"\bprofile connect failed for {_ADDR}: (?P<err>.+)$"),
    re.compile(rf"\bconnect to {_ADDR}: (?P<err>.+)$"),
    re.compile(r"\bUnable to get connect data for [^:]+: (?P<err>.+)$"),
    re.compile(r"^connect error: (?P<err>.+)$"),
)
_DISCONNECT = re.compile(rf"\bDevice {_ADDR} disconnected, reason (?P<reason>\d+)")
_FAILED_REASONS = {0: "unspecified", 1: "timeout", 4: "authentication failure"}
_ERRNO_TAIL = re.compile(r"([^:]+\(\d+\))\s*$")


@register(
    "bluez-journal",
    description="bluetoothd journal/syslog lines: failed connections and abnormal"
    " disconnects as bluetooth peripheral_failure",
    carries_time=True,
    example="journalctl -u bluetooth -o short-iso --since=<ts>",
)
def parse_bluez(text: str, ctx: ParseContext) -> list[PeripheralFailureSample]:
    samples: list[PeripheralFailureSample] = []
    seen_bluetoothd = False
    for line, stamp in stamped_lines(text, ctx):
        header = parse_syslog_header(stamp.rest) if stamp is not None else None
        if header is not None:
            if header.ident != "bluetoothd":
                continue
            message = header.message
        else:  # no stamp, or one not understood: find the program name in the line
            ident = _IDENT.search(line)
            if ident is None:
                continue
            message = line[ident.end() :]
        seen_bluetoothd = True
        message = _SOURCE.sub("", message.strip(), count=1)
        found = _failure(message)
        if found is None:
            continue
        address, error = found
        samples.append(
            PeripheralFailureSample(
                ts=stamp.ts if stamp is not None and stamp.ts is not None else ctx.now,
                device_class="bluetooth",
                device_id=address,
                error=error[:256] if error else None,
                message=line[:4096],
            )
        )
    if not seen_bluetoothd and not journal_had_no_entries(text):
        raise ParseError(
            "no bluetoothd lines found: expected `journalctl -u bluetooth` or syslog lines"
            " like '... host bluetoothd[731]: ...'"
        )
    return samples


def _failure(message: str) -> tuple[str | None, str | None] | None:
    """``(address, error)`` when the message reports a failure; None otherwise."""
    match = _DISCONNECT.search(message)
    if match is not None:
        reason = int(match["reason"])
        if reason not in _FAILED_REASONS:
            return None
        return _address(match["addr"]), f"disconnected: {_FAILED_REASONS[reason]}"
    for pattern in _FAILURES:
        match = pattern.search(message)
        if match is not None:
            address = _address(match["addr"]) if "addr" in match.groupdict() else None
            return address, _short_error(match["err"])
    return None


def _address(text: str) -> str:
    return text.replace("_", ":").lower()


def _short_error(text: str) -> str:
    """The errno part, e.g. ``getpeername: Transport ... (107)`` -> ``Transport ... (107)``."""
    match = _ERRNO_TAIL.search(text)
    return (match[1] if match else text).strip()
