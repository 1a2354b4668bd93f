"""A cache that is not state: a dict that pickles and deep-copies as empty.

Why: the detector and featurizer are pickled between job runs (the collector snapshots them)
and deep-copied by tests. What they derive again on demand (the cells of a unit's dims, the
dims of a device's context) would only make those snapshots larger, so it is left out of
them. A fresh process starts cold and warms up within a minute of batches.

Bounded crudely: past ``limit`` entries it is emptied and refilled by what is still asked for
(the dims of devices long gone, of app versions since replaced). The limit is far above a
fleet's working set (some 50,000 dims at 10,000 devices), so that happens rarely.
"""

from __future__ import annotations

from typing import Any, TypeVar

K = TypeVar("K")
V = TypeVar("V")

LIMIT = 1 << 20


class Memo(dict[K, V]):
    def __init__(self, limit: int = LIMIT) -> None:
        super().__init__()
        self.limit = limit

    def keep(self, key: K, value: V) -> V:
        """Store ``value`` under ``key`` (emptying the memo first if it is full); ``value``."""
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.limit,))
