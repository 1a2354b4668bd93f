"""The tray app on pystray's dummy backend, with a fake local client and a fake UI: the menu in
each state, a survey becoming due (notification + dialog), holding back while the user is
busy, a service that is not running, and the ``dexpulse tray`` command."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dexpulse.agent.localclient import LocalApiError
from dexpulse.agent.tray import logic
from dexpulse.agent.tray.app import TrayApp, draw_icon
from dexpulse.agent.tray.logic import Action, MenuEntry, SurveyOffer

QUESTION = "How satisfied are you with your laptop's performance this week?"
OFFER = {
    "id": "s-1",
    "campaign_id": "c-1",
    "question": QUESTION,
    "answer": "rating",
    "comment": True,
    "anonymous": True,
    "expires_at": "2025-03-10T00:00:00Z",
}


class FakeClient:
    def __init__(self) -> None:
        self.connection = "connected"
        self.issues: list[str] = []
        self.offer: dict[str, Any] | None = None
        self.calls: list[tuple[Any, ...]] = []
        self.fail: dict[str, LocalApiError] = {}

    def _call(self, name: str, *args: Any) -> None:
        self.calls.append((name, *args))
        if name in self.fail:
            raise self.fail[name]

    def status(self) -> dict[str, Any]:
        self._call("status")
        return {
            "connection": self.connection,
            "issues": self.issues,
            "last_upload": None,
            "pending_surveys": int(self.offer is not None),
            "agent_version": "0.1.0",
        }

    def due(self) -> dict[str, Any] | None:
        self._call("due")
        return self.offer

    def shown(self, survey_id: str) -> None:
        self._call("shown", survey_id)

    def answer(
        self,
        survey_id: str,
        *,
        rating: int | None = None,
        yes_no: bool | None = None,
        comment: str | None = None,
    ) -> None:
        self._call("answer", survey_id, {"rating": rating, "yes_no": yes_no, "comment": comment})

    def snooze(self, survey_id: str) -> None:
        self._call("snooze", survey_id)

    def dismiss(self, survey_id: str) -> None:
        self._call("dismiss", survey_id)

    def feedback(self, rating: int, comment: str | None = None) -> None:
        self._call("feedback", rating, comment)

    def names(self) -> list[str]:
        return [call[0] for call in self.calls]


class FakeUi:
    def __init__(self) -> None:
        self.surveys: list[SurveyOffer] = []
        self.feedbacks = 0
        self.menus: list[tuple[Sequence[MenuEntry], Callable[[Action], None]]] = []
        self.on_close: Callable[[Any], None] | None = None
        self.raised = 0
        self.ticks: list[Callable[[], None]] = []
        self.quit_called = False

    def open_survey(self, offer: SurveyOffer, client: Any, on_close: Any) -> None:
        self.surveys.append(offer)
        self.on_close = on_close

    def open_feedback(self, client: Any, on_close: Any) -> None:
        self.feedbacks += 1
        self.on_close = on_close

    def raise_dialog(self) -> None:
        self.raised += 1

    def show_menu(self, entries: Sequence[MenuEntry], choose: Callable[[Action], None]) -> None:
        self.menus.append((entries, choose))

    def every(self, interval_s: float, fn: Callable[[], None]) -> None:
        self.ticks.append(fn)

    def run(self) -> None:
        raise AssertionError("not used")

    def quit(self) -> None:
        self.quit_called = True


@pytest.fixture
def dummy_icon(monkeypatch: pytest.MonkeyPatch) -> type[Any]:
    """An icon on pystray's dummy backend that records what the app does with it."""
    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")
    from pystray import _dummy

    class RecordingIcon(_dummy.Icon):  # type: ignore[misc]
        HAS_MENU = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.notifications: list[tuple[str, str]] = []
            self.menu_updates = 0
            self.stopped = False
            self._stop_event = threading.Event()

        def _notify(self, message: str, title: str | None = None) -> None:
            self.notifications.append((title or "", message))

        def _update_menu(self) -> None:
            self.menu_updates += 1

        def _update_icon(self) -> None:
            self._icon_valid = True

        def _update_title(self) -> None:
            pass

        def _show(self) -> None:
            pass

        def _hide(self) -> None:
            pass

        def _run(self) -> None:  # like a real backend: runs until stopped
            self._mark_ready()
            self._stop_event.wait(10)

        def _stop(self) -> None:
            self.stopped = True
            self._stop_event.set()

    return RecordingIcon


