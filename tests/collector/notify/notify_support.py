"""Outage events to render (the receiver they are sent to is ``http_receiver``)."""

from __future__ import annotations

import copy
from typing import Any

OUTAGE: dict[str, Any] = {
    "id": "wifi-29384000-3",
    "status": "open",
    "signal": "wifi",
    "cohort": {"site": "Amsterdam", "ssid": "corp", "bssid": "64:d1:54:68:93:ae"},
    "started_at": "2026-11-23T09:02:00+00:00",
    "detected_at": "2026-11-23T09:06:00+00:00",
    "resolved_at": None,
    "affected_devices": 14,
    "exposed_devices": 20,
    "explanation": {
        "failing": 14,
        "exposed": 20,
        "rate": 0.7,
        "baseline_rate": 0.1,
        "relative_risk": 7.03,
        "explained_share": 0.85,
        "alternatives": [
            {"cohort": {"site": "Amsterdam"}, "explained_share": 0.9, "relative_risk": 3.2}
        ],
    },
    "suspects": [
        {
            "cohort": {"app_name": "Teams", "app_version": "24.1.0"},
            "first_seen": "2026-11-23T08:00:00+00:00",
        }
    ],
}


def event(kind: str = "opened", event_id: int = 42, **outage: Any) -> dict[str, Any]:
    """An outbox event for a copy of :data:`OUTAGE` with ``outage`` fields replaced."""
    body = copy.deepcopy(OUTAGE)
    body.update(outage)
    if kind == "resolved" and "resolved_at" not in outage:
        body["status"], body["resolved_at"] = "resolved", "2026-11-23T10:07:00+00:00"
    return {"event_id": event_id, "event": kind, "at": "2026-11-23T09:06:00+00:00", "outage": body}
