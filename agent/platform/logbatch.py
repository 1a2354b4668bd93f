"""What an OS backend's log source hands the samplers: entries on a timeline, with identities.

Shared by every OS package (Linux journal and crash files, Windows event log, macOS
DiagnosticReports): the samplers' memory (:mod:`dexpulse.agent.samplers.logmemory`) keeps a
mark per source on the batch's timeline and the fingerprints of what it already reported.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from dexpulse.schema import SampleBase

from .host import Host

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WALL = "wall"
LOCALTIME = "/etc/localtime"


@dataclass(frozen=True)
class Entry:
    key: float
    """Position on the batch's timeline (seconds since its origin)."""
    fp: str
    """Stable identity of the entry: the same line or report read twice has the same one."""
    sample: SampleBase


@dataclass(frozen=True)
class Batch:
    timeline: str
    entries: list[Entry]
    horizon: float | None
    """Every entry up to this key was visible when read (None: unknown, do not advance)."""
    origin: datetime
    """The instant at key 0: the epoch for "wall", the boot time for "boot:<id>"."""

    def only(self, kind: type[SampleBase]) -> Batch:
        kept = [e for e in self.entries if isinstance(e.sample, kind)]
        return Batch(self.timeline, kept, self.horizon, self.origin)


def fingerprint(*parts: object) -> str:
    """A short stable digest of ``parts`` (kept in the state store, so small)."""
    text = "\x1f".join("" if part is None else str(part) for part in parts)
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=8).hexdigest()


def local_zone(host: Host) -> tzinfo:
    """This machine's time zone (from /etc/localtime on Linux and macOS), for logs that write
    local time; UTC when there is none (as glibc does)."""
    try:
        with host.path(LOCALTIME).open("rb") as handle:
            return ZoneInfo.from_file(handle, key="localtime")
    except (OSError, ValueError):
        return UTC
