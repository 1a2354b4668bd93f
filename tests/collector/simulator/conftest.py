"""Shared simulator runs for the simulator tests: each is generated once per session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from simrun import MONDAY_7, SCENARIOS, Run, simulate

from dexpulse.collector.simulator.scenarios import parse_spec


@pytest.fixture(scope="session")
def scenario_run() -> Run:
    """240 laptops, 4 sites, Monday 07:00-13:00 UTC, one outage of each type, one at a time."""
    return simulate(
        devices=240,
        sites=4,
        seed=11,
        start=MONDAY_7,
        duration=timedelta(hours=6),
        scenarios=tuple(parse_spec(s) for s in SCENARIOS),
    )


@pytest.fixture(scope="session")
def quiet_run() -> Run:
    """120 laptops, 4 sites, a day and a half without outages from Monday 00:00 UTC."""
    return simulate(
        devices=120,
        sites=4,
        seed=5,
        start=datetime(2026, 11, 23, tzinfo=UTC),
        duration=timedelta(hours=36),
    )
