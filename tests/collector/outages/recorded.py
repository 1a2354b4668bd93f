"""A small recorded fleet for replay and job tests: the simulator's batches written as JSON
Lines, with an access point failing half-way, and helpers to ingest them live."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dexpulse.collector.simulator.engine import Simulation, SimulationConfig
from dexpulse.collector.simulator.scenarios import parse_spec

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def record(
    path: Path,
    *,
    devices: int = 40,
    minutes: int = 150,
    scenario: str = "ap_failure:at=80m,duration=30m,intensity=1",
) -> dict[str, Any]:
    """Write the batches to ``path``; the ground truth."""
    sim = Simulation(
        SimulationConfig(
            devices=devices, sites=2, seed=4, start=START, duration=timedelta(minutes=minutes),
            scenarios=(parse_spec(scenario),), always_on=True,
        )
    )  # fmt: skip
    with path.open("w", encoding="utf-8") as out:
        for batch in sim.batches():
            out.write(sim.line(batch) + "\n")
    return sim.truth()


def batches(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def sent_at(batch: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(batch["sent_at"])


def minute_after(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0) + timedelta(minutes=1)
