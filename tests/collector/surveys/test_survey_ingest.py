"""Answers arriving in batches: the device's survey settled, the answer stored (anonymously
for anonymous campaigns, and then not among the device's samples), named answers scored as
sentiment, duplicates and strangers handled."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from support import Collector, Enrolled, make_batch, now
from survey_support import answer, create, offered, response_sample, run_job

from dexpulse.collector.models import SampleRow, SurveyAnswer, SurveyOfferRecord
from dexpulse.collector.scores.job import ScoringJob
from dexpulse.collector.scoring import ScoringConfig
from dexpulse.collector.security import Role

TAGS = {"site": "brussels", "department": "finance", "owner": "alice.martin"}
AGENT = {"version": "0.1.0", "os": "windows", "os_build": "26100", "model": "XPS 13"}


@pytest.fixture
def admin(collector: Collector) -> dict[str, str]:
    return collector.api_key(Role.ADMIN)


def surveyed(collector: Collector, admin: dict[str, str], **campaign: Any) -> tuple[Enrolled, str]:
    """An enrolled laptop, asked the survey of a new campaign; its survey id."""
    device = collector.enroll()
    made = create(collector, admin, **campaign)
    assert run_job(collector) == 0  # put when the campaign was created
    (survey,) = offered(collector, device)
    assert survey["id"] == f"c{made['id']}-r1"
    return device, survey["id"]


def answers(collector: Collector) -> list[SurveyAnswer]:
    with collector.sessions() as session:
        return list(session.scalars(select(SurveyAnswer).order_by(SurveyAnswer.id)))


def offer_status(collector: Collector, survey_id: str) -> str:
    with collector.sessions() as session:
        return session.scalars(
            select(SurveyOfferRecord.status).where(SurveyOfferRecord.survey_id == survey_id)
        ).one()


def kinds(collector: Collector) -> list[str]:
    with collector.sessions() as session:
        return list(session.scalars(select(SampleRow.kind).order_by(SampleRow.id)))


def device_score(collector: Collector, device: Enrolled) -> dict[str, Any]:
    """The device's score over the last week once the scoring job has run."""
    run = ScoringJob(collector.sessions, ScoringConfig(), day_slots=1).run(
        now() + timedelta(minutes=5)
    )
    assert run is not None and run.samples > 0
    viewer = collector.api_key(Role.VIEWER)
    response = collector.client.get(f"/api/v1/scores/devices/{device.device_id}", headers=viewer)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_named_answer_is_stored_with_its_device_and_scored_as_sentiment(
    collector: Collector, admin: dict[str, str]
) -> None:
    device, survey_id = surveyed(collector, admin, comment=True)
    at = now()
    reply = answer(
        collector, device,
        [response_sample(survey_id, at, rating=5, comment="fast today")],
        tags=TAGS, agent=AGENT,
    )  # fmt: skip
    assert reply["accepted"] == 1
    (stored,) = answers(collector)
    assert stored.device_id == uuid.UUID(device.device_id)
    assert abs(stored.answered_on - at) < timedelta(milliseconds=1)
    assert (stored.rating, stored.yes_no, stored.comment) == (5, None, "fast today")
    assert stored.survey_id == survey_id
    assert stored.groups == {**TAGS, "model": "XPS 13", "os": "windows"}
    assert offer_status(collector, survey_id) == "answered"
    with collector.sessions() as session:
        (sample,) = session.scalars(select(SampleRow)).all()
        assert sample.kind == "survey_response" and sample.data["rating"] == 5
        assert sample.device_id == uuid.UUID(device.device_id)
    score = device_score(collector, device)
    assert score["components"]["sentiment"] == 100.0  # a 5 of 5
    assert score["score"] is not None


