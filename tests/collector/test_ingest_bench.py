"""The ingest benchmark (``bench/ingest.py``) on tiny settings: it must really post, really
store, find nothing missing and run its ceiling, on SQLite and on PostgreSQL (a bench
database of its own, never the shared test database). Its gzip splice is checked against
the collector's own inflater."""

from __future__ import annotations

import gzip
import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ingest import build_pool, run
from ingest_load import body_template, envelope_tail, gzip_body
from support import postgres_server_url

from dexpulse.collector.body import gunzip_bounded
from dexpulse.collector.simulator.engine import Simulation, SimulationConfig

TINY = [
    "--devices", "50", "--agents", "1", "--connections", "2", "--workers", "1",
    "--warmup", "2", "--seconds", "3", "--ceiling-seconds", "1", "--bulk-size", "10",
]  # fmt: skip


def test_a_spliced_body_inflates_to_the_batch_with_its_new_envelope() -> None:
    now = datetime.now(UTC)
    sim = Simulation(
        SimulationConfig(devices=3, start=now - timedelta(minutes=20),
                         duration=timedelta(minutes=20), upload_every=5, always_on=True)
    )  # fmt: skip
    line = sim.line(next(iter(sim.batches())))
    template = body_template(line)
    device, batch = str(uuid.uuid4()), str(uuid.uuid4())
    body = gzip_body(template, envelope_tail(device, batch, 7, "2026-12-03T08:00:00.000Z"))
    expected = {**json.loads(line), "device_id": device, "batch_id": batch, "seq": 7,
                "sent_at": "2026-12-03T08:00:00.000Z"}  # fmt: skip
    assert json.loads(gunzip_bounded(body, 10 * 1024 * 1024)) == expected
    assert json.loads(gzip.decompress(body)) == expected
    assert template.samples == len(expected["samples"]) and template.wire_bytes > 0


def test_the_pool_holds_batches_of_about_thirty_recent_samples() -> None:
    now = datetime.now(UTC)
    pool = build_pool(5, 1, now)
    assert 25 <= pool.mean_samples <= 35
    times = [ts for rows in pool.rows for _, ts, _ in rows.samples]
    # batches sent in the last 30 minutes hold samples up to 5 minutes older; the simulated
    # clock starts at the minute, up to a minute before the pool asked for
    assert now - timedelta(minutes=36) <= min(times) and max(times) <= now


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_the_benchmark_posts_stores_and_loses_nothing(backend: str, tmp_path: Path) -> None:
    extra = ["--keep", str(tmp_path)]
    if backend == "postgresql":
        name = f"dexpulse_ingest_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        extra = ["--database-url", postgres_server_url(), "--bench-database", name]
    outcome = run([*TINY, *extra])
    http, stored = outcome.http, outcome.stored
    assert outcome.backend == backend
    assert http.report.window_batches > 0 and http.report.window_samples > 0
    assert len(http.report.latencies_ms) == http.report.window_batches
    assert stored.acknowledged >= http.report.window_batches and stored.missing == 0
    assert stored.samples == http.report.accepted > 0
    assert not http.report.dropped and not http.report.duplicates
    assert outcome.exit_status == 0
    per_batch, bulk = outcome.ceilings
    assert per_batch.per_transaction == 1 and per_batch.report.window_batches > 0
    assert bulk.per_transaction == 10 and bulk.report.window_batches > 0
    assert not per_batch.report.errors and not bulk.report.errors
