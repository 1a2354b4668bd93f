"""Placing a batch's samples in event time: the policy for wrong clocks and stale data.

Pure: takes timestamps and the arrival time, returns corrected timestamps. The policy:

1. The device's clock offset is estimated as ``received_at - sent_at`` (``sent_at`` is stamped
   at each send attempt, so it reflects the clock, not how long the batch waited offline). If
   the offset is larger than the tolerance in either direction, the device clock is wrong and
   every sample time in the batch is shifted by it. Within the tolerance nothing is changed:
   network delay looks like a small offset and must not move samples.
2. After correction, a sample later than arrival + ``max_future_s`` cannot be true and is
   dropped (reason ``ts_in_future``); one older than ``max_age_s`` is past retention and
   is dropped (reason ``ts_too_old``). The rest of the batch is stored: one bad sample must not
   make the agent retry a batch forever.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class TimePolicy:
    skew_tolerance_s: float = 300.0
    max_future_s: float = 300.0
    max_age_s: float = 30 * 86400.0


@dataclass(frozen=True)
class Placement:
    offset_s: float
    times: list[datetime | None]
    """Corrected time per sample, or None where the sample is dropped."""
    dropped: dict[str, int] = field(default_factory=dict)


def place(
    sample_times: Sequence[datetime], sent_at: datetime, received_at: datetime, policy: TimePolicy
) -> Placement:
    offset = received_at - sent_at
    if abs(offset.total_seconds()) <= policy.skew_tolerance_s:
        offset = timedelta(0)
    latest = received_at + timedelta(seconds=policy.max_future_s)
    earliest = received_at - timedelta(seconds=policy.max_age_s)
    dropped: Counter[str] = Counter()
    times: list[datetime | None] = []
    for ts in sample_times:
        try:
            corrected = ts + offset
        except OverflowError:  # shifted past year 1 or 9999 by an absurd device clock
            corrected = (
                datetime.max.replace(tzinfo=UTC)
                if offset > timedelta(0)
                else datetime.min.replace(tzinfo=UTC)
            )
        if corrected > latest:
            dropped["ts_in_future"] += 1
            times.append(None)
        elif corrected < earliest:
            dropped["ts_too_old"] += 1
            times.append(None)
        else:
            times.append(corrected)
    return Placement(offset.total_seconds(), times, dict(dropped))
