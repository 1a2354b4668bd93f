"""Shortcuts for the pulse survey tests: campaigns through the API, the survey job run by
hand, check-ins, and batches that carry an answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from support import Collector, Enrolled, iso, make_batch, now

from dexpulse.collector.surveys.job import SurveyJob

QUESTION = "How was your laptop today?"


def create(collector: Collector, admin: dict[str, str], **fields: Any) -> dict[str, Any]:
    """A campaign created through the API (a rating question to everyone by default)."""
    body = {"name": "pulse", "question": QUESTION, "answer": "rating", **fields}
    response = collector.client.post("/api/v1/surveys", json=body, headers=admin)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def run_job(collector: Collector, at: datetime | None = None) -> int:
    """One run of the app's survey job, as the scheduler would make it."""
    job = collector.client.app.state.jobs.surveys  # type: ignore[attr-defined]
    assert isinstance(job, SurveyJob)
    return job.run(at or now())


def checkin(collector: Collector, device: Enrolled, etag: str | None = None) -> Any:
    headers = dict(device.headers)
    if etag is not None:
        headers["If-None-Match"] = etag
    return collector.client.get("/api/v1/agent/config", headers=headers)


def offered(collector: Collector, device: Enrolled) -> list[dict[str, Any]]:
    """The surveys the device's check-in lists."""
    response = checkin(collector, device)
    assert response.status_code == 200, response.text
    surveys: list[dict[str, Any]] = response.json()["surveys"]
    return surveys


def response_sample(survey_id: str, at: datetime | None = None, **fields: Any) -> dict[str, Any]:
    """A ``survey_response`` sample as the agent sends it (answered with a 4 by default)."""
    sample = {"kind": "survey_response", "ts": iso(at or now()), "survey_id": survey_id}
    if "status" not in fields or fields["status"] == "answered":
        fields.setdefault("rating", 4)
    return {**sample, **fields}


def answer(
    collector: Collector,
    device: Enrolled,
    samples: list[dict[str, Any]],
    **envelope: Any,
) -> dict[str, Any]:
    """Post a batch of ``samples`` from ``device``; the ingest response."""
    batch = make_batch(device.device_id, samples, **envelope)
    response = collector.post(device, batch)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
