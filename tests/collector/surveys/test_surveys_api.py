"""The survey campaign API and what it does to check-ins: validation, roles, pause, resume
and end, unknown ids, the surveys a check-in lists and its ETag, the survey job, results."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from support import Collector, iso, now
from survey_support import QUESTION, answer, checkin, create, offered, response_sample, run_job

from dexpulse.collector.models import OutageRecord, SurveyOfferRecord
from dexpulse.collector.security import Role

BODY = {"name": "pulse", "question": QUESTION, "answer": "rating"}


@pytest.fixture
def admin(collector: Collector) -> dict[str, str]:
    return collector.api_key(Role.ADMIN)


def statuses(collector: Collector) -> list[str]:
    with collector.sessions() as session:
        return sorted(session.scalars(select(SurveyOfferRecord.status)))


# -- creating campaigns ----------------------------------------------------------------------


def test_a_campaign_is_created_with_its_defaults_and_read_back(
    collector: Collector, admin: dict[str, str]
) -> None:
    before = now()
    made = create(collector, admin, target={"sites": ["brussels"]}, comment=True)
    assert made["status"] == "active" and made["id"] >= 1
    assert made["sample_rate"] == 1.0 and made["trigger"] == "schedule"
    assert made["respond_within_h"] == 72 and made["anonymous"] is False
    assert made["target"] == {"tags": {}, "sites": ["brussels"], "models": []}
    assert made["ends_at"] is None and made["repeat_days"] is None
    assert before - timedelta(seconds=1) <= datetime_of(made["starts_at"]) <= now()
    viewer = collector.api_key(Role.VIEWER)
    got = collector.client.get(f"/api/v1/surveys/{made['id']}", headers=viewer)
    assert got.status_code == 200 and got.json() == made
    listed = collector.client.get("/api/v1/surveys", headers=viewer)
    assert listed.status_code == 200 and listed.json() == {"campaigns": [made]}


def datetime_of(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    "fields",
    [
        {"starts_at": "2026-12-07T09:00:00Z", "ends_at": "2026-12-07T09:00:00Z"},
        {"starts_at": "2026-12-07T09:00:00Z", "ends_at": "2026-12-06T09:00:00Z"},
        {"ends_at": "2020-01-01T00:00:00Z"},  # before the default start, now
        {"trigger": "outage_resolved", "repeat_days": 7},
        {"question": "   "},  # blank: the tray could show nothing
        {"question": "How was it?\u0000"},  # a NUL no database stores
        {"name": "\t"},
        {"trigger_signals": ["wifi"]},  # signals are for outage campaigns
        {"trigger": "outage_resolved", "trigger_signals": ["no_such_signal"]},
        {"sample_rate": 0},
        {"sample_rate": 1.5},
        {"colour": "blue"},  # unknown field
        {"target": {"sites": ["brussels"], "buildings": ["B"]}},  # unknown target part
        {"answer": "essay"},
        {"repeat_days": 0},
        {"question": ""},
        {"starts_at": "2026-12-07T09:00:00"},  # naive
    ],
)
def test_invalid_campaigns_are_422(
    collector: Collector, admin: dict[str, str], fields: dict[str, Any]
) -> None:
    response = collector.client.post("/api/v1/surveys", json={**BODY, **fields}, headers=admin)
    assert response.status_code == 422, response.text
    assert collector.count("survey_campaigns") == 0


def test_viewers_read_but_do_not_create_or_change(
    collector: Collector, admin: dict[str, str]
) -> None:
    made = create(collector, admin)
    viewer = collector.api_key(Role.VIEWER)
    assert collector.client.post("/api/v1/surveys", json=BODY, headers=viewer).status_code == 403
    for action in ("pause", "resume", "end"):
        url = f"/api/v1/surveys/{made['id']}/{action}"
        assert collector.client.post(url, headers=viewer).status_code == 403
    assert collector.client.get("/api/v1/surveys", headers=viewer).status_code == 200
    results = collector.client.get(f"/api/v1/surveys/{made['id']}/results", headers=viewer)
    assert results.status_code == 200
    assert collector.client.get("/api/v1/surveys").status_code == 401
    assert collector.count("survey_campaigns") == 1
    got = collector.client.get(f"/api/v1/surveys/{made['id']}", headers=viewer).json()
    assert got["status"] == "active"


def test_unknown_campaigns_are_404(collector: Collector, admin: dict[str, str]) -> None:
    for path in ("", "/results"):
        response = collector.client.get(f"/api/v1/surveys/999{path}", headers=admin)
        assert response.status_code == 404 and response.json()["error"] == "not_found"
    for action in ("pause", "resume", "end"):
        response = collector.client.post(f"/api/v1/surveys/999/{action}", headers=admin)
        assert response.status_code == 404


# -- check-in --------------------------------------------------------------------------------


def test_check_in_lists_the_survey_and_its_etag_follows_the_surveys(
    collector: Collector, admin: dict[str, str]
) -> None:
    device = collector.enroll()
    first = checkin(collector, device)
    assert first.status_code == 200 and first.json()["surveys"] == []
    etag = first.headers["etag"]
    assert checkin(collector, device, etag).status_code == 304

    made = create(collector, admin, comment=True, anonymous=True, respond_within_h=48)
    assert run_job(collector) == 0  # put when the campaign was created
    listed = checkin(collector, device, etag)
    assert listed.status_code == 200 and listed.headers["etag"] != etag
    (survey,) = listed.json()["surveys"]
    starts = datetime_of(made["starts_at"])
    assert survey == {
        "id": f"c{made['id']}-r1", "campaign_id": str(made["id"]), "question": QUESTION,
        "answer": "rating", "comment": True, "anonymous": True,
        "not_before": survey["not_before"], "expires_at": iso(starts + timedelta(hours=48)),
    }  # fmt: skip
    assert starts <= datetime_of(survey["not_before"]) <= now()
    etag = listed.headers["etag"]
    assert checkin(collector, device, etag).status_code == 304

    answer(collector, device, [response_sample(survey["id"], rating=5)])
    after = checkin(collector, device, etag)
    assert after.status_code == 200 and after.headers["etag"] != etag
    assert after.json()["surveys"] == []  # answered: no longer listed


def test_pause_hides_the_surveys_resume_brings_them_back(
    collector: Collector, admin: dict[str, str]
) -> None:
    device = collector.enroll()
    made = create(collector, admin)
    run_job(collector)
    assert len(offered(collector, device)) == 1
    paused = collector.client.post(f"/api/v1/surveys/{made['id']}/pause", headers=admin)
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    assert offered(collector, device) == []
    assert run_job(collector) == 0 and offered(collector, device) == []
    assert statuses(collector) == ["pending"]  # kept for the resume
    resumed = collector.client.post(f"/api/v1/surveys/{made['id']}/resume", headers=admin)
    assert resumed.status_code == 200 and resumed.json()["status"] == "active"
    assert [s["id"] for s in offered(collector, device)] == [f"c{made['id']}-r1"]


def test_end_expires_the_pending_surveys_for_good(
    collector: Collector, admin: dict[str, str]
) -> None:
    devices = [collector.enroll(f"laptop-{i}") for i in range(2)]
    made = create(collector, admin)
    assert collector.count("survey_offers") == 2  # put at creation
    survey_id = f"c{made['id']}-r1"
    answer(collector, devices[0], [response_sample(survey_id)])
    ended = collector.client.post(f"/api/v1/surveys/{made['id']}/end", headers=admin)
    assert ended.status_code == 200 and ended.json()["status"] == "ended"
    assert statuses(collector) == ["answered", "expired"]
    assert offered(collector, devices[1]) == []
    for action in ("resume", "pause"):
        again = collector.client.post(f"/api/v1/surveys/{made['id']}/{action}", headers=admin)
        assert again.status_code == 409 and again.json()["error"] == "campaign_ended"
    assert run_job(collector) == 0 and offered(collector, devices[1]) == []
    assert collector.count("survey_answers") == 1  # the answers stay


# -- the survey job --------------------------------------------------------------------------


def test_the_job_is_idempotent_and_expires_overdue_surveys(
    collector: Collector, admin: dict[str, str]
) -> None:
    devices = [collector.enroll(f"laptop-{i}") for i in range(3)]
    made = create(collector, admin, respond_within_h=2, repeat_days=1)
    at = now()
    assert collector.count("survey_offers") == 3  # put at creation
    assert run_job(collector, at) == 0
    assert run_job(collector, at + timedelta(minutes=30)) == 0
    assert collector.count("survey_offers") == 3
    answer(collector, devices[0], [response_sample(f"c{made['id']}-r1")])
    assert run_job(collector, at + timedelta(hours=3)) == 0  # round 1 closed, round 2 not yet
    assert statuses(collector) == ["answered", "expired", "expired"]
    assert offered(collector, devices[1]) == []
    assert run_job(collector, at + timedelta(days=1, minutes=1)) == 3  # round 2
    assert sorted(s["id"] for s in offered(collector, devices[1])) == [f"c{made['id']}-r2"]


def test_the_job_ends_a_campaign_at_its_end_and_its_surveys_with_it(
    collector: Collector, admin: dict[str, str]
) -> None:
    device = collector.enroll()
    end = now() + timedelta(hours=1)
    made = create(collector, admin, ends_at=iso(end))
    other = create(collector, admin)
    assert run_job(collector) == 0 and collector.count("survey_offers") == 2
    (survey,) = [s for s in offered(collector, device) if s["campaign_id"] == str(made["id"])]
    assert survey["expires_at"] == iso(end)  # the window ends with the campaign
    assert run_job(collector, end) == 0
    viewer = collector.api_key(Role.VIEWER)
    ended = collector.client.get("/api/v1/surveys", params={"status": "ended"}, headers=viewer)
    assert [c["id"] for c in ended.json()["campaigns"]] == [made["id"]]
    active = collector.client.get("/api/v1/surveys", params={"status": "active"}, headers=viewer)
    assert [c["id"] for c in active.json()["campaigns"]] == [other["id"]]
    assert statuses(collector) == ["expired", "pending"]


def test_the_job_asks_only_targeted_devices(collector: Collector, admin: dict[str, str]) -> None:
    brussels = collector.enroll("laptop-b")  # enrolled at brussels
    gent = collector.enroll("laptop-g")
    answer(collector, gent, [], tags={"site": "gent", "department": "finance"})
    create(collector, admin, target={"sites": ["gent"], "tags": {"department": "finance"}})
    assert collector.count("survey_offers") == 1
    assert offered(collector, brussels) == [] and len(offered(collector, gent)) == 1


def test_the_job_asks_the_devices_a_resolved_outage_affected_after_the_delay(
    collector: Collector, admin: dict[str, str]
) -> None:
    hit, spared, elsewhere = (collector.enroll(f"laptop-{i}") for i in range(3))
    answer(collector, elsewhere, [], tags={"site": "gent"})
    made = create(
        collector, admin, trigger="outage_resolved", trigger_signals=["wifi"],
        target={"sites": ["brussels"]}, respond_within_h=24,
    )  # fmt: skip
    resolved = now()
    affected = [hit.device_id, elsewhere.device_id]
    with collector.sessions.begin() as session:
        for oid, signal, status in (("o-wifi", "wifi", "resolved"), ("o-app", "app_crash",
                                    "resolved"), ("o-open", "wifi", "open")):  # fmt: skip
            session.add(
                OutageRecord(
                    id=oid, status=status, signal=signal, cohort={}, started_at=resolved,
                    detected_at=resolved, resolved_at=resolved if status == "resolved" else None,
                    affected_devices=2, exposed_devices=3, document={},
                    devices={"affected": affected}, updated_at=resolved,
                )
            )  # fmt: skip
    assert run_job(collector, resolved + timedelta(minutes=1)) == 1
    assert run_job(collector, resolved + timedelta(minutes=11)) == 0
    (survey,) = offered(collector, hit)
    assert survey["id"] == f"c{made['id']}-oo-wifi"
    assert survey["not_before"] == iso(resolved + timedelta(minutes=10))
    assert survey["expires_at"] == iso(resolved + timedelta(minutes=10, hours=24))
    assert offered(collector, spared) == [] and offered(collector, elsewhere) == []
    with collector.sessions() as session:
        (row,) = session.scalars(select(SurveyOfferRecord)).all()
        assert (row.outage_id, row.device_id) == ("o-wifi", uuid.UUID(hit.device_id))


# -- results ---------------------------------------------------------------------------------


def six_laptops_answered(
    collector: Collector, admin: dict[str, str], gent_rating: int | None
) -> tuple[dict[str, Any], str]:
    """Five laptops at brussels rate 5, 4, 4, 3, 2 with a comment each; the sixth, at gent,
    rates ``gent_rating`` (None: dismisses). The results URL."""
    laptops = [collector.enroll(f"laptop-{i}") for i in range(6)]
    sites = ["brussels"] * 5 + ["gent"]
    for device, site in zip(laptops, sites, strict=True):
        answer(collector, device, [], tags={"site": site, "department": "finance"})
    made = create(collector, admin, comment=True)
    assert collector.count("survey_offers") == 6
    survey_id = f"c{made['id']}-r1"
    for i, (device, site) in enumerate(zip(laptops, sites, strict=True)):
        value = [5, 4, 4, 3, 2, gent_rating][i]
        sample = (
            response_sample(survey_id, status="dismissed")
            if value is None
            else response_sample(survey_id, rating=value, comment=f"{site} {i}")
        )
        answer(collector, device, [sample], tags={"site": site, "department": "finance"})
    return made, f"/api/v1/surveys/{made['id']}/results"


def test_results_end_to_end_with_a_small_site_hidden(
    collector: Collector, admin: dict[str, str]
) -> None:
    made, url = six_laptops_answered(collector, admin, gent_rating=None)
    viewer = collector.api_key(Role.VIEWER)
    whole = collector.client.get(url, headers=viewer)
    assert whole.status_code == 200, whole.text
    body = whole.json()
    assert body["campaign"]["id"] == made["id"] and body["asked"] == 6
    assert body["overall"] == {
        "asked": 6, "answered": 5, "dismissed": 1, "expired": 0, "pending": 0,
        "response_rate": round(5 / 6, 4), "distribution": {"1": 0, "2": 1, "3": 1, "4": 2, "5": 1},
        "mean": 3.6,
    }  # fmt: skip
    assert (body["group_by"], body["groups"], body["hidden_groups"]) == (None, [], 0)
    assert sorted(body["comments"]) == [f"brussels {i}" for i in range(5)]
    by_site = collector.client.get(url, params={"group_by": "site"}, headers=viewer).json()
    assert by_site["hidden_groups"] == 1  # gent: asked once, no answer
    assert by_site["groups"] == [
        {"group": "brussels", **body["overall"], "asked": 5, "dismissed": 0,
         "response_rate": 1.0},
    ]  # fmt: skip
    assert sorted(by_site["comments"]) == [f"brussels {i}" for i in range(5)]


def test_results_end_to_end_hide_the_larger_site_too_when_it_would_reveal_the_smaller(
    collector: Collector, admin: dict[str, str]
) -> None:
    """brussels five answers, gent one: overall less brussels would be gent's answer, so
    both sites are hidden (and gent's comment with them); the overall line stays."""
    _, url = six_laptops_answered(collector, admin, gent_rating=1)
    viewer = collector.api_key(Role.VIEWER)
    by_site = collector.client.get(url, params={"group_by": "site"}, headers=viewer).json()
    assert by_site["overall"]["answered"] == 6 and by_site["overall"]["distribution"]["1"] == 1
    assert by_site["groups"] == [] and by_site["hidden_groups"] == 2
    assert by_site["comments"] == []
    by_department = collector.client.get(
        url, params={"group_by": "department"}, headers=viewer
    ).json()
    (finance,) = by_department["groups"]
    assert (finance["group"], finance["answered"], by_department["hidden_groups"]) == (
        "finance", 6, 0,
    )  # fmt: skip
    assert "gent 5" in by_department["comments"]


def test_results_under_five_answers_show_no_figures(
    collector: Collector, admin: dict[str, str]
) -> None:
    laptops = [collector.enroll(f"laptop-{i}") for i in range(4)]
    made = create(collector, admin, comment=True)
    run_job(collector)
    for device in laptops:
        answer(collector, device, [response_sample(f"c{made['id']}-r1", comment="meh")])
    viewer = collector.api_key(Role.VIEWER)
    body = collector.client.get(f"/api/v1/surveys/{made['id']}/results", headers=viewer).json()
    assert body["overall"] is None and body["comments"] == [] and body["asked"] == 4
