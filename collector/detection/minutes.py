"""Distinct failing and exposed devices per cell and event-time minute, late data included.

Why event time: a laptop that was offline for twenty minutes uploads those minutes late; its
failures belong to the minutes they happened in, not to the minute they arrived. The buffer
keeps the last :attr:`MinuteBuffer.keep` minutes of counts; a unit for any of them is folded
into its own minute whenever it arrives (so the 3-minute window, an outage's timeline and its
affected devices see it), and a unit older than that is counted as dropped. Minutes leave the
buffer in order through :meth:`MinuteBuffer.expire`, which is when the baselines learn them:
by then late data has had ``keep`` minutes to arrive.

Minutes are integers (minutes since the epoch, UTC); the engine converts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .memo import Memo
from .units import Cell, Cohort, Dims, Unit, cells_for

Links = tuple[tuple[Cell, Cohort], ...]
"""A unit's cells, each with its parent cohort (see :func:`~.units.cells_for`)."""


@dataclass(slots=True)
class Count:
    failing: set[str] = field(default_factory=set)
    exposed: set[str] = field(default_factory=set)


class CellIndex:
    """The cells of a unit, computed once per distinct (signal, dims), not once per unit.

    Why: a device reports the same dims minute after minute (its access point, its probe
    targets, its app versions): at 10,000 devices some 180,000 units a minute share some
    50,000 distinct dims. Cells are interned as well: equal cells are one object, so the
    minutes' dicts compare keys by identity, and share them (a snapshot holds each once).
    Neither table is pickled (:class:`~.memo.Memo`)."""

    def __init__(self) -> None:
        self.links: Memo[tuple[str, Dims], Links] = Memo()
        self.interned: Memo[Cell, Cell] = Memo()

    def of(self, signal: str, dims: Dims) -> Links:
        links = self.links.get((signal, dims))
        if links is None:
            intern = self.interned
            links = tuple(
                (intern.get(cell) or intern.keep(cell, cell), parent)
                for cell, parent in cells_for(signal, dims)
            )
            self.links.keep((signal, dims), links)
        return links


class MinuteBuffer:
    def __init__(self, keep: int = 60) -> None:
        self.keep = keep
        self.index = CellIndex()
        self.minutes: dict[int, dict[Cell, Count]] = {}
        self.parents: dict[Cell, Cohort] = {}
        """Each cell's parent cohort, learned from the units (a bssid's site+ssid)."""
        self.floor: int | None = None
        """Minutes before this have left the buffer; their units are dropped."""
        self.dropped = 0

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A snapshot taken before the cell index existed resumes with an empty one."""
        self.__dict__.update(state)
        if "index" not in state:
            self.index = CellIndex()

    def add(self, minute: int, units: Iterable[Unit]) -> int:
        """Fold ``units`` of event-time ``minute`` in; how many were taken (0 if too old)."""
        if self.floor is not None and minute < self.floor:
            dropped = sum(1 for _ in units)
            self.dropped += dropped
            return 0
        cells = self.minutes.setdefault(minute, {})
        links, parents = self.index.links, self.parents
        taken = 0
        for unit in units:
            taken += 1
            device = unit.device
            found = links.get((unit.signal, unit.dims)) or self.index.of(unit.signal, unit.dims)
            for cell, parent in found:
                count = cells.get(cell)
                if count is None:
                    count = cells[cell] = Count()
                    if cell not in parents:
                        parents[cell] = parent
                count.exposed.add(device)
                if unit.failing:
                    count.failing.add(device)
        return taken

    def at(self, minute: int) -> dict[Cell, Count]:
        return self.minutes.get(minute, {})

    def window(self, cell: Cell, last: int, minutes: int) -> Count:
        """Devices failing / exposed in any of the ``minutes`` minutes ending at ``last``."""
        out = Count()
        for m in range(last - minutes + 1, last + 1):
            count = self.minutes.get(m, {}).get(cell)
            if count is not None:
                out.failing |= count.failing
                out.exposed |= count.exposed
        return out

    def expire(self, before: int) -> list[tuple[int, dict[Cell, Count]]]:
        """Remove and return, oldest first, the minutes before ``before``."""
        gone = sorted(m for m in self.minutes if m < before)
        self.floor = max(self.floor or before, before)
        return [(m, self.minutes.pop(m)) for m in gone]

    def ancestors(self, cell: Cell) -> list[Cohort]:
        """The cell's parent, grandparent ... up to the whole fleet (excluded)."""
        signal, cohort = cell
        out: list[Cohort] = []
        while cohort:
            parent = self.parents.get((signal, cohort), ())
            if not parent or parent in out:
                break
            out.append(parent)
            cohort = parent
        return out
