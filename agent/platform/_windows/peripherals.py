"""Windows peripheral failures: devices that failed to start (Kernel-PnP 411) and devices that
are in a problem state now (Win32_PnPEntity problem codes).

* Log source ``pnp``: ``wevtutil qe Microsoft-Windows-Kernel-PnP/Configuration`` for
  EventID 411 since the sampler's mark (see :mod:`.eventlog`), each event mapped by
  :func:`dexpulse.agent.parsers.wevt.event_samples` to a PeripheralFailureSample: the device
  instance id, ``problem code N`` (CM_PROB_*) and the NTSTATUS, the driver service, vendor and
  product ids, the device class. 410 ("device started") is not a failure and is not read.
  Kernel-PnP writes 410/411 to its ``Configuration`` channel (not the System log, which has
  no such events); the channel is enabled by default and readable by users. Not readable:
  NoData.
* State source ``pnp_problems`` (in ``FILE_SOURCES``, whose contract ``read(host, cursor,
  now) -> (samples, cursor)`` fits a state as well as a file: the cursor is opaque to the
  sampler): :func:`pnp_problems` asks ``Win32_PnPEntity -Filter 'ConfigManagerErrorCode<>0'``
  (no administrator needed) which devices have a problem code now. This catches what 411
  does not: a driver that stopped its device after it started (43 FAILED_POST_START), a
  device without a driver (28 FAILED_INSTALL), a driver Windows blocked (48).

The state source reports a device when it *enters* a problem state: the cursor keeps the
``(device id, code)`` pairs seen at the last look, and only pairs not in it are reported.
A device that recovers leaves the set, so failing again is reported again; a device whose
code changes is reported with the new code. The first look (no cursor: first run, or a
damaged state) only records what is already broken, as the log sources start at "now
minus one interval": deploying the agent must not look like a fleet-wide outage. Codes that
are not failures are skipped by the parser (22 disabled by a person, 45 not plugged in, 46
shutting down, 47 ejected by the user). A failing start is often seen by both sources (a 411
and then problem code 10): the same ``error`` and ``device_id`` let the collector match them.

CPU: the peripheral sampler runs every 60 s, and a PowerShell start with a CIM query costs
~0.3-1 s of CPU [unverified on our fleet], i.e. 0.5-1.7 % of a core if run every time, over
the agent's whole budget (0.5 % of one core averaged over an hour). So the source looks at
most every :data:`CHECK_EVERY` (10 minutes: 6 starts an hour, ~0.05-0.17 %), the time of
the last look kept in the cursor; a look that fails (PowerShell unavailable, an answer that
is not JSON) is logged and also waits its 10 minutes, keeping the last known set, so a
broken PowerShell is not restarted every minute. A problem that comes and goes within 10
minutes is seen only through 411.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from dexpulse.schema.events import PeripheralFailureSample

from ...parsers import ParseError
from ...parsers.windows_pnp import MAX_PROBLEMS, read_problems
from ..host import Host, NoData
from ..logbatch import EPOCH, Batch
from .eventlog import event_batch
from .powershell import run_text, script_argv

log = logging.getLogger(__name__)

PNP_LOG = "Microsoft-Windows-Kernel-PnP/Configuration"
PNP_EVENTS = (411,)
PNP_PROBLEMS = script_argv(
    "$out = @(Get-CimInstance -ClassName Win32_PnPEntity "
    "-Filter 'ConfigManagerErrorCode<>0 AND ConfigManagerErrorCode<>22 AND "
    "ConfigManagerErrorCode<>45' "
    "| Select-Object Name,DeviceID,PNPClass,ClassGuid,ConfigManagerErrorCode,Service,"
    "Manufacturer)",
)
"""The exact argv of the problem-state look (22 and 45 are also left out in WQL: fewer bytes)."""
CHECK_EVERY = timedelta(minutes=10)
CLOCK_SLACK = timedelta(minutes=1)


def pnp_failures(host: Host, since: datetime, now: datetime) -> Batch:
    """Kernel-PnP 411 events since ``since`` as PeripheralFailureSamples."""
    return event_batch(host, "pnp", PNP_LOG, PNP_EVENTS, PeripheralFailureSample, since, now)


def _known(cursor: dict[str, Any] | None) -> set[tuple[str, int]] | None:
    """The pairs of the last look; None when there was none (or the cursor is damaged)."""
    raw = cursor.get("problems") if cursor is not None else None
    if not isinstance(raw, list):
        return None
    pairs = set()
    for item in raw:
        if not (isinstance(item, list) and len(item) == 2):
            return None
        device, code = item
        if not isinstance(device, str) or isinstance(code, bool) or not isinstance(code, int):
            return None
        pairs.add((device, code))
    return pairs


def _checked(cursor: dict[str, Any] | None) -> datetime | None:
    value = cursor.get("checked") if cursor is not None else None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1e11:
        return EPOCH + timedelta(seconds=value)
    return None


def _cursor(now: datetime, pairs: set[tuple[str, int]] | None) -> dict[str, Any]:
    kept = sorted(pairs or ())[: 2 * MAX_PROBLEMS]
    return {
        "checked": (now - EPOCH).total_seconds(),
        "problems": [[device, code] for device, code in kept] if pairs is not None else None,
    }


def pnp_problems(
    host: Host, cursor: dict[str, Any] | None, now: datetime
) -> tuple[list[PeripheralFailureSample], dict[str, Any]]:
    """Devices that entered a problem state since the last look, and the new cursor
    ``{"checked": epoch seconds, "problems": [[device id, code], ...]}``."""
    known, checked = _known(cursor), _checked(cursor)
    if checked is not None and now - CHECK_EVERY < checked <= now + CLOCK_SLACK:
        return [], dict(cursor or {})
    try:
        problems = read_problems(run_text(host, PNP_PROBLEMS, "device problems"), now)
    except NoData as why:
        log.debug("device problems not read: %s", why)
        return [], _cursor(now, known)
    except ParseError as exc:
        log.warning("device problems not read: %s", exc)
        return [], _cursor(now, known)
    current = {(p.device_id, p.code) for p in problems}
    if known is None:  # the first look: what is broken already is not news
        return [], _cursor(now, current)
    fresh = [p.sample for p in problems if (p.device_id, p.code) not in known]
    return fresh, _cursor(now, current)


LOG_SOURCES: dict[str, Callable[[Host, datetime, datetime], Batch]] = {"pnp": pnp_failures}
FILE_SOURCES: dict[
    str,
    Callable[
        [Host, dict[str, Any] | None, datetime],
        tuple[list[PeripheralFailureSample], dict[str, Any]],
    ],
] = {"pnp_problems": pnp_problems}
