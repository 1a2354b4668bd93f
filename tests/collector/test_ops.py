"""Health, readiness, metrics, error shape for unknown routes, and migrations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import (
    DateTime,
    Engine,
    Uuid,
    column,
    create_engine,
    inspect,
    select,
    table,
    text,
)
from support import Collector, make_batch

from dexpulse.collector import migrations, retention
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


# What PostgreSQL's schema may differ from the models in (revision 0009), and nothing else:
# these tables partitioned by range of this column, their primary keys holding it, ...
PARTITIONED = {"samples": "ts", "batches": "received_at", "score_hours": "hour"}
PG_PRIMARY_KEYS = {"samples": ["id", "ts"], "batches": ["batch_id", "received_at"]}
# ... and the foreign key samples.batch_id -> batches gone (batch_id alone is not unique there).
PG_DROPPED_FKS = {"fk_samples_batch_id_batches"}


def schema_drift(engine: Engine) -> list[Any]:
    """How the migrated database differs from the models, with PostgreSQL's documented
    differences taken out (each one checked to be exactly as documented)."""
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        partitions: set[str] = set()
        if postgres:
            keys = dict(conn.execute(text(
                "SELECT partrelid::regclass::text, pg_get_partkeydef(partrelid) "
                "FROM pg_partitioned_table"
            )).all())  # fmt: skip
            assert keys == {t: f"RANGE ({c})" for t, c in PARTITIONED.items()}
            for parent in PARTITIONED:
                names = set(conn.execute(text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = to_regclass(:t)"
                ), {"t": parent}).scalars())  # fmt: skip
                series = next(s for s in retention.PARTITIONED if s.table == parent)
                assert series.default in names
                assert all(retention.parse_partition(series, n) for n in names - {series.default})
                partitions |= names

        def include_name(name: str | None, type_: str, _: Any) -> bool:
            return not (type_ == "table" and name in partitions)

        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": include_name}
        )
        diff = compare_metadata(context, Base.metadata)
        keys = {t: inspect(conn).get_pk_constraint(t)["constrained_columns"]
                for t in Base.metadata.tables}  # fmt: skip
    if postgres:
        dropped = [d for d in diff if d[0] == "add_fk" and d[1].name in PG_DROPPED_FKS]
        assert {d[1].name for d in dropped} == PG_DROPPED_FKS
        diff = [d for d in diff if d not in dropped]
    expected = {name: [c.name for c in t.primary_key] for name, t in Base.metadata.tables.items()}
    if postgres:
        expected.update(PG_PRIMARY_KEYS)
    return diff + [("primary_key", t, keys[t]) for t in keys if keys[t] != expected[t]]


def test_migrations_match_the_models_and_round_trip(db_url: str) -> None:
    engine = create_engine(db_url)
    migrations.upgrade(engine)
    assert migrations.current_revision(engine) == migrations.head_revision()
    assert schema_drift(engine) == []
    migrations.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrations.upgrade(engine)
    assert {"devices", "batches", "samples"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_schema_drift_is_still_caught_on_partitioned_tables(db_url: str) -> None:
    """The accepted differences are exactly the documented ones: any other drift, also on a
    partitioned table, still shows."""
    engine = create_engine(db_url)
    migrations.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_samples_kind_ts"))
        conn.execute(text("CREATE INDEX ix_batches_sent ON batches (sent_at)"))
    try:
        drift = schema_drift(engine)
        assert sorted((d[0], d[1].name) for d in drift) == [
            ("add_index", "ix_samples_kind_ts"), ("remove_index", "ix_batches_sent")
        ]  # fmt: skip
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_batches_sent"))
            conn.execute(text("CREATE INDEX ix_samples_kind_ts ON samples (kind, ts)"))
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
