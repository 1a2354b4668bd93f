"""The expected failure rate p0 of every cell: by hour of week, shrunk toward the parent.

Why shrinkage: most cells are small or new (an access point with six clients, an app version
released this morning) and their own history says little. Each estimate borrows strength from
the level above, ``p = (x + m * p_parent) / (n + m)`` with ``m`` device-minutes of weight
(research notes §4.3), three times over:

    signal prior -> parent cohort -> the cell, all hours -> the cell, this hour of week

so a new app version starts at its app's rate, a quiet BSSID at its site+SSID's, and an hour
with weeks of history (Monday 09:00 is not Sunday 03:00) at its own.

History is exponentially decayed: the all-hours rate with a half-life of ``half_life_min``
(a week by default), the hour-of-week rate with one of ``bucket_half_life_min`` of that
bucket's own minutes (four weeks of that hour). Each learned minute is winsorized (its failing
count capped at ``n * max(3 p0, p0 + 0.05)``) and a cell in an incident does not learn at all
(the engine decides), so an outage does not become the new normal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .units import Cell, Cohort

WEEK_MIN = 7 * 24 * 60


@dataclass(slots=True)
class Rate:
    x: float = 0.0
    n: float = 0.0
    at: int = 0
    """The minute of the last update (decay is applied lazily)."""

    def decayed(self, minute: int, half_life: float) -> tuple[float, float]:
        factor = 0.5 ** (max(0, minute - self.at) / half_life)
        return self.x * factor, self.n * factor

    def add(self, minute: int, half_life: float, x: float, n: float) -> None:
        self.x, self.n = self.decayed(minute, half_life)
        self.x += x
        self.n += n
        self.at = minute


def hour_of_week(minute: int) -> int:
    """0..167 from minutes since the epoch (UTC; the epoch was a Thursday: shifted to Monday)."""
    return ((minute + 3 * 24 * 60) % WEEK_MIN) // 60


class Baselines:
    def __init__(
        self,
        prior: Mapping[str, float],
        *,
        weight: float = 100.0,
        half_life_min: float = 7 * 24 * 60,
        bucket_half_life_min: float = 4 * 60,
    ) -> None:
        self.prior = dict(prior)
        self.weight = weight
        self.half_life = half_life_min
        self.bucket_half_life = bucket_half_life_min
        self.overall: dict[Cell, Rate] = {}
        self.buckets: dict[tuple[Cell, int], Rate] = {}

    def p0(
        self,
        cell: Cell,
        minute: int,
        parents: Mapping[Cell, Cohort],
        cache: dict[Cell, float] | None = None,
    ) -> float:
        """The expected failure rate of ``cell`` at ``minute`` (see the module notes).

        ``cache`` holds the rates of ``minute`` already known (the engine passes one per
        minute: every cell of a minute shares its ancestors)."""
        if cache is None:
            cache = {}
        known = cache.get(cell)
        if known is not None:
            return known
        return self._p0(cell, minute, hour_of_week(minute), parents, cache)

    def _p0(
        self,
        cell: Cell,
        minute: int,
        hour: int,
        parents: Mapping[Cell, Cohort],
        cache: dict[Cell, float],
    ) -> float:
        signal, cohort = cell
        if cohort:
            parent = (signal, parents.get(cell, ()))
            above = cache.get(parent)
            if above is None:
                above = self._p0(parent, minute, hour, parents, cache)
        else:
            above = self.prior.get(signal, 0.01)
        m = self.weight
        rate = self.overall.get(cell)
        if rate is not None:
            x, n = rate.decayed(minute, self.half_life)
            above = (x + m * above) / (n + m)
        bucket = self.buckets.get((cell, hour))
        if bucket is not None:  # decayed per visit of the bucket, in learn()
            above = (bucket.x + m * above) / (bucket.n + m)
        cache[cell] = above
        return above

    def learn(self, cell: Cell, minute: int, failing: int, exposed: int, p0: float) -> None:
        """Add one minute of ``cell`` (winsorized against ``p0``)."""
        if exposed <= 0:
            return
        x = min(float(failing), exposed * max(3 * p0, p0 + 0.05))
        rate = self.overall.get(cell)
        if rate is None:
            rate = self.overall[cell] = Rate(at=minute)
        rate.add(minute, self.half_life, x, exposed)
        key = (cell, hour_of_week(minute))
        # The bucket's clock runs only while the bucket is visited: its decay counts visits.
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = Rate(at=0)
        bucket.add(bucket.at + 1, self.bucket_half_life, x, exposed)
