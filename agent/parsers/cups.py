"""CUPS error_log (or cupsd's journal lines) -> printer PeripheralFailureSample per failure line.

Why: when printing fails the user sees a job stuck "processing"; the scheduler's log says why
(printer unreachable, backend or filter failed). Real sample (``/var/log/cups/error_log``)::

    E [05/Jun/2024:13:50:46 -0400] [Job 1026332] The printer is not responding.
    E [05/Jun/2024:13:53:26 -0400] [Job 1026332] The printer is not responding.

Line format ``<L> [dd/Mon/yyyy:HH:MM:SS +zzzz] message`` (``LogTimeFormat usecs`` adds
``.ffffff``), ``L`` one of X A C E W N I D d (emergency ... debug2). Which lines are failures:

* every E, C, A and X line, except ``[Client N]`` lines (errors answered to one IPP/HTTP request,
  such as a client asking for a queue that does not exist: not a device failure);
* a W line only if it is a known failure message below (``W [...] [Job N] Backend returned
  status 1 (failed)``); N, I, D and d lines never.

Distributions that set ``ErrorLog syslog`` (Fedora) send these messages to the journal
instead, without the level letter: ``Jul 21 09:51:17 host cupsd[11086]: Job stopped due to
filter errors; please consult the error_log file for details.``. Such ``cupsd`` lines (any
journal/syslog stamp of :mod:`.logtime`) count only when they are a known failure message;
a ``cupsd`` journal line that still carries ``E [stamp]`` (cupsd logging to stderr) is read as
an error_log line. Only N/I/D lines, or journalctl's ``-- No entries --``, give ``[]``.

``error`` is a short code for the known messages: printer_not_responding,
printer_not_connected, printer_unreachable, printer_unavailable, printer_not_found,
filter_failed, backend_failed, and "backend status N" (N != 0; the status-0 "successful" line
is not a failure). Other failure lines keep ``error`` None; ``message`` is always the line.
``name`` is the queue when the line names it: ``[Printer name]``, ``printer "name"`` or
``.../printers/name``. The job number stays in ``message`` (no field for it).
"""

from __future__ import annotations

import re
from datetime import datetime

from dexpulse.schema.events import PeripheralFailureSample

from . import ParseContext, ParseError, register
from .logtime import Style, journal_had_no_entries, parse_stamp, parse_syslog_header, stamped_lines

_LEVEL = re.compile(r"^(?P<level>[XACEWNIDd]) (?=\[)")
_FAILURE_LEVELS = set("XACE")
_CLIENT = re.compile(r"^\[Client \d+\]")
_KNOWN: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"printer is not responding", re.I), "printer_not_responding"),
    (re.compile(r"printer (?:is )?not connected", re.I), "printer_not_connected"),
    (re.compile(r"printer is unreachable", re.I), "printer_unreachable"),
    (re.compile(r"printer may not exist or is unavailable", re.I), "printer_unavailable"),
    (re.compile(r"unable to locate printer", re.I), "printer_not_found"),
    (re.compile(r"stopped due to filter errors", re.I), "filter_failed"),
    (re.compile(r"stopped due to backend errors", re.I), "backend_failed"),
)
_BACKEND_STATUS = re.compile(r"\bBackend (?:\S+ )?returned status (?P<n>-?\d+)")
_NAME = (
    re.compile(r"\[Printer (?P<name>[^\]]+)\]"),
    re.compile(r"\b(?:printer|queue|destination) \"(?P<name>[^\"]+)\"", re.I),
    re.compile(r"/printers/(?P<name>[^\s/?\"')]+)"),
)


@register(
    "cups-error-log",
    description="CUPS error_log (or cupsd journal lines): failure lines as printer"
    " peripheral_failure",
    carries_time=True,
    example="cat /var/log/cups/error_log  (or: journalctl -u cups -o short-iso)",
)
def parse_cups(text: str, ctx: ParseContext) -> list[PeripheralFailureSample]:
    samples: list[PeripheralFailureSample] = []
    recognised = False
    for line, stamp in stamped_lines(text, ctx):
        entry = _error_log_entry(line, ctx)
        if entry is None and stamp is not None and not stamp.style.is_dmesg:
            header = parse_syslog_header(stamp.rest)
            if header is not None and header.ident == "cupsd":
                # cupsd's stderr in the journal still has level and stamp; syslog has neither
                entry = _error_log_entry(header.message, ctx) or ("", header.message, stamp.ts)
        if entry is None:
            continue
        recognised = True
        level, message, ts = entry
        code = _error_code(message)
        if level in _FAILURE_LEVELS:
            if _CLIENT.match(message):
                continue
        elif level not in ("W", "") or code is None:  # W and journal: known failures only
            continue
        samples.append(
            PeripheralFailureSample(
                ts=ts or ctx.now,
                device_class="printer",
                name=_printer_name(message),
                error=code,
                message=line[:4096],
            )
        )
    if not recognised and not journal_had_no_entries(text):
        raise ParseError(
            "no CUPS log lines found: expected /var/log/cups/error_log lines like"
            " 'E [05/Jun/2024:13:50:46 -0400] [Job 12] ...' or journal lines from cupsd"
        )
    return samples


def _error_log_entry(text: str, ctx: ParseContext) -> tuple[str, str, datetime | None] | None:
    """``(level, message, time)`` of an error_log line ``E [stamp] message``; else None."""
    match = _LEVEL.match(text)
    if match is None:
        return None
    stamp = parse_stamp(text[match.end() :], ctx)
    if stamp is None or stamp.style is not Style.CUPS:
        return None
    return match["level"], stamp.rest, stamp.ts


def _error_code(message: str) -> str | None:
    """Short code of a known failure message; None for other messages."""
    status = _BACKEND_STATUS.search(message)
    if status is not None:
        return None if status["n"] == "0" else f"backend status {status['n']}"
    for pattern, code in _KNOWN:
        if pattern.search(message):
            return code
    return None


def _printer_name(message: str) -> str | None:
    for pattern in _NAME:
        match = pattern.search(message)
        if match is not None:
            return match["name"].strip()[:256] or None
    return None
