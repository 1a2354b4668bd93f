"""Samples as an agent sends them, stored as ingest stores them, for the scoring tests."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from support import iso, make_batch

from dexpulse.collector.ingest import store_batch
from dexpulse.collector.scoring import HourScore, ScoringConfig, score_hour
from dexpulse.collector.timeline import TimePolicy
from dexpulse.schema import Batch

MIN = timedelta(minutes=1)


def minute_samples(at: datetime, rssi: float, cpu: float) -> list[dict[str, Any]]:
    """What an agent sends in a minute: a Wi-Fi reading, a system reading, two probes."""
    ts = iso(at)
    return [
        {"kind": "wifi", "ts": ts, "connected": True, "ssid": "corp", "rssi_dbm": rssi},
        {"kind": "system", "ts": ts, "cpu_percent": cpu, "memory_percent": 55.0,
         "disk_free_percent": 40.0},
        {"kind": "network_probe", "ts": ts, "target": "login.example.com", "status": "ok",
         "dns_ms": 20.0, "connect_ms": 30.0, "ttfb_ms": 180.0},
        {"kind": "network_probe", "ts": ts, "target": "intranet.example.com",
         "status": "timeout" if cpu > 90 else "ok"},
    ]  # fmt: skip


def stream(start: datetime, minutes: int, seed: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(minutes):
        out += minute_samples(start + i * MIN, -55.0 - (i * seed) % 30, float((i * 7 * seed) % 100))
    return out


def send(
    sessions: sessionmaker[Session],
    device: uuid.UUID,
    samples: list[dict[str, Any]],
    at: datetime,
    tags: dict[str, str] | None = None,
) -> None:
    """Store ``samples`` as one batch arriving at ``at`` (the batch's tags become the
    device's, as ingest does: the default ones unless ``tags`` says otherwise)."""
    envelope = {"tags": tags} if tags is not None else {}
    with sessions.begin() as session:
        batch = Batch.model_validate(make_batch(device, samples, sent_at=iso(at), **envelope))
        store_batch(session, device, batch, at, TimePolicy())


def core_hours(samples: list[dict[str, Any]], config: ScoringConfig) -> dict[datetime, HourScore]:
    """The pure core's scores of these samples, per UTC hour."""
    by_hour: dict[datetime, list[tuple[str, dict[str, Any]]]] = {}
    for s in samples:
        ts = datetime.fromisoformat(s["ts"].replace("Z", "+00:00"))
        data = {k: v for k, v in s.items() if k not in ("kind", "ts")}
        by_hour.setdefault(ts.replace(minute=0, second=0), []).append((s["kind"], data))
    return {hour: score_hour(part, config) for hour, part in by_hour.items()}
