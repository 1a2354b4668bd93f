"""The real Tk survey and feedback dialogs, and the tray's popup menu, on a private X server.

Clicks and typing are real X input through xdotool when it is installed (``widget.invoke()``
and ``Text.insert`` otherwise). Screenshots of the dialog and the menu are saved for people
to look at (see ``tests/xvfb.py``). Skipped without Xvfb unless DEXPULSE_REQUIRE_XVFB=1.
"""

from __future__ import annotations

from typing import Any

from xvfb import HAVE_XDOTOOL, click, screenshot, wait_for, xdotool

from dexpulse.agent.localclient import LocalApiError
from dexpulse.agent.tray.logic import SurveyOffer, parse_offer

QUESTION = "How satisfied are you with your laptop's performance this week?"
COMMENT = "Video calls freeze 2x a day"


def offer(**changes: object) -> SurveyOffer:
    raw = {
        "id": "s-1",
        "campaign_id": "c-1",
        "question": QUESTION,
        "answer": "rating",
        "comment": True,
        "anonymous": True,
        "expires_at": "2025-03-10T00:00:00Z",
    }
    return parse_offer({**raw, **changes})


class FakeClient:
    def __init__(self, due: dict[str, Any] | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.fail: dict[str, LocalApiError] = {}
        self.offer = due

    def _call(self, *call: Any) -> None:
        if call[0] in self.fail:
            raise self.fail[call[0]]
        self.calls.append(call)

    def status(self) -> dict[str, Any]:
        return {"connection": "connected", "issues": [], "last_upload": None,
                "pending_surveys": 1, "agent_version": "0.1.0"}  # fmt: skip

    def due(self) -> dict[str, Any] | None:
        return self.offer

    def shown(self, survey_id: str) -> None:
        self._call("shown", survey_id)
        self.offer = None  # the service's throttle: not due again today

    def answer(self, survey_id: str, **answer: Any) -> None:
        self._call("answer", survey_id, answer)

    def snooze(self, survey_id: str) -> None:
        self._call("snooze", survey_id)

    def dismiss(self, survey_id: str) -> None:
        self._call("dismiss", survey_id)

    def feedback(self, rating: int, comment: str | None = None) -> None:
        self._call("feedback", rating, comment)


def press(root: Any, widget: Any) -> None:
    """A real click on ``widget`` (or ``invoke()`` without xdotool), then let Tk catch up."""
    if HAVE_XDOTOOL:
        click(widget)
    else:
        widget.invoke()
    root.update()


def type_into(root: Any, box: Any, text: str) -> None:
    if HAVE_XDOTOOL:
        click(box)
        xdotool("type", "--delay", "1", text)
    else:
        box.insert("end", text)
    wait_for(root, lambda: box.get("1.0", "end-1c") == text)


def key(root: Any, window: Any, name: str) -> None:
    window.focus_force()
    root.update()
    xdotool("key", name)


def survey(root: Any, client: FakeClient, **changes: object) -> tuple[Any, list[str]]:
    from dexpulse.agent.tray.dialog import SurveyDialog

    outcomes: list[str] = []
    dialog = SurveyDialog(root, offer(**changes), client, outcomes.append)
    wait_for(root, lambda: dialog.window.winfo_viewable())
    return dialog, outcomes


def test_rating_and_comment_by_real_input(tk_root: Any) -> None:
    client = FakeClient()
    dialog, outcomes = survey(tk_root, client)
    assert dialog.anonymity_label.cget("text").startswith("Anonymous")
    assert dialog.rating_buttons[1].cget("text") == "1\nVery poor"
    assert dialog.rating_buttons[5].cget("text") == "5\nExcellent"
    press(tk_root, dialog.rating_buttons[4])
    wait_for(tk_root, lambda: dialog.rating.get() == 4)
    type_into(tk_root, dialog.comment_box, COMMENT)
    assert dialog.rating.get() == 4  # the "2" typed into the comment is not a rating
    screenshot("survey-dialog.png")
    press(tk_root, dialog.submit_button)
    wait_for(tk_root, lambda: outcomes == ["answered"])
    assert client.calls == [
        ("answer", "s-1", {"rating": 4, "yes_no": None, "comment": COMMENT}),
    ]
    assert not dialog.window.winfo_exists()


def test_yes_no_by_keyboard(tk_root: Any) -> None:
    client = FakeClient()
    dialog, outcomes = survey(tk_root, client, answer="yes_no", comment=False, anonymous=False)
    assert dialog.comment_box is None and dialog.rating_buttons == {}
    assert dialog.anonymity_label.cget("text").startswith("Not anonymous")
    if HAVE_XDOTOOL:
        key(tk_root, dialog.window, "n")
        wait_for(tk_root, lambda: dialog.yes_no.get() == "no")
        key(tk_root, dialog.window, "Return")
    else:
        dialog.choose_yes_no(False)
        dialog.submit()
    wait_for(tk_root, lambda: outcomes == ["answered"])
    assert client.calls == [("answer", "s-1", {"rating": None, "yes_no": False, "comment": None})]


def test_remind_me_later_dismiss_and_closing_the_window(tk_root: Any) -> None:
    client = FakeClient()
    later, later_outcomes = survey(tk_root, client)
    press(tk_root, later.later_button)
    wait_for(tk_root, lambda: later_outcomes == ["snoozed"])
    dismissed, dismissed_outcomes = survey(tk_root, client, id="s-2")
    press(tk_root, dismissed.dismiss_button)
    wait_for(tk_root, lambda: dismissed_outcomes == ["dismissed"])
    closed, closed_outcomes = survey(tk_root, client, id="s-3")
    closed.window.tk.call(closed.window.protocol("WM_DELETE_WINDOW"))  # the title bar's X
    assert closed_outcomes == ["snoozed"]
    assert client.calls == [("snooze", "s-1"), ("dismiss", "s-2"), ("snooze", "s-3")]


def test_submit_without_an_answer_says_why(tk_root: Any) -> None:
    client = FakeClient()
    dialog, outcomes = survey(tk_root, client)
    press(tk_root, dialog.submit_button)
    assert dialog.message_label.cget("text") == "Choose a rating from 1 to 5."
    assert client.calls == [] and outcomes == [] and dialog.window.winfo_exists()


def test_service_down_then_survey_gone(tk_root: Any) -> None:
    client = FakeClient()
    dialog, outcomes = survey(tk_root, client)
    dialog.choose_rating(3)
    client.fail["answer"] = LocalApiError(None, "connection refused")
    assert dialog.submit() is False
    assert dialog.message_label.cget("text").startswith("The dexpulse service is not running")
    assert dialog.window.winfo_exists() and outcomes == []
    client.fail["answer"] = LocalApiError(409, "survey s-1 has expired")
    assert dialog.submit() is False
    assert dialog.message_label.cget("text").startswith("This survey is no longer open")
    assert str(dialog.submit_button.cget("state")) == "disabled"
    assert dialog.dismiss_button.cget("text") == "Close"
    press(tk_root, dialog.dismiss_button)
    wait_for(tk_root, lambda: outcomes == ["gone"])
    assert client.calls == []


def test_feedback_dialog(tk_root: Any) -> None:
    from dexpulse.agent.tray.dialog import FeedbackDialog

    client = FakeClient()
    outcomes: list[str] = []
    dialog = FeedbackDialog(tk_root, client, outcomes.append)
    wait_for(tk_root, lambda: dialog.window.winfo_viewable())
    assert dialog.anonymity_label.cget("text").startswith("Not anonymous")  # it is scored
    press(tk_root, dialog.rating_buttons[2])
    type_into(tk_root, dialog.comment_box, "Slow start-up")
    press(tk_root, dialog.submit_button)
    wait_for(tk_root, lambda: outcomes == ["sent"])
    assert client.calls == [("feedback", 2, "Slow start-up")]
    again = FeedbackDialog(tk_root, client, outcomes.append)
    again.cancel()
    assert outcomes == ["sent", "cancelled"] and len(client.calls) == 1


def test_the_tray_menu_and_survey_on_x11(tk_root: Any) -> None:
    """The whole tray on pystray's real X11 backend: a due survey is held back while the user
    is busy; a click on the icon opens the menu as a Tk popup; choosing the survey there
    opens the dialog, which answers it."""
    from pystray import _xorg

    from dexpulse.agent.tray.app import TkUi, TrayApp
    from dexpulse.agent.tray.dialog import SurveyDialog

    client = FakeClient(due=dict(vars(offer()), expires_at="2025-03-10T00:00:00Z"))
    ui = TkUi(tk_root)
    app = TrayApp(lambda: client, ui=ui, busy=lambda: True, icon_factory=_xorg.Icon)
    assert app.native_menu is False  # pystray's X11 backend has no menu of its own
    app.start()
    try:
        wait_for(tk_root, lambda: "hold_back" in app.decisions)
        assert client.calls == [] and ui.dialog is None
        if HAVE_XDOTOOL:
            xdotool("mousemove", "--sync", "1100", "30")  # where a tray would be
        app.icon()  # what the X11 backend runs on a left click on the icon
        wait_for(tk_root, lambda: ui.popup is not None and ui.popup.winfo_ismapped())
        popup = ui.popup
        assert popup is not None
        end = popup.index("end")
        assert end is not None
        labels = {
            popup.entrycget(i, "label"): i for i in range(end + 1) if popup.type(i) == "command"
        }
        assert list(labels) == [
            "Connected",
            "Answer survey: How satisfied are you with your…",
            "Give feedback…",
            "Quit",
        ]
        assert str(popup.entrycget(labels["Connected"], "state")) == "disabled"
        screenshot("tray-menu.png")
        entry = labels["Answer survey: How satisfied are you with your…"]
        if HAVE_XDOTOOL:
            x = popup.winfo_rootx() + popup.winfo_width() // 2
            y = popup.winfo_rooty() + popup.yposition(entry) + 8
            xdotool("mousemove", "--sync", str(x), str(y), "click", "1")
        else:
            popup.invoke(entry)
            popup.unpost()
        wait_for(tk_root, lambda: isinstance(ui.dialog, SurveyDialog))
        assert client.calls == [("shown", "s-1")]
        dialog = ui.dialog
        assert isinstance(dialog, SurveyDialog)
        press(tk_root, dialog.rating_buttons[5])
        press(tk_root, dialog.submit_button)
        wait_for(tk_root, lambda: ui.dialog is None)
        assert client.calls[-1] == ("answer", "s-1", {"rating": 5, "yes_no": None, "comment": None})
        assert app.view.offer is None
    finally:
        app.stop()
