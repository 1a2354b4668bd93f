"""macOS peripheral failures: USB and Bluetooth errors from the unified log.

One log source, ``unified_log``::

    log show --style ndjson --start '<since, local time YYYY-MM-DD HH:MM:SS>'
             --predicate '<PREDICATE>'

parsed by :func:`dexpulse.agent.parsers.unified_log.parse_unified_log_ndjson` (which says
which message texts are recognised and which of them were verified in public logs). The
predicate lets through only kernel messages about USB enumeration failures and bluetoothd's
encryption failures, so the output stays small; the parser checks every entry again.

Limits, and why:

* Cost: ``log show`` reads the log store for the whole window, a few hundred ms of CPU per
  call. Run on every peripheral_failure run (60 s by default) that alone would be most of the
  agent's CPU budget, so the log is queried at most every :data:`QUERY_EVERY` (5 min): a run
  sooner than that after the last query returns an empty batch that does not advance the mark
  (horizon None), and the next query covers the whole time since. Failures therefore arrive
  up to five minutes late, and a one-off ``dexpulse agent once`` (whose first run is
  always "too soon") does not query the log at all.
* Window: at most :data:`MAX_WINDOW` (1 h) back from now, well inside the sampler's one-day
  lookback; after a longer stop the older part is not read. ``--start`` is local wall time to
  the second (the ``log`` tool's format), rounded down; in the repeated hour of a DST change
  it may reach an hour further back, which only re-reads entries already remembered.
* Time and size: :data:`LOG_TIMEOUT_S` for the call; only the first :data:`MAX_OUTPUT_CHARS`
  of its output are parsed, and when the output was cut the batch's horizon is the last entry
  parsed, so the rest is read on the next query.
* Message texts are not a stable API: a macOS release may reword them and failures would then
  silently stop matching (the predicate and the parser both need updating).

``log`` missing, failing or timing out: NoData. There are no file sources.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from dexpulse.schema.events import PeripheralFailureSample

from ...parsers import ParseContext
from ...parsers.unified_log import parse_unified_log_ndjson
from ..host import Host, NoData
from ..logbatch import EPOCH, WALL, Batch, Entry, fingerprint, local_zone

QUERY_EVERY = timedelta(minutes=5)
MAX_WINDOW = timedelta(hours=1)
LOG_TIMEOUT_S = 30.0
MAX_OUTPUT_CHARS = 8 * 1024 * 1024

_USB_PHRASES = (
    "enumeration fail", "failed to enumerate", "not able to enumerate", "failed to create device",
    "failed to set device address", "not responding",
)  # fmt: skip
_BT_PHRASES = ("failed to encrypt connection", "encryption failed")


def _any_of(phrases: tuple[str, ...]) -> str:
    return " OR ".join(f'eventMessage CONTAINS[c] "{phrase}"' for phrase in phrases)


PREDICATE = (
    f'(process == "kernel" AND eventMessage CONTAINS[c] "usb" AND ({_any_of(_USB_PHRASES)}))'
    f' OR (process == "bluetoothd" AND ({_any_of(_BT_PHRASES)}))'
)


def start_arg(host: Host, start: datetime) -> str:
    """``start`` as the ``log`` tool's local wall time, rounded down to the second."""
    return start.astimezone(local_zone(host)).strftime("%Y-%m-%d %H:%M:%S")


def log_argv(host: Host, start: datetime) -> tuple[str, ...]:
    """The exact argv run."""
    return (
        "log", "show", "--style", "ndjson", "--start", start_arg(host, start),
        "--predicate", PREDICATE,
    )  # fmt: skip


def _cut(text: str) -> tuple[str, bool]:
    """At most MAX_OUTPUT_CHARS of whole lines, and whether anything was left out."""
    if len(text) <= MAX_OUTPUT_CHARS:
        return text, False
    head = text[:MAX_OUTPUT_CHARS]
    return head[: head.rfind("\n") + 1], True


def unified_log_failures(host: Host, since: datetime, now: datetime) -> Batch:
    """USB and Bluetooth failures logged since ``since`` (see the module notes)."""
    if now - since < QUERY_EVERY:
        return Batch(WALL, [], None, EPOCH)  # not yet: the next query covers this time too
    argv = log_argv(host, max(since, now - MAX_WINDOW))
    try:
        result = host.run(argv, LOG_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise NoData(f"log show did not answer within {LOG_TIMEOUT_S:.0f} s") from None
    if result.returncode != 0:
        raise NoData(f"log exited {result.returncode}: {result.stderr.strip()[:200]}")
    text, cut = _cut(result.stdout)
    samples: list[PeripheralFailureSample] = []
    if text.strip():
        samples = parse_unified_log_ndjson(text, ParseContext(now=now, local_tz=local_zone(host)))
    entries = [
        Entry(
            (s.ts - EPOCH).total_seconds(),
            fingerprint("unified_log", s.ts.isoformat(), s.message),
            s,
        )
        for s in samples
    ]
    horizon = (now - EPOCH).total_seconds()
    if cut:
        horizon = max((e.key for e in entries), default=(since - EPOCH).total_seconds())
    return Batch(WALL, entries, horizon, EPOCH)


LOG_SOURCES: dict[str, Callable[[Host, datetime, datetime], Batch]] = {
    "unified_log": unified_log_failures,
}
FILE_SOURCES: dict[
    str,
    Callable[
        [Host, dict[str, Any] | None, datetime],
        tuple[list[PeripheralFailureSample], dict[str, Any]],
    ],
] = {}
