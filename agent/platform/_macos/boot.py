"""macOS boot: which boot this is and when it started; its duration is not available.

* ``sysctl -n kern.bootsessionuuid``: a random UUID drawn at every boot (the identity "this
  boot" is remembered by). Where it is missing, the boot time in whole seconds stands in.
* ``sysctl -n kern.boottime``: ``{ sec = 1732694400, usec = 123456 } Wed Nov 27 07:58:12
  2026``, the boot time in seconds since the epoch (the first number is what counts).
* How long the boot took is not given by any cheap tool: it would need the unified log
  (``log show`` around the boot, heavy and unverified). :func:`boot_sample` raises NoData, so
  the boot sampler reports nothing on macOS.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from dexpulse.schema import BootSample

from ..host import Host, NoData

BOOT_SESSION = ("sysctl", "-n", "kern.bootsessionuuid")
BOOT_TIME = ("sysctl", "-n", "kern.boottime")
_SEC = re.compile(r"\bsec\s*=\s*(\d+)")
_UUID = re.compile(r"^[0-9a-fA-F-]{8,64}$")


def boot_time(host: Host) -> datetime | None:
    """When this boot started (``kern.boottime``), UTC; None if it cannot be read."""
    try:
        text = host.command(*BOOT_TIME)
    except NoData:
        return None
    m = _SEC.search(text)
    if m is None:
        return None
    try:
        return datetime.fromtimestamp(int(m[1]), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def boot_id(host: Host) -> str:
    """This boot's session UUID (lower case), else its boot time; NoData if neither."""
    try:
        value = host.command(*BOOT_SESSION).strip().lower()
    except NoData:
        value = ""
    if _UUID.match(value):
        return value
    booted = boot_time(host)
    if booted is None:
        raise NoData("neither kern.bootsessionuuid nor kern.boottime can be read")
    return str(int(booted.timestamp()))


def boot_sample(host: Host, ts: datetime) -> BootSample | None:
    """NoData: macOS gives no boot duration without reading the unified log."""
    del host, ts
    raise NoData("boot duration is not available on macOS without the unified log")
