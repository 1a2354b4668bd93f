"""Helpers of the simulator tests: running a simulation and reading its batches back.

(A module of its own rather than conftest.py, so ``from simrun import ...`` cannot pick up
another directory's conftest.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dexpulse.collector.simulator.engine import Simulation, SimulationConfig

MONDAY_7 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


@dataclass
class Run:
    sim: Simulation
    lines: list[str]
    batches: list[dict[str, Any]] = field(default_factory=list)
    truth: dict[str, Any] = field(default_factory=dict)

    def samples(self, kind: str | None = None) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(batch, sample) pairs, optionally of one kind."""
        return [
            (b, s) for b in self.batches for s in b["samples"] if kind is None or s["kind"] == kind
        ]

    def outage(self, kind: str) -> dict[str, Any]:
        found = [o for o in self.truth["outages"] if o["type"] == kind]
        assert len(found) == 1, kind
        return found[0]

    def index_of(self, device_id: str) -> int:
        return next(d.index for d in self.sim.fleet.devices if d.device_id == device_id)


def simulate(**config: Any) -> Run:
    sim = Simulation(SimulationConfig(**config))
    lines = [sim.line(b) for b in sim.batches()]
    run = Run(sim, lines, [json.loads(line) for line in lines], sim.truth())
    return run


SCENARIOS = (
    "ap_failure:at=30m,duration=20m,intensity=1",
    "site_wan_degradation:at=60m,duration=30m,intensity=1",
    "site_wan_degradation:at=100m,duration=20m,cut=true",
    "site_dns_failure:at=130m,duration=20m",
    "saas_outage:at=160m,duration=30m,target=login.example.com",
    "bad_app_version:at=200m,duration=30m,intensity=0.8",
    "bad_driver:at=240m,duration=30m,intensity=0.8",
    "os_build_regression:at=280m,duration=30m,intensity=0.8",
    "wifi_degradation:at=320m,duration=30m,intensity=1",
)
