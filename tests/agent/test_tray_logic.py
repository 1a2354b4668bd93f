"""The tray's pure rules: status wording, menu, when to prompt, answer validation; and the
per-OS "is the user busy?" backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakehost import Machine

from dexpulse.agent.localclient import LocalApiError
from dexpulse.agent.platform._linux import busy as linux_busy
from dexpulse.agent.platform._macos import busy as macos_busy
from dexpulse.agent.platform._windows import busy as windows_busy
from dexpulse.agent.tray import logic
from dexpulse.agent.tray.logic import (
    InvalidAnswer,
    SurveyOffer,
    TrayView,
    decide,
    menu_model,
    parse_offer,
    status_line,
    validate_answer,
    validate_feedback,
)

NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
RAW_OFFER = {
    "id": "s-1",
    "campaign_id": "c-1",
    "question": "How satisfied are you with your laptop's performance this week?",
    "answer": "rating",
    "comment": True,
    "anonymous": True,
    "expires_at": "2025-03-10T00:00:00Z",
}


def offer(**changes: object) -> SurveyOffer:
    return parse_offer({**RAW_OFFER, **changes})


def status(connection: str = "connected", issues: list[str] | None = None) -> dict[str, object]:
    return {
        "connection": connection,
        "issues": issues or [],
        "last_upload": None,
        "pending_surveys": 0,
        "agent_version": "0.1.0",
    }


@pytest.mark.parametrize(
    ("view", "line", "tone"),
    [
        (TrayView(status()), "Connected", "connected"),
        (TrayView(status("offline")), "Offline — data is kept and sent later", "offline"),
        (
            TrayView(status(issues=["DNS failing", "disk almost full"])),
            "Issues detected: DNS failing, disk almost full",
            "issues",
        ),
        (TrayView(status("offline", ["DNS failing"])), logic.STATUS_OFFLINE, "offline"),
        (TrayView(status("not_enrolled")), logic.STATUS_NOT_ENROLLED, "not_enrolled"),
        (TrayView(None), "Offline — the dexpulse service is not running", "down"),
        (TrayView(None, failure=500), logic.STATUS_SERVICE_ERROR, "down"),
    ],
)
def test_status_line_and_tone(view: TrayView, line: str, tone: str) -> None:
    assert status_line(view) == line
    assert logic.tone(view) == tone


def test_a_long_issue_list_is_cut() -> None:
    line = status_line(TrayView(status(issues=["x" * 50, "y" * 50])))
    assert line == "Issues detected: " + "x" * 50 + "…"
    assert logic.shorten("a" * 70, 60) == "a" * 59 + "…"


def texts(entries: tuple[logic.MenuEntry, ...]) -> list[str]:
    return ["---" if e.separator else e.text for e in entries if e.visible]


def test_menu_without_a_survey() -> None:
    entries = menu_model(TrayView(status()), native_menu=True)
    assert texts(entries) == ["Connected", "---", "Give feedback…", "---", "Quit"]
    assert [e.enabled for e in entries if not e.separator] == [False, True, True]
    assert not any(e.default for e in entries)


def test_menu_with_a_due_survey_cuts_the_question() -> None:
    entries = menu_model(TrayView(status(), offer=offer()), native_menu=True)
    assert texts(entries)[2] == "Answer survey: How satisfied are you with your…"
    assert entries[2].action == "survey" and entries[2].enabled


def test_menu_when_the_service_is_down_offers_no_feedback() -> None:
    entries = menu_model(TrayView(None), native_menu=True)
    feedback = next(e for e in entries if e.action == "feedback")
    assert not feedback.enabled
    assert texts(entries)[0] == logic.STATUS_SERVICE_DOWN


def test_without_a_native_menu_a_hidden_default_entry_opens_the_popup() -> None:
    entries = menu_model(TrayView(status()), native_menu=False)
    hidden = [e for e in entries if not e.visible]
    assert len(hidden) == 1 and hidden[0].default and hidden[0].action == "open_menu"
    assert texts(entries) == texts(menu_model(TrayView(status()), native_menu=True))


def test_decide() -> None:
    due = offer()
    assert decide(None, False, dialog_open=False, prompted={}, now=NOW) == "nothing"
    assert decide(due, False, dialog_open=False, prompted={}, now=NOW) == "prompt"
    assert decide(due, None, dialog_open=False, prompted={}, now=NOW) == "prompt"
    assert decide(due, True, dialog_open=False, prompted={}, now=NOW) == "hold_back"
    assert decide(due, False, dialog_open=True, prompted={}, now=NOW) == "nothing"
    recently = {due.id: NOW - timedelta(hours=11, minutes=59)}
    assert decide(due, False, dialog_open=False, prompted=recently, now=NOW) == "nothing"
    long_ago = {due.id: NOW - logic.REPROMPT_AFTER}
    assert decide(due, False, dialog_open=False, prompted=long_ago, now=NOW) == "prompt"


def test_parse_offer() -> None:
    parsed = offer()
    assert parsed.expires_at == datetime(2025, 3, 10, tzinfo=UTC)
    assert (parsed.answer, parsed.comment, parsed.anonymous) == ("rating", True, True)
    for bad in ({"answer": "essay"}, {"id": ""}, {"question": "  "}, {"expires_at": "2025-03-10"}):
        with pytest.raises(ValueError):
            parse_offer({**RAW_OFFER, **bad})


def test_validate_rating_answers() -> None:
    rating = offer()
    assert validate_answer(rating, 4, None, "  slow at 9am \n") == logic.Answer(
        4, None, "slow at 9am"
    )
    assert validate_answer(rating, 5, None, "   ") == logic.Answer(5, None, None)
    for bad in (None, 0, 6, True):
        with pytest.raises(InvalidAnswer, match="rating from 1 to 5"):
            validate_answer(rating, bad, None, None)  # type: ignore[arg-type]
    with pytest.raises(InvalidAnswer, match="too long"):
        validate_answer(rating, 3, None, "x" * (logic.COMMENT_MAX + 1))
    no_comment = offer(comment=False)
    assert validate_answer(no_comment, 2, None, "ignored").comment is None


def test_validate_yes_no_and_feedback() -> None:
    yes_no = offer(answer="yes_no")
    assert validate_answer(yes_no, None, False, None) == logic.Answer(None, False, None)
    with pytest.raises(InvalidAnswer, match="Yes or No"):
        validate_answer(yes_no, 4, None, None)
    assert validate_feedback(3, " ok ") == logic.Answer(3, None, "ok")
    with pytest.raises(InvalidAnswer):
        validate_feedback(None, "no rating")


def test_failure_texts_and_error_status() -> None:
    assert logic.failure_text(None, "down") == (
        "The dexpulse service is not running; please try again later.",
        False,
    )
    assert logic.failure_text(409, "closed")[1] is True
    assert logic.failure_text(404, "unknown")[1] is True
    assert "not accepted" in logic.failure_text(422, "rating for a yes/no question")[0]
    assert logic.error_status(LocalApiError(None, "no endpoint file")) == (None, "no endpoint file")
    assert logic.error_status(LocalApiError(409, "answered")) == (409, "answered")
    assert logic.error_status(RuntimeError("boom")) == (None, "boom")


def test_anonymity_and_notification_wording() -> None:
    assert logic.anonymity_line(True).startswith("Anonymous")
    assert logic.anonymity_line(False).startswith("Not anonymous")
    title, message = logic.notification(offer())
    assert title == "dexpulse: a quick question" and message == RAW_OFFER["question"]


# -- is the user busy? ----------------------------------------------------------------------

X11 = {"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}
ACTIVE = "_NET_ACTIVE_WINDOW(WINDOW): window id # 0x3a00007\n"


def test_linux_busy_reads_the_active_windows_state(machine: Machine) -> None:
    machine.answer(linux_busy.ACTIVE_WINDOW, ACTIVE)
    argv = linux_busy.state_argv("0x3a00007")
    machine.answer(argv, "_NET_WM_STATE(ATOM) = _NET_WM_STATE_FULLSCREEN, _NET_WM_STATE_FOCUSED\n")
    assert linux_busy.user_busy(machine.host, X11) is True
    machine.answer(argv, "_NET_WM_STATE(ATOM) = _NET_WM_STATE_MAXIMIZED_VERT\n")
    assert linux_busy.user_busy(machine.host, X11) is False
    machine.answer(argv, "_NET_WM_STATE:  not found.\n")
    assert linux_busy.user_busy(machine.host, X11) is False
    machine.answer(argv, "", rc=1, stderr="X Error: BadWindow")  # closed in between
    assert linux_busy.user_busy(machine.host, X11) is None
    assert machine.calls[:2] == [linux_busy.ACTIVE_WINDOW, argv]


def test_linux_busy_when_it_cannot_tell(machine: Machine) -> None:
    assert linux_busy.user_busy(machine.host, X11) is None  # no xprop
    machine.answer(linux_busy.ACTIVE_WINDOW, "_NET_ACTIVE_WINDOW:  not found.\n")
    assert linux_busy.user_busy(machine.host, X11) is None  # no EWMH window manager
    machine.answer(linux_busy.ACTIVE_WINDOW, "_NET_ACTIVE_WINDOW(WINDOW): window id # 0x0\n")
    assert linux_busy.user_busy(machine.host, X11) is False  # nothing focused
    calls = len(machine.calls)
    assert linux_busy.user_busy(machine.host, {}) is None
    assert linux_busy.user_busy(machine.host, {**X11, "XDG_SESSION_TYPE": "wayland"}) is None
    assert linux_busy.user_busy(machine.host, {**X11, "WAYLAND_DISPLAY": "wayland-0"}) is None
    assert len(machine.calls) == calls  # nothing run where nothing can be learnt


def test_windows_busy_states(machine: Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    w = windows_busy
    for state in (w.QUNS_BUSY, w.QUNS_RUNNING_D3D_FULL_SCREEN, w.QUNS_PRESENTATION_MODE):
        assert w.state_busy(state) is True
    assert w.state_busy(w.QUNS_QUIET_TIME) is True
    assert w.state_busy(w.QUNS_NOT_PRESENT) is True
    assert w.state_busy(w.QUNS_ACCEPTS_NOTIFICATIONS) is False
    assert w.state_busy(w.QUNS_APP) is False
    assert w.state_busy(None) is None and w.state_busy(99) is None
    assert w.user_busy(machine.host) is None  # not on Windows: the shell call is not made
    monkeypatch.setattr(w, "QUERY", lambda: w.QUNS_PRESENTATION_MODE)
    assert w.user_busy(machine.host) is True


def test_macos_busy_cannot_tell(machine: Machine) -> None:
    assert macos_busy.user_busy(machine.host) is None
    assert machine.calls == []


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)
