"""Replay: recorded batches through ingest and detection give the outages live ingestion
gives, whatever the job's schedule, the file's order or a bad line in it."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from recorded import batches, minute_after, record, sent_at
from sqlalchemy import create_engine

from dexpulse.collector import migrations
from dexpulse.collector.app import create_app
from dexpulse.collector.db import make_engine, make_sessionmaker, transaction
from dexpulse.collector.models import Device
from dexpulse.collector.notify import NotifySettings
from dexpulse.collector.outages.job import DetectionJob
from dexpulse.collector.outages.replay import outages_json, replay
from dexpulse.collector.security import token_hash
from dexpulse.collector.settings import CollectorSettings
from dexpulse.collector.timeline import TimePolicy

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    path = tmp_path_factory.mktemp("recorded") / "batches.jsonl"
    return path, record(path)


def replayed(path: Path, db: Path, every: int = 60) -> list[dict[str, object]]:
    engine = make_engine(f"sqlite:///{db}")
    try:
        migrations.upgrade(engine)
        sessions = make_sessionmaker(engine)
        job = DetectionJob(sessions, holder="replay", snapshot_every=None)
        result = replay(path, sessions, job, TimePolicy(), timedelta(minutes=every))
        assert not result.rejected
        return outages_json(sessions, result.outage_ids)
    finally:
        engine.dispose()


def test_replay_cli_finds_the_failed_access_point(
    recording: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, truth = recording
    out = tmp_path / "outages.json"
    done = subprocess.run(
        [sys.executable, "-m", "dexpulse.agent.cli", "collector", "replay", str(path),
         "--output", str(out)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "replayed" in done.stderr and "new devices" in done.stderr
    outages = json.loads(out.read_text())
    [injected] = truth["outages"]
    bssid = injected["cohort"]["bssid"]
    hits = [o for o in outages if o["cohort"].get("bssid") == bssid]
    assert hits, outages
    first = min(hits, key=lambda o: o["detected_at"])
    onset = datetime.fromisoformat(injected["start"].replace("Z", "+00:00"))
    detected = datetime.fromisoformat(first["detected_at"])
    assert onset <= detected <= onset + timedelta(minutes=6)
    assert first["affected_devices"] >= 3 and first["exposed_devices"] >= first["affected_devices"]
    for key in ("id", "status", "signal", "cohort", "started_at", "detected_at", "resolved_at",
                "affected_devices", "exposed_devices", "explanation", "suspects"):  # fmt: skip
        assert key in first
    assert {o["cohort"].get("bssid") for o in outages} == {bssid}  # nothing else alarmed


def test_the_schedule_of_the_job_does_not_change_the_outages(
    recording: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, _ = recording
    hourly = replayed(path, tmp_path / "a.db", every=60)
    assert hourly
    assert replayed(path, tmp_path / "b.db", every=1) == hourly
    assert replayed(path, tmp_path / "c.db", every=7) == hourly


def test_order_of_the_file_and_bad_lines(
    recording: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, _ = recording
    lines = path.read_text().splitlines()
    random.Random(3).shuffle(lines)
    lines.insert(5, '{"schema_version": 1, "device_id": "nope"}')
    lines.insert(9, "not json at all")
    shuffled = tmp_path / "shuffled.jsonl"
    shuffled.write_text("\n".join(lines) + "\n")
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    try:
        migrations.upgrade(engine)
        sessions = make_sessionmaker(engine)
        job = DetectionJob(sessions, holder="replay", snapshot_every=None)
        result = replay(shuffled, sessions, job, TimePolicy(), timedelta(hours=1))
        assert len(result.rejected) == 2
        assert result.rejected[0].startswith("line ") and "device_id" in result.rejected[0]
        assert outages_json(sessions, result.outage_ids) == replayed(path, tmp_path / "o.db")
    finally:
        engine.dispose()


def test_live_ingestion_gives_what_replay_gives(
    recording: tuple[Path, dict[str, Any]], db_url: str, tmp_path: Path
) -> None:
    """The same batches posted to the API, each arriving at its sent_at, with the detection
    job run at every minute boundary as the scheduler does: the same outages as replay."""
    path, _ = recording
    expected = replayed(path, tmp_path / "replay.db")
    clock = [datetime(2000, 1, 1, tzinfo=UTC)]
    settings = CollectorSettings(
        database_url=db_url, data_dir=tmp_path, detection_enabled=False, _env_file=None
    )
    app = create_app(settings, notify=NotifySettings(_env_file=None), clock=lambda: clock[0])
    with TestClient(app) as client:
        sessions = app.state.sessions
        tokens: dict[str, str] = {}
        job: DetectionJob = app.state.detection
        boundary: datetime | None = None
        for batch in batches(path):
            device = batch["device_id"]
            if device not in tokens:
                tokens[device] = _register(sessions, batch)
            at = sent_at(batch)
            boundary = boundary or minute_after(at)
            while at >= boundary:
                clock[0] = boundary
                job.run(boundary)
                boundary += timedelta(minutes=1)
            clock[0] = at
            response = client.post(
                "/api/v1/ingest", json=batch, headers={"Authorization": f"Bearer {tokens[device]}"}
            )
            assert response.status_code == 200, response.text
        job.run(clock[0])
        key = _viewer(sessions)
        listed = client.get("/api/v1/outages", headers=key).json()["outages"]
        assert {o["id"] for o in listed} == {o["id"] for o in expected}
        for outage in expected:
            detail = client.get(f"/api/v1/outages/{outage['id']}", headers=key).json()
            assert len(detail["timeline"]) == len(outage["timeline"])
            for got, want in zip(detail["timeline"], outage["timeline"], strict=True):
                assert all(_same(got[k], want[k]) for k in ("minute", "failing", "exposed"))
            for field in FIELDS:
                assert _same(detail[field], outage[field]), field


FIELDS = (
    "status", "cohort", "started_at", "detected_at", "resolved_at",
    "affected_devices", "exposed_devices", "explanation", "suspects",
)  # fmt: skip


def _same(a: object, b: object) -> bool:
    if isinstance(a, str) and isinstance(b, str) and a[:2] == b[:2] == "20":
        return datetime.fromisoformat(a) == datetime.fromisoformat(b)
    return a == b


def _register(sessions: Any, batch: dict[str, Any]) -> str:
    token = f"dxd_test_{uuid.uuid4().hex}"
    with transaction(sessions) as session:
        session.add(
            Device(
                id=uuid.UUID(batch["device_id"]), token_hash=token_hash(token),
                hostname=batch["agent"].get("hostname") or "laptop", os=batch["agent"]["os"],
                tags=batch.get("tags") or {}, enrolled_at=sent_at(batch),
            )
        )  # fmt: skip
    return token


def _viewer(sessions: Any) -> dict[str, str]:
    from dexpulse.collector.admin import create_api_key
    from dexpulse.collector.security import Role

    with transaction(sessions) as session:
        _, key = create_api_key(session, "viewer", Role.VIEWER)
    return {"Authorization": f"Bearer {key}"}


def test_replay_into_postgresql(
    recording: tuple[Path, dict[str, Any]], db_url: str, tmp_path: Path
) -> None:
    path, _ = recording
    engine = create_engine(db_url)
    try:
        migrations.upgrade(engine)
        sessions = make_sessionmaker(engine)
        job = DetectionJob(sessions, holder="replay", snapshot_every=None)
        result = replay(path, sessions, job, TimePolicy(), timedelta(hours=1))
        assert outages_json(sessions, result.outage_ids) == replayed(path, tmp_path / "s.db")
    finally:
        engine.dispose()