def test_an_anonymous_answer_keeps_no_device_no_time_of_day_and_no_sample(
    collector: Collector, admin: dict[str, str]
) -> None:
    device, survey_id = surveyed(collector, admin, anonymous=True, comment=True)
    at = now() - timedelta(minutes=3)
    wifi = {"kind": "wifi", "ts": at.isoformat(), "ssid": "corp", "rssi_dbm": -60}
    # the agent's sample says anonymous=false: the campaign's flag decides
    reply = answer(
        collector, device,
        [wifi, response_sample(survey_id, at, rating=2, comment="slow", anonymous=False)],
        tags=TAGS, agent=AGENT,
    )  # fmt: skip
    assert reply["accepted"] == 2
    (stored,) = answers(collector)
    assert stored.device_id is None
    assert stored.survey_id == survey_id.split("-")[0]  # the campaign, not the round
    assert stored.answered_on == datetime(at.year, at.month, at.day, tzinfo=UTC)
    assert stored.groups == {
        "site": "brussels", "department": "finance", "model": "XPS 13", "os": "windows",
    }  # fmt: skip
    assert (stored.rating, stored.comment) == (2, "slow")
    assert offer_status(collector, survey_id) == "answered"
    assert kinds(collector) == ["wifi"]  # the answer is not among the device's samples
    assert "sentiment" not in device_score(collector, device)["components"]


def test_an_answer_marked_anonymous_by_the_agent_is_kept_anonymous_too(
    collector: Collector, admin: dict[str, str]
) -> None:
    device, survey_id = surveyed(collector, admin)
    answer(collector, device, [response_sample(survey_id, anonymous=True)], tags=TAGS)
    (stored,) = answers(collector)
    assert stored.device_id is None and "owner" not in stored.groups
    assert kinds(collector) == []


@pytest.mark.parametrize("status", ["dismissed", "expired"])
def test_a_survey_dismissed_or_expired_is_settled_without_an_answer(
    collector: Collector, admin: dict[str, str], status: str
) -> None:
    device, survey_id = surveyed(collector, admin)
    reply = answer(collector, device, [response_sample(survey_id, status=status)])
    assert reply["accepted"] == 1
    assert offer_status(collector, survey_id) == status
    assert answers(collector) == []
    assert offered(collector, device) == []


def test_an_answer_after_a_dismissal_does_not_count(
    collector: Collector, admin: dict[str, str]
) -> None:
    device, survey_id = surveyed(collector, admin)
    answer(collector, device, [response_sample(survey_id, status="dismissed")])
    answer(collector, device, [response_sample(survey_id, rating=1)])
    assert answers(collector) == [] and offer_status(collector, survey_id) == "dismissed"


def test_a_batch_delivered_twice_stores_its_answer_once(
    collector: Collector, admin: dict[str, str]
) -> None:
    device, survey_id = surveyed(collector, admin, anonymous=True)
    batch = make_batch(device.device_id, [response_sample(survey_id, rating=3)])
    first, second = collector.post(device, batch), collector.post(device, batch)
    assert first.status_code == second.status_code == 200
    assert (first.json()["duplicate"], second.json()["duplicate"]) == (False, True)
    assert len(answers(collector)) == 1
    # the agent sending the answer again in another batch: still one answer
    answer(collector, device, [response_sample(survey_id, rating=3)])
    assert len(answers(collector)) == 1


def test_two_answers_to_one_survey_in_a_batch_count_once(
    collector: Collector, admin: dict[str, str]
) -> None:
    device, survey_id = surveyed(collector, admin)
    answer(collector, device, [response_sample(survey_id, rating=3),
                               response_sample(survey_id, rating=5)])  # fmt: skip
    assert [a.rating for a in answers(collector)] == [3]
    assert kinds(collector) == ["survey_response"]  # nor twice in the device's sentiment
    answer(collector, device, [response_sample(survey_id, rating=1)])  # re-sent later
    assert kinds(collector) == ["survey_response"] and len(answers(collector)) == 1