class Tray:
    """The app under test with its fakes and a clock the test moves."""

    def __init__(self, icon: type[Any], native_menu: bool = True) -> None:
        self.client = FakeClient()
        self.ui = FakeUi()
        self.busy: bool | None = False
        self.now = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
        self.connectable = True
        icon.HAS_MENU = native_menu
        self.app = TrayApp(
            self.connect,
            ui=self.ui,
            busy=lambda: self.busy,
            icon_factory=icon,
            clock=lambda: self.now,
        )

    def connect(self) -> FakeClient:
        if not self.connectable:
            raise LocalApiError(None, "the dexpulse agent is not running (no endpoint.json)")
        return self.client

    def menu(self) -> list[str]:
        return ["---" if item.text == "- - - -" else item.text for item in self.app.icon.menu]

    def item(self, prefix: str) -> Any:
        return next(i for i in self.app.icon.menu if i.text.startswith(prefix))


@pytest.fixture
def tray(dummy_icon: type[Any]) -> Iterator[Tray]:
    made = Tray(dummy_icon)
    yield made
    made.app.stop()


def test_menu_when_connected(tray: Tray) -> None:
    assert tray.app.poll_once() == "nothing"
    assert tray.menu() == ["Connected", "---", "Give feedback…", "---", "Quit"]
    assert not tray.item("Connected").enabled and tray.item("Give feedback").enabled
    assert tray.app.icon.title == "dexpulse — Connected"
    assert tray.app.icon.menu_updates >= 1


@pytest.mark.parametrize(
    ("connection", "issues", "line"),
    [
        ("offline", [], "Offline — data is kept and sent later"),
        ("connected", ["DNS lookups failing"], "Issues detected: DNS lookups failing"),
        ("not_enrolled", [], logic.STATUS_NOT_ENROLLED),
    ],
)
def test_menu_status_line(tray: Tray, connection: str, issues: list[str], line: str) -> None:
    tray.client.connection, tray.client.issues = connection, issues
    tray.app.poll_once()
    assert tray.menu()[0] == line
    assert tray.app.icon.title == f"dexpulse — {line}"


def test_a_due_survey_notifies_and_opens_the_dialog(tray: Tray) -> None:
    tray.client.offer = OFFER
    assert tray.app.poll_once() == "prompt"
    assert tray.client.calls[-1] == ("shown", "s-1")
    assert tray.app.icon.notifications == [("dexpulse: a quick question", QUESTION)]
    assert [offer.id for offer in tray.ui.surveys] == ["s-1"]
    assert tray.menu() == [
        "Connected",
        "---",
        "Answer survey: How satisfied are you with your…",
        "Give feedback…",
        "---",
        "Quit",
    ]
    # the service stops offering it once shown; the menu keeps it while the dialog is open
    tray.client.offer = None
    assert tray.app.poll_once() == "nothing"
    assert "Answer survey: How satisfied are you with your…" in tray.menu()
    tray.item("Answer survey")(tray.app.icon)  # a click while the dialog is open: raise it
    tray.app.pump()
    assert tray.ui.raised == 1 and len(tray.ui.surveys) == 1
    assert tray.ui.on_close is not None
    tray.ui.on_close("answered")
    assert tray.menu() == ["Connected", "---", "Give feedback…", "---", "Quit"]


def test_busy_holds_the_survey_back_without_telling_the_service(tray: Tray) -> None:
    tray.client.offer, tray.busy = OFFER, True
    assert tray.app.poll_once() == "hold_back"
    assert "shown" not in tray.client.names()
    assert tray.ui.surveys == [] and tray.app.icon.notifications == []
    assert tray.menu()[2].startswith("Answer survey: ")  # the user may still choose to answer
    tray.busy = None  # cannot tell (Wayland, macOS): the service's throttling decides
    assert tray.app.poll_once() == "prompt"
    assert tray.client.names().count("shown") == 1


def test_the_user_can_answer_from_the_menu_while_busy(tray: Tray) -> None:
    tray.client.offer, tray.busy = OFFER, True
    tray.app.poll_once()
    tray.item("Answer survey")(tray.app.icon)  # pystray calls this in its own thread
    assert tray.ui.surveys == []  # only queued so far
    tray.app.pump()
    assert [o.id for o in tray.ui.surveys] == ["s-1"] and ("shown", "s-1") in tray.client.calls
    assert tray.app.icon.notifications == []  # the user asked: no notification


def test_a_survey_closed_without_an_answer_is_not_prompted_again_soon(tray: Tray) -> None:
    tray.client.offer = OFFER
    tray.app.poll_once()
    assert tray.ui.on_close is not None
    tray.ui.on_close("cancelled")  # window closed and the snooze could not be sent
    tray.now += timedelta(hours=1)
    assert tray.app.poll_once() == "nothing"
    tray.now += logic.REPROMPT_AFTER
    assert tray.app.poll_once() == "prompt"
    assert tray.client.names().count("shown") == 2


def test_a_survey_the_service_no_longer_has_is_not_opened(tray: Tray) -> None:
    tray.client.offer = OFFER
    tray.client.fail["shown"] = LocalApiError(409, "survey s-1 is already answered")
    assert tray.app.poll_once() == "nothing"
    assert tray.ui.surveys == []
    assert not any(text.startswith("Answer survey") for text in tray.menu())


