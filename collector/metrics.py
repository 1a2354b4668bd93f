"""Prometheus metrics for the collector, on a registry of its own per app instance."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from .models import Device


class _DeviceGauges(Collector):
    """Device counts read from the database at scrape time (right with several workers)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        since = datetime.now(UTC) - timedelta(hours=24)
        with self._sessions() as session:
            enrolled = session.scalar(
                select(func.count()).select_from(Device).where(Device.revoked_at.is_(None))
            )
            seen = session.scalar(
                select(func.count()).select_from(Device).where(Device.last_seen_at >= since)
            )
        family = GaugeMetricFamily("dexpulse_devices", "Devices by state", labels=["state"])
        family.add_metric(["enrolled"], float(enrolled or 0))
        family.add_metric(["seen_24h"], float(seen or 0))
        yield family


class Metrics:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.registry = CollectorRegistry()
        self.batches = Counter(
            "dexpulse_ingest_batches",
            "Ingest requests by outcome (accepted, duplicate, rejected) and rejection reason",
            ["outcome", "reason"],
            registry=self.registry,
        )
        self.samples = Counter(
            "dexpulse_ingest_samples",
            "Samples stored (outcome=accepted) or dropped by the time policy (outcome=reason)",
            ["outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "dexpulse_ingest_duration_seconds",
            "Time to handle an ingest request, from headers to response",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.job_runs = Counter(
            "dexpulse_job_runs",
            "Scheduled job runs of this process by job and outcome: ran, skipped (another "
            "replica is running or has run the slot) or failed",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.registry.register(_DeviceGauges(sessions))
