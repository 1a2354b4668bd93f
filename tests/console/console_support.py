"""Helpers for the console tests: users, signing in as a browser would, and outages written
as detection writes them."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from dexpulse.collector.db import transaction
from dexpulse.collector.detection.engine import to_minute
from dexpulse.collector.detection.lifecycle import Outage, Status
from dexpulse.collector.security import Role
from dexpulse.collector.users import create_user

PASSWORD = "correct horse battery staple"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')

EXPLANATION = {
    "failing": 14,
    "exposed": 16,
    "rate": 0.875,
    "baseline_rate": 0.0123,
    "relative_risk": 7.03,
    "explained_share": 0.85,
    "alternatives": [
        {"cohort": {"site": "Brussels HQ"}, "explained_share": 0.6, "relative_risk": 3.2}
    ],
}


def add_user(
    sessions: sessionmaker[Session],
    name: str,
    role: Role = Role.ADMIN,
    password: str = PASSWORD,
    at: datetime = T0,
) -> None:
    """A console user whose password dates from ``at`` (sessions older than it are void)."""
    with transaction(sessions) as session:
        create_user(session, name, password, role, at)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the session's CSRF token (from the next page)."""
    form = client.get("/console/sign-in")
    assert form.status_code == 200
    done = client.post(
        "/console/sign-in",
        data={"name": name, "password": password, "csrf": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    feed = client.get("/console/")
    assert feed.status_code == 200
    return csrf_of(feed.text)


def wifi_outage(
    affected: set[str],
    ident: str = "wifi-1-1",
    *,
    status: Status = "open",
    started: datetime = T0,
    ssid: str = "corp",
    explanation: dict[str, Any] | None = None,
) -> Outage:
    detected = started + 4 * MIN
    resolved = started + 50 * MIN if status == "resolved" else None
    return Outage(
        id=ident,
        signal="wifi",
        cohort=(("site", "Brussels HQ"), ("ssid", ssid), ("bssid", "64:d1:54:68:93:ae")),
        started_at=to_minute(started),
        detected_at=to_minute(detected),
        status=status,
        resolved_at=to_minute(resolved) if resolved else None,
        closed_at=to_minute(resolved) if resolved else None,
        affected=set(affected or {str(uuid.uuid4()) for _ in range(3)}),
        exposed=16,
        timeline={
            to_minute(started + i * MIN): (min(14, 2 + 3 * i), 16) for i in range(0, 5)
        },
        explanation=dict(EXPLANATION if explanation is None else explanation),
        suspects=[
            {"cohort": {"driver": "Intel AX211", "driver_version": "23.10"},
             "first_seen": (started - 20 * MIN).isoformat()}
        ],
        last_alarm=to_minute(detected),
    )  # fmt: skip
