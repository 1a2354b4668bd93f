"""The agent's survey desk: offers from check-in, throttling on its clock, answers in the spool."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dexpulse.agent.config import SurveysConfig
from dexpulse.agent.desk import DeskError
from dexpulse.agent.spool import Spool
from dexpulse.agent.state import StateStore
from dexpulse.agent.surveydesk import SurveyDesk, rules_of
from dexpulse.schema.checkin import SurveyOffer

MONDAY_10 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def offer(survey_id: str = "c1-r1", **kw: Any) -> SurveyOffer:
    fields: dict[str, Any] = {
        "id": survey_id,
        "campaign_id": "1",
        "question": "How was your laptop today?",
        "answer": "rating",
        "comment": True,
        "anonymous": False,
        "not_before": MONDAY_10 - timedelta(hours=1),
        "expires_at": MONDAY_10 + timedelta(days=3),
    }
    fields.update(kw)
    return SurveyOffer.model_validate(fields)


def make_desk(tmp_path: Path, clock: Clock) -> tuple[SurveyDesk, Spool]:
    spool = Spool(tmp_path / "spool.db")
    desk = SurveyDesk(
        StateStore(tmp_path / "state"),
        spool,
        rules_of(SurveysConfig()),
        clock=clock,
        status=lambda: {"connection": "connected", "issues": []},
        local_time=lambda now: now.replace(tzinfo=None),  # the test's zone is UTC
    )
    return desk, spool


def test_answer_goes_to_the_spool_and_closes_the_survey(tmp_path: Path) -> None:
    clock = Clock(MONDAY_10)
    desk, spool = make_desk(tmp_path, clock)
    desk.set_offers([offer()])
    due = desk.due()
    assert due is not None and due.id == "c1-r1"
    assert desk.status()["pending_surveys"] == 1
    desk.shown("c1-r1")
    desk.answer("c1-r1", 4, None, "  dock keeps dropping  ")
    [sample] = spool.pending_samples()
    assert sample["kind"] == "survey_response" and sample["survey_id"] == "c1-r1"
    assert sample["rating"] == 4 and sample["comment"] == "dock keeps dropping"
    assert sample["status"] == "answered" and sample["anonymous"] is False
    assert desk.due() is None and desk.status()["pending_surveys"] == 0
    with pytest.raises(DeskError) as again:
        desk.answer("c1-r1", 5, None, None)
    assert again.value.status == 409


def test_state_survives_a_restart(tmp_path: Path) -> None:
    clock = Clock(MONDAY_10)
    desk, spool = make_desk(tmp_path, clock)
    desk.set_offers([offer(), offer("c2-r1", campaign_id="2")])
    desk.shown("c1-r1")
    desk.snooze("c1-r1")
    spool.close()
    clock.at += timedelta(hours=2)
    again, _ = make_desk(tmp_path, clock)
    again.set_offers([offer(), offer("c2-r1", campaign_id="2")])
    assert again.due() is None  # one prompt a day: the other survey waits too
    clock.at = MONDAY_10 + timedelta(hours=24)
    due = again.due()
    assert due is not None and due.id == "c1-r1"  # the snoozed one, its 12 h long over


def test_answers_must_fit_the_question(tmp_path: Path) -> None:
    desk, spool = make_desk(tmp_path, Clock(MONDAY_10))
    desk.set_offers([offer(), offer("c2-r1", answer="yes_no", comment=False)])
    for args, status in [
        (("c1-r1", None, True, None), 422),
        (("c1-r1", None, None, None), 422),
        (("c2-r1", 3, None, None), 422),
        (("c2-r1", None, True, "why"), 422),
        (("nope", 3, None, None), 404),
    ]:
        with pytest.raises(DeskError) as refused:
            desk.answer(*args)
        assert refused.value.status == status, args
    assert spool.pending_samples() == []
    desk.answer("c2-r1", None, False, None)
    assert spool.pending_samples()[0]["yes_no"] is False


def test_dismiss_expiry_and_feedback_are_reported(tmp_path: Path) -> None:
    clock = Clock(MONDAY_10)
    desk, spool = make_desk(tmp_path, clock)
    short = offer("c3-r1", expires_at=MONDAY_10 + timedelta(hours=1), anonymous=True)
    desk.set_offers([offer(), short])
    desk.dismiss("c1-r1")
    clock.at += timedelta(hours=2)
    desk.sweep()
    desk.feedback(2, "wifi in room 4 is awful")
    with pytest.raises(DeskError):
        desk.feedback(6, None)
    with pytest.raises(DeskError) as again:
        desk.feedback(1, "and again")  # one an hour
    assert again.value.status == 429
    got = [(s["survey_id"], s["status"], s.get("anonymous")) for s in spool.pending_samples()]
    assert got == [
        ("c1-r1", "dismissed", False),
        ("c3-r1", "expired", True),
        ("feedback", "answered", False),
    ]
    desk.sweep()  # reported once
    assert len(spool.pending_samples()) == 3


def test_quiet_hours_follow_local_time(tmp_path: Path) -> None:
    clock = Clock(MONDAY_10.replace(hour=19))
    desk, _ = make_desk(tmp_path, clock)
    desk.set_offers([offer()])
    assert desk.due() is None
    clock.at = MONDAY_10 + timedelta(days=5)  # Saturday
    assert desk.due() is None


def test_a_damaged_state_file_starts_afresh(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "surveys.json").write_text('{"version": 99}')
    desk, _ = make_desk(tmp_path, Clock(MONDAY_10))
    desk.set_offers([offer()])
    assert desk.due() is not None


def test_an_expired_survey_refuses_a_late_answer(tmp_path: Path) -> None:
    clock = Clock(MONDAY_10)
    desk, spool = make_desk(tmp_path, clock)
    desk.set_offers([offer(expires_at=MONDAY_10 + timedelta(hours=1))])
    desk.shown("c1-r1")
    clock.at += timedelta(hours=2)  # the dialog stayed open past the deadline
    with pytest.raises(DeskError) as late:
        desk.answer("c1-r1", 4, None, None)
    assert late.value.status == 409 and spool.pending_samples() == []


def test_two_trays_showing_one_survey_count_one_prompt(tmp_path: Path) -> None:
    clock = Clock(MONDAY_10)
    desk, _ = make_desk(tmp_path, clock)
    desk.set_offers([offer()])
    desk.shown("c1-r1")
    clock.at += timedelta(minutes=1)
    desk.shown("c1-r1")
    stored = StateStore(tmp_path / "state").load("surveys")
    assert stored["shows"] == {"c1-r1": 1}


def test_local_time_is_the_machine_zone_without_tzinfo() -> None:
    from dexpulse.agent.surveydesk import _local

    at = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    local = _local(at)
    assert local.tzinfo is None
    assert local == at.astimezone().replace(tzinfo=None)
