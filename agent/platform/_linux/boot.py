"""Linux boot: which boot this is, when it started, and how long it took (systemd-analyze).

* ``/proc/sys/kernel/random/boot_id``: a random UUID the kernel draws at every boot, readable
  by anyone: the identity "this boot" is remembered by.
* ``/proc/stat`` line ``btime 1732694400``: when the machine booted, in seconds since the epoch
  (the kernel's boot clock, so it survives suspend; an NTP step after boot can move it by the
  step, which is why the boot id, not the time, decides "already reported").
* ``systemd-analyze time`` (no root): the phases of the last boot, read by
  :func:`dexpulse.agent.parsers.systemd_analyze.parse_systemd_analyze_time`. While boot jobs
  still run it exits 1 and says on stderr "Bootup is not yet finished ... Please try again
  later.": that is "not yet" (None), not a failure. Not installed, or no systemd as PID 1
  ("System has not been booted with systemd as init system"): NoData.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dexpulse.schema import BootSample

from ...parsers import ParseContext, ParseError
from ...parsers.systemd_analyze import parse_systemd_analyze_time
from ..host import Host, NoData

BOOT_ID = "/proc/sys/kernel/random/boot_id"
PROC_STAT = "/proc/stat"
SYSTEMD_ANALYZE = ("systemd-analyze", "time")


def boot_id(host: Host) -> str:
    """This boot's random id (lower-case UUID); NoData if the kernel does not offer one."""
    value = host.read(BOOT_ID).strip().lower()
    if not value:
        raise NoData(f"{BOOT_ID} is empty")
    return value[:64]


def boot_time(host: Host) -> datetime | None:
    """When this boot started (``btime`` of /proc/stat), UTC; None if it cannot be read."""
    try:
        text = host.read(PROC_STAT)
    except NoData:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "btime":
            try:
                return datetime.fromtimestamp(int(value.strip()), UTC)
            except (ValueError, OverflowError, OSError):
                return None
    return None


def boot_sample(host: Host, ts: datetime) -> BootSample | None:
    """The last boot's phases stamped ``ts``; None while the boot is not finished yet.

    NoData when systemd-analyze is missing or cannot answer (no systemd, no bus). A zero exit
    with text the parser does not know raises ParseError: the format changed, a real failure.
    """
    result = host.run(SYSTEMD_ANALYZE, host.timeout_s)
    ctx = ParseContext(now=ts)
    if result.returncode != 0:
        # "Bootup is not yet finished" is an error exit; the parser knows that sentence.
        try:
            samples = parse_systemd_analyze_time(result.stderr + "\n" + result.stdout, ctx)
        except ParseError:
            reason = (result.stderr.strip() or result.stdout.strip())[:200]
            raise NoData(f"systemd-analyze exited {result.returncode}: {reason}") from None
    else:
        samples = parse_systemd_analyze_time(result.stdout, ctx)
    return samples[0] if samples else None
