"""Windows boot: which boot this is, when it started, and how long it took (event 100).

* **Boot time**: ``Win32_OperatingSystem.LastBootUpTime`` through one PowerShell call
  (:data:`LAST_BOOT`), the kernel's recorded boot time, which does not move while the machine
  runs. Not ``psutil.boot_time()``: psutil 7.2 and older compute ``time.time() - uptime`` on
  Windows, which differs by up to a second between processes (psutil#1007, fixed upstream in
  psutil#2807 after 7.2.2) and drifts with every clock slew over a long uptime, so a boot id
  cut from it would change within one boot and the boot would be reported again. psutil's
  figure is only the fallback of :func:`boot_time` when PowerShell cannot answer
  (:data:`BOOT_CLOCK`, injectable).
* **Boot id**: the boot time in whole seconds since the epoch (Windows has no per-boot UUID
  to read). A clock *step* (not a slew) after boot moves LastBootUpTime with it and gives a
  new id once: the boot is then reported again with the same ``ts`` and figures, a
  recognisable repeat. No boot time: NoData (never the psutil figure, which would flip ids).
* **Fast Startup**: "shut down" with Fast Startup on hibernates the kernel session and
  resumes it at power-on, so LastBootUpTime (and the id) stay those of the last full boot
  and the resume is not a new boot here; only restarts and full shutdowns are.
* **Duration**: Microsoft-Windows-Diagnostics-Performance/Operational event 100
  (BootPerformanceMonitoring), read newest first (:func:`.eventlog.read_newest`) and mapped
  by :func:`dexpulse.agent.parsers.wevt.event_samples` (BootTime, OSLoaderDuration, the
  profile/explorer/post-boot logon proxy; ``ts`` = BootStartTime). The event is written only
  after the post-boot phase has settled, minutes after logon and, on a machine put to sleep
  right after boot, hours later (a real Windows 11 pair: BootStartTime 20:40:16, written the
  next morning at 09:33:20). So the event whose BootStartTime lies within
  :data:`TOLERANCE` of this boot's time is this boot's; none yet means "not finished" (None),
  and the hourly sampler asks again. BootStartTime (from the loader) and LastBootUpTime (the
  kernel's) differ by the loader's time, a BitLocker PIN prompt and any clock step after
  boot; the closest event within the tolerance wins.

Cost: the sampler asks for the boot id every run (hourly), i.e. one PowerShell start an hour
(~0.3-1 s of CPU [unverified], under 0.03 % of a core); a new boot adds one more and a
wevtutil read until its event 100 is found.

The channel is enabled by default. Whether a standard user may read it is not documented
[unverified per the reference]; a LocalSystem service can. Access denied, channel missing or
wevtutil missing: NoData, as for every wevtutil read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psutil

from dexpulse.schema import BootSample

from ...parsers import ParseError
from ...parsers.ps_json import json_date
from ...parsers.wevt import event_samples
from ..host import Host, NoData
from .eventlog import read_newest
from .powershell import run_json, script_argv

log = logging.getLogger(__name__)

LAST_BOOT = script_argv(
    "$os = Get-CimInstance -ClassName Win32_OperatingSystem -Property LastBootUpTime",
    "$out = [ordered]@{LastBootUpTime = $os.LastBootUpTime}",
)
DIAGNOSTICS_LOG = "Microsoft-Windows-Diagnostics-Performance/Operational"
BOOT_EVENTS = (100,)
NEWEST = 5
"""Event 100s read per look: enough to pass over a few quick reboots' events."""
TOLERANCE = timedelta(minutes=5)
BOOT_CLOCK: Callable[[], float] = psutil.boot_time


def _last_boot(host: Host) -> datetime:
    """LastBootUpTime, UTC; NoData if PowerShell cannot say, ParseError if it says nonsense."""
    data = run_json(host, LAST_BOOT, "LastBootUpTime")
    stamp = json_date(data.get("LastBootUpTime")) if isinstance(data, dict) else None
    if stamp is None:
        raise ParseError(f"LastBootUpTime: no date with a time zone in {str(data)[:120]!r}")
    return stamp


def boot_time(host: Host) -> datetime | None:
    """When this boot started, UTC; psutil's figure if WMI cannot answer; None if neither."""
    try:
        return _last_boot(host)
    except (NoData, ParseError) as why:
        log.debug("boot time from WMI unavailable (%s); using psutil", why)
    try:
        return datetime.fromtimestamp(BOOT_CLOCK(), UTC)
    except (OSError, OverflowError, ValueError):
        return None


def boot_id(host: Host) -> str:
    """This boot's id: LastBootUpTime in whole seconds since the epoch; NoData without it."""
    try:
        return str(int(_last_boot(host).timestamp()))
    except ParseError as exc:
        raise NoData(str(exc)) from None


def boot_sample(host: Host, ts: datetime) -> BootSample | None:
    """This boot's event 100 as a BootSample (``ts`` its BootStartTime); None while it is not
    written yet. ``ts`` is this boot's time (:func:`boot_time`)."""
    events = read_newest(host, DIAGNOSTICS_LOG, BOOT_EVENTS, NEWEST, ts)
    candidates = [
        sample
        for event in events
        for sample in event_samples(event)
        if isinstance(sample, BootSample) and abs(sample.ts - ts) <= TOLERANCE
    ]
    return min(candidates, key=lambda s: abs(s.ts - ts), default=None)