def test_service_not_running(tray: Tray) -> None:
    tray.connectable = False
    assert tray.app.poll_once() == "nothing"
    assert tray.menu()[0] == "Offline — the dexpulse service is not running"
    assert not tray.item("Give feedback").enabled
    tray.item("Give feedback")(tray.app.icon)
    tray.app.pump()
    assert tray.ui.feedbacks == 0
    # the service starts: the next poll finds it
    tray.connectable = True
    tray.app.poll_once()
    assert tray.menu()[0] == "Connected"


def test_service_stopping_mid_run_is_rediscovered(tray: Tray) -> None:
    tray.app.poll_once()
    tray.client.fail["status"] = LocalApiError(None, "connection refused")
    tray.app.poll_once()
    assert tray.menu()[0] == logic.STATUS_SERVICE_DOWN and tray.app.client is None
    del tray.client.fail["status"]
    tray.app.poll_once()
    assert tray.menu()[0] == "Connected"


def test_a_bug_in_the_client_does_not_kill_the_tray(tray: Tray) -> None:
    tray.client.fail["due"] = RuntimeError("unexpected")  # type: ignore[assignment]
    assert tray.app.poll_once() == "nothing"
    assert tray.menu()[0] == logic.STATUS_SERVICE_DOWN


def test_feedback_and_quit_from_the_menu(tray: Tray) -> None:
    tray.app.poll_once()
    tray.item("Give feedback")(tray.app.icon)
    tray.app.pump()
    assert tray.ui.feedbacks == 1
    tray.item("Quit")(tray.app.icon)
    tray.app.pump()
    assert tray.ui.quit_called and tray.app.icon.stopped is False  # never started


def test_without_a_native_menu_clicking_the_icon_opens_the_popup(dummy_icon: type[Any]) -> None:
    tray = Tray(dummy_icon, native_menu=False)
    tray.app.poll_once()
    assert tray.menu() == ["Connected", "---", "Give feedback…", "---", "Quit"]
    tray.app.icon()  # what pystray's X11 backend does on a left click
    tray.app.pump()
    entries, choose = tray.ui.menus[-1]
    assert [e.text for e in entries if e.visible and not e.separator] == [
        "Connected",
        "Give feedback…",
        "Quit",
    ]
    choose("feedback")
    assert tray.ui.feedbacks == 1


def test_the_icon_colour_follows_the_state(tray: Tray) -> None:
    tray.app.poll_once()
    assert tray.app.icon.icon.getpixel((32, 10))[:3] == (46, 157, 87)
    tray.client.offer = OFFER
    tray.app.poll_once()
    assert tray.app.icon.icon.getpixel((56, 8))[:3] == (37, 99, 235)  # the survey badge
    tray.connectable = False
    tray.client.fail["status"] = LocalApiError(None, "connection refused")
    tray.app.poll_once()
    assert tray.app.icon.icon.getpixel((32, 10))[:3] == (192, 57, 43)
    assert draw_icon("issues", False, 32).size == (32, 32)


def test_threads_start_poll_and_stop(tray: Tray) -> None:
    tray.app.poll_s = 0.05
    tray.app.start()
    deadline = time.monotonic() + 5
    while tray.client.names().count("status") < 3:
        assert time.monotonic() < deadline, "the poller did not poll"
        time.sleep(0.01)
    assert len(tray.ui.ticks) == 1
    tray.ui.ticks[0]()  # what the Tk loop does every 100 ms
    assert tray.menu()[0] == "Connected"
    tray.app.stop()
    assert tray.app.icon.stopped and tray.ui.quit_called
    assert tray.app._poller is not None and not tray.app._poller.is_alive()
    assert tray.app._icon_thread is not None and not tray.app._icon_thread.is_alive()


def test_the_tray_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from dexpulse.agent.cli import main
    from dexpulse.agent.tray import app

    seen: list[tuple[Path, float]] = []
    monkeypatch.setattr(app, "run_tray", lambda d, poll_s: seen.append((d, poll_s)) or 0)
    assert main(["tray", "--state-dir", str(tmp_path), "--poll-seconds", "5"]) == 0
    config = tmp_path / "agent.toml"
    config.write_text(f'state_dir = "{tmp_path / "state"}"\n', encoding="utf-8")
    assert main(["tray", "--config", str(config)]) == 0
    assert seen == [(tmp_path, 5.0), (tmp_path / "state", 60.0)]


def test_the_agent_does_not_import_gui_libraries() -> None:
    code = (
        "import sys, dexpulse.agent.service, dexpulse.agent.tray.app, dexpulse.agent.tray.logic;"
        "bad = {'pystray', 'PIL', 'tkinter'} & set(sys.modules); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
