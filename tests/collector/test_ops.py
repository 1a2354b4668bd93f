"""Health, readiness, metrics, error shape for unknown routes, and migrations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import DateTime, Uuid, column, create_engine, inspect, select, table
from support import Collector, make_batch

from dexpulse.collector import migrations
from dexpulse.collector.app import create_app
from dexpulse.collector.db import make_engine
from dexpulse.collector.models import Base, JsonType, ScoreHour
from dexpulse.collector.settings import CollectorSettings

Ts = DateTime(timezone=True)


def test_health_and_readiness(collector: Collector) -> None:
    assert collector.client.get("/healthz").json() == {"status": "ok"}
    assert collector.client.get("/readyz").json() == {"status": "ready"}


def test_readyz_is_503_without_a_database(tmp_path: Path) -> None:
    settings = CollectorSettings(
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2",
        migrate_on_start=False,
        _env_file=None,
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert (ready.status_code, ready.json()["error"]) == (503, "database_unavailable")
        lost = client.post(
            "/api/v1/enroll", json={"enrollment_secret": "x", "hostname": "h", "os": "linux"}
        )
        assert lost.status_code == 503
        assert lost.headers["retry-after"] == "30"


def test_metrics_count_batches_by_outcome_and_devices(collector: Collector) -> None:
    device = collector.enroll()
    batch = make_batch(device.device_id)
    collector.post(device, batch)
    collector.post(device, batch)
    collector.post(device, b"{broken")
    collector.post(None, batch)
    text = collector.client.get("/metrics").text
    assert 'dexpulse_ingest_batches_total{outcome="accepted",reason=""} 1.0' in text
    assert 'dexpulse_ingest_batches_total{outcome="duplicate",reason=""} 1.0' in text
    assert 'dexpulse_ingest_batches_total{outcome="rejected",reason="malformed_json"} 1.0' in text
    assert 'dexpulse_ingest_batches_total{outcome="rejected",reason="missing_token"} 1.0' in text
    assert 'dexpulse_ingest_samples_total{outcome="accepted"} 1.0' in text
    assert "dexpulse_ingest_duration_seconds_count 4.0" in text
    assert 'dexpulse_devices{state="enrolled"} 1.0' in text
    assert 'dexpulse_devices{state="seen_24h"} 1.0' in text


def test_unknown_routes_and_methods_get_json_errors(collector: Collector) -> None:
    missing = collector.client.get("/api/v1/nothing")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    wrong = collector.client.get("/api/v1/ingest")
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"


def test_openapi_documents_the_batch_body(collector: Collector) -> None:
    spec = collector.client.get("/openapi.json").json()
    body = spec["paths"]["/api/v1/ingest"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Batch"}
    schemas = spec["components"]["schemas"]
    assert "WifiSample" in schemas and "samples" in schemas["Batch"]["properties"]


def test_migrations_match_the_models_and_round_trip(db_url: str) -> None:
    engine = create_engine(db_url)
    migrations.upgrade(engine)
    assert migrations.current_revision(engine) == migrations.head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []
    migrations.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrations.upgrade(engine)
    assert {"devices", "batches", "samples"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_hours_scored_before_revision_0005_keep_their_aggregates(db_url: str) -> None:
    """0005 moves an hour's aggregates out of its scored document into their own column."""
    engine = make_engine(db_url)
    migrations.downgrade(engine, "base")  # a database another test left at head
    migrations.upgrade(engine, "0004")
    device, hour = uuid.uuid4(), datetime(2026, 11, 23, 9, tzinfo=UTC)
    aggregates = {"hours": 1, "metrics": {"cpu": [50, 8, 2]}, "events": {}, "answers": 0,
                  "sentiment_total": 0.0}  # fmt: skip
    devices = table("devices", column("id", Uuid()), column("token_hash"), column("hostname"),
                    column("os"), column("tags", JsonType), column("enrolled_at", Ts))  # fmt: skip
    hours_0004 = table(
        "score_hours", column("device_id", Uuid()), column("hour", Ts), column("fingerprint"),
        column("score"), column("tally", JsonType), column("document", JsonType),
        column("updated_at", Ts),
    )  # fmt: skip
    with engine.begin() as conn:
        conn.execute(devices.insert().values(id=device, token_hash="x" * 64, hostname="l1",
                                             os="linux", tags={}, enrolled_at=hour))  # fmt: skip
        conn.execute(hours_0004.insert().values(
            device_id=device, hour=hour, fingerprint="f" * 16, score=88.0, tally={},
            document={"score": 88.0, "aggregates": aggregates}, updated_at=hour,
        ))  # fmt: skip
    migrations.upgrade(engine)
    with engine.connect() as conn:
        stored = conn.execute(select(ScoreHour.aggregates, ScoreHour.score)).one()
    assert tuple(stored) == (aggregates, 88.0)
    engine.dispose()