def test_an_answer_to_an_unknown_survey_is_an_ordinary_sample(
    collector: Collector, admin: dict[str, str]
) -> None:
    device, survey_id = surveyed(collector, admin)
    wifi = {"kind": "wifi", "ts": now().isoformat(), "ssid": "corp", "rssi_dbm": -60}
    samples = [response_sample("feedback", rating=2), response_sample("c999-r1"), wifi]
    reply = answer(collector, device, samples)
    assert reply["accepted"] == 3 and reply["dropped"] == {}
    assert kinds(collector) == ["survey_response", "survey_response", "wifi"]
    assert answers(collector) == []
    assert offer_status(collector, survey_id) == "pending"


def test_another_devices_survey_is_not_settled_by_this_one(
    collector: Collector, admin: dict[str, str]
) -> None:
    device, survey_id = surveyed(collector, admin)
    stranger = collector.enroll("laptop-2")  # enrolled after the job ran: not asked
    answer(collector, stranger, [response_sample(survey_id, rating=1)])
    assert answers(collector) == [] and offer_status(collector, survey_id) == "pending"
    assert kinds(collector) == ["survey_response"]


def test_an_answer_to_an_anonymous_campaign_without_a_survey_is_not_kept_with_the_device(
    collector: Collector, admin: dict[str, str]
) -> None:
    """E.g. a laptop enrolled again, answering what its old identity was asked: no survey
    of this device matches, but the campaign is anonymous all the same."""
    _, survey_id = surveyed(collector, admin, anonymous=True)
    again = collector.enroll("laptop-again")
    reply = answer(collector, again, [response_sample(survey_id, rating=1)])
    assert reply["accepted"] == 1
    assert kinds(collector) == [] and answers(collector) == []


def test_an_answer_given_in_time_counts_even_when_it_arrives_after_the_expiry(
    collector: Collector, admin: dict[str, str]
) -> None:
    """The agent spools answers while offline: the job may expire the survey first."""
    device, survey_id = surveyed(collector, admin, respond_within_h=1)
    given = now()
    run_job(collector, given + timedelta(hours=2))
    assert offer_status(collector, survey_id) == "expired"
    answer(collector, device, [response_sample(survey_id, given, rating=4)])
    assert offer_status(collector, survey_id) == "answered"
    assert [a.rating for a in answers(collector)] == [4]


def test_an_answer_given_after_the_expiry_does_not_count(
    collector: Collector, admin: dict[str, str]
) -> None:
    device, survey_id = surveyed(collector, admin, respond_within_h=1)
    with collector.sessions.begin() as session:  # expired a minute ago
        offer = session.scalars(select(SurveyOfferRecord)).one()
        offer.expires_at = now() - timedelta(minutes=1)
    run_job(collector)
    answer(collector, device, [response_sample(survey_id, rating=4)])
    assert offer_status(collector, survey_id) == "expired" and answers(collector) == []


def test_survey_ids_that_only_look_like_a_campaign_are_ordinary_samples(
    collector: Collector, admin: dict[str, str]
) -> None:
    device, _ = surveyed(collector, admin)
    odd = ["c\u00b2-r1", "c" + "9" * 25 + "-r1", "c12", "feedback"]  # superscript two, overflow
    reply = answer(collector, device, [response_sample(i) for i in odd], tags=TAGS)
    assert reply["accepted"] == 4 and answers(collector) == []
    assert kinds(collector) == ["survey_response"] * 4


def test_an_answer_given_after_the_campaign_ended_is_not_counted(
    collector: Collector, admin: dict[str, str]
) -> None:
    device, survey_id = surveyed(collector, admin)
    campaign = survey_id.split("-")[0][1:]
    ended = collector.client.post(f"/api/v1/surveys/{campaign}/end", headers=admin)
    assert ended.status_code == 200
    later = now() + timedelta(minutes=1)  # the laptop was offline and still had it cached
    answer(collector, device, [response_sample(survey_id, later)], tags=TAGS)
    assert answers(collector) == [] and offer_status(collector, survey_id) == "expired"
