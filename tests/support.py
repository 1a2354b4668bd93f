"""Test helpers: a database per backend, a collector client, and batch builders."""

from __future__ import annotations

import gzip
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from dexpulse.collector import migrations
from dexpulse.collector.admin import create_api_key, create_enrollment_secret
from dexpulse.collector.db import make_engine, make_sessionmaker, transaction
from dexpulse.collector.models import Device
from dexpulse.collector.security import Role, token_hash

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_ENV = "DEXPULSE_TEST_DATABASE_URL"
TABLES = (
    "job_slots, score_rollups, console_sign_ins, console_sessions, console_users, "
    "survey_answers, survey_offers, survey_campaigns, "
    "notifications, outage_events, outages, detection_state, score_days_stale, score_days, "
    "score_hours, scoring_state, samples, batches, devices, api_keys, enrollment_secrets, "
    "agent_config"
)


def postgres_server_url() -> str:
    """The PostgreSQL to test against; skip without one unless the environment demands it."""
    demanded = os.environ.get(PG_ENV)
    url = demanded or DEFAULT_PG
    try:
        engine = create_engine(url)
        with engine.connect():
            pass
        engine.dispose()
    except OperationalError as exc:
        if demanded:
            pytest.fail(f"{PG_ENV} is set but PostgreSQL is unreachable: {exc}")
        pytest.skip(f"no PostgreSQL at {url} (set {PG_ENV} to demand it)")
    return url


@contextmanager
def scratch_postgres_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server, dropped afterwards."""
    name = f"dexpulse_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def now() -> datetime:
    return datetime.now(UTC)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def make_batch(
    device_id: uuid.UUID | str, samples: list[dict[str, Any]] | None = None, **envelope: Any
) -> dict[str, Any]:
    """A wire-format batch as a JSON-ready dict; one Wi-Fi sample unless told otherwise."""
    at = now()
    body: dict[str, Any] = {
        "schema_version": 1,
        "device_id": str(device_id),
        "batch_id": str(uuid.uuid4()),
        "seq": 1,
        "sent_at": iso(at),
        "agent": {"version": "0.1.0", "os": "linux", "os_build": "6.8.0-45"},
        "tags": {"site": "brussels", "department": "finance"},
        "samples": samples
        if samples is not None
        else [{"kind": "wifi", "ts": iso(at), "ssid": "corp", "rssi_dbm": -61}],
    }
    body.update(envelope)
    return body


@dataclass
class Enrolled:
    device_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Collector:
    """A collector app under test with shortcuts for the common calls."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.sessions = client.app.state.sessions  # type: ignore[attr-defined]

    def enrollment_secret(self, **kwargs: Any) -> str:
        with transaction(self.sessions) as session:
            _, plaintext = create_enrollment_secret(session, "test", **kwargs)
        return plaintext

    def api_key(self, role: Role) -> dict[str, str]:
        with transaction(self.sessions) as session:
            _, plaintext = create_api_key(session, f"{role.value} key", role)
        return {"Authorization": f"Bearer {plaintext}"}

    def enroll(self, hostname: str = "laptop-1", secret: str | None = None) -> Enrolled:
        body = {
            "enrollment_secret": secret or self.enrollment_secret(),
            "hostname": hostname,
            "os": "linux",
            "tags": {"site": "brussels"},
        }
        response = self.client.post("/api/v1/enroll", json=body)
        assert response.status_code == 201, response.text
        data = response.json()
        return Enrolled(data["device_id"], data["device_token"])

    def post(
        self,
        device: Enrolled | None,
        batch: dict[str, Any] | bytes,
        *,
        compress: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Any:
        raw = batch if isinstance(batch, bytes) else json.dumps(batch).encode()
        sent = {"Content-Type": "application/json"}
        if compress:
            raw = gzip.compress(raw)
            sent["Content-Encoding"] = "gzip"
        if device is not None:
            sent.update(device.headers)
        sent.update(headers or {})
        return self.client.post("/api/v1/ingest", content=raw, headers=sent)

    def count(self, table: str) -> int:
        with self.sessions() as session:
            return int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


# -- a migrated database and devices in it, for job tests ----------------------------------

DEVICE_ENROLLED_AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@contextmanager
def migrated(db_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on ``db_url`` with the schema in place; the engine is disposed afterwards."""
    engine = make_engine(db_url)
    try:
        migrations.upgrade(engine)
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


def add_device(session: Session, hostname: str, **tags: str) -> uuid.UUID:
    device = uuid.uuid4()
    session.add(
        Device(
            id=device, token_hash=token_hash(f"dxd_test_{uuid.uuid4().hex}"), hostname=hostname,
            os="linux", tags=tags or {"site": "Amsterdam"}, enrolled_at=DEVICE_ENROLLED_AT,
        )
    )  # fmt: skip
    session.flush()
    return device
