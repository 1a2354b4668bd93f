"""What the tray shows and does, decided without a GUI, a clock or a network.

The tray app (:mod:`.app`) polls the local agent service and hands what it learnt to this
module: the wording of the status line, the entries of the menu, whether to prompt a survey
now, and whether what the user typed into the dialog is an answer the service will take.
Keeping this pure lets every state of the tray be tested with plain values, and keeps the
rule "never nag the employee" in one readable place: the service throttles surveys, and the
tray additionally holds back while the user is busy and never re-prompts the same survey
within :data:`REPROMPT_AFTER` of its own last prompt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, TypeAlias

Action: TypeAlias = Literal["open_menu", "survey", "feedback", "quit"]
"""What a menu entry does when chosen."""
Tone: TypeAlias = Literal["connected", "issues", "offline", "not_enrolled", "down"]
"""The overall state the icon's colour shows."""
Decision: TypeAlias = Literal["prompt", "hold_back", "nothing"]
"""What a poll tick does with the survey the service says is due."""

RATING_LABELS: Mapping[int, str] = {
    1: "Very poor",
    2: "Poor",
    3: "Okay",
    4: "Good",
    5: "Excellent",
}
COMMENT_MAX = 4096
"""The longest comment the wire contract carries (``schema.types.Text``)."""
MENU_QUESTION_MAX = 40
"""Characters of the question shown in the menu before it is cut with an ellipsis."""
REPROMPT_AFTER = timedelta(hours=12)
"""The tray itself never pops up the same survey again sooner than this (the service's
snooze minimum), whatever the service says; the menu entry stays available meanwhile."""

STATUS_CONNECTED = "Connected"
STATUS_OFFLINE = "Offline — data is kept and sent later"
STATUS_NOT_ENROLLED = "Not set up — this device is not enrolled yet"
STATUS_SERVICE_DOWN = "Offline — the dexpulse service is not running"
STATUS_SERVICE_ERROR = "Offline — the dexpulse service reported an error"


class Client(Protocol):
    """The part of ``dexpulse.agent.localclient.LocalClient`` the tray uses."""

    def status(self) -> dict[str, Any]: ...
    def due(self) -> dict[str, Any] | None: ...
    def shown(self, survey_id: str) -> None: ...
    def answer(
        self,
        survey_id: str,
        *,
        rating: int | None = None,
        yes_no: bool | None = None,
        comment: str | None = None,
    ) -> None: ...
    def snooze(self, survey_id: str) -> None: ...
    def dismiss(self, survey_id: str) -> None: ...
    def feedback(self, rating: int, comment: str | None = None) -> None: ...


def error_status(exc: BaseException) -> tuple[int | None, str]:
    """The HTTP status (None: service unreachable) and message of a ``LocalApiError``, read by
    attribute so this module need not import the client; ``(None, str(exc))`` otherwise."""
    status = getattr(exc, "status", None)
    message = getattr(exc, "message", None)
    return (status if isinstance(status, int) else None), str(message or exc)


@dataclass(frozen=True)
class SurveyOffer:
    """A survey the service says is due, as the local API sends it."""

    id: str
    campaign_id: str
    question: str
    answer: Literal["rating", "yes_no"]
    comment: bool
    anonymous: bool
    expires_at: datetime | None


def parse_offer(raw: Mapping[str, Any]) -> SurveyOffer:
    """An offer from the local API's JSON; ValueError if it is not one."""
    answer = raw.get("answer")
    if answer not in ("rating", "yes_no"):
        raise ValueError(f"unknown answer kind {answer!r}")
    survey_id, question = raw.get("id"), raw.get("question")
    if not isinstance(survey_id, str) or not survey_id:
        raise ValueError("offer without an id")
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"offer {survey_id} without a question")
    expires: datetime | None = None
    if isinstance(raw.get("expires_at"), str):
        expires = datetime.fromisoformat(raw["expires_at"])
        if expires.tzinfo is None:
            raise ValueError(f"offer {survey_id}: naive expires_at {raw['expires_at']!r}")
    return SurveyOffer(
        id=survey_id,
        campaign_id=str(raw.get("campaign_id", "")),
        question=question.strip(),
        answer=answer,
        comment=bool(raw.get("comment", False)),
        anonymous=bool(raw.get("anonymous", False)),
        expires_at=expires,
    )


@dataclass(frozen=True)
class TrayView:
    """Everything the last poll learnt: the service's status (None when it could not be had),
    the HTTP status of the failure if any (None with no status: unreachable), and the offer."""

    status: Mapping[str, Any] | None = None
    failure: int | None = None
    offer: SurveyOffer | None = None

    @property
    def reachable(self) -> bool:
        return self.status is not None


def issues_of(status: Mapping[str, Any]) -> list[str]:
    issues = status.get("issues") or []
    return [str(i) for i in issues if str(i).strip()] if isinstance(issues, list) else []


def tone(view: TrayView) -> Tone:
    if view.status is None:
        return "down"
    connection = view.status.get("connection")
    if connection == "not_enrolled":
        return "not_enrolled"
    if connection != "connected":
        return "offline"
    return "issues" if issues_of(view.status) else "connected"


def status_line(view: TrayView) -> str:
    """The menu's first, disabled line: the one thing the user should know about the agent."""
    if view.status is None:
        return STATUS_SERVICE_DOWN if view.failure is None else STATUS_SERVICE_ERROR
    kind = tone(view)
    if kind == "not_enrolled":
        return STATUS_NOT_ENROLLED
    if kind == "offline":
        return STATUS_OFFLINE
    if kind == "issues":
        return "Issues detected: " + shorten(", ".join(issues_of(view.status)), 60)
    return STATUS_CONNECTED


def shorten(text: str, limit: int) -> str:
    """``text`` on one line, cut to at most ``limit`` characters with an ellipsis (at a word
    boundary when there is one in the second half)."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"


def survey_label(question: str) -> str:
    return "Answer survey: " + shorten(question, MENU_QUESTION_MAX)


@dataclass(frozen=True)
class MenuEntry:
    """One menu line; ``action`` None with empty text is a separator."""

    text: str
    action: Action | None = None
    enabled: bool = True
    default: bool = False
    """Activated by clicking the icon itself (where the platform has such a click)."""
    visible: bool = True

    @property
    def separator(self) -> bool:
        return self.action is None and not self.text


SEPARATOR = MenuEntry("")


def menu_model(view: TrayView, *, native_menu: bool) -> tuple[MenuEntry, ...]:
    """The menu for ``view``. Without a native menu (pystray's X11 backend) a click on the
    icon runs the hidden default entry, which opens the same entries as a Tk popup menu."""
    entries: list[MenuEntry] = []
    if not native_menu:
        entries.append(MenuEntry("Open menu", "open_menu", default=True, visible=False))
    entries += [MenuEntry(status_line(view), enabled=False), SEPARATOR]
    if view.offer is not None:
        entries.append(MenuEntry(survey_label(view.offer.question), "survey"))
    entries += [
        MenuEntry("Give feedback…", "feedback", enabled=view.reachable),
        SEPARATOR,
        MenuEntry("Quit", "quit"),
    ]
    return tuple(entries)


def decide(
    offer: SurveyOffer | None,
    busy: bool | None,
    *,
    dialog_open: bool,
    prompted: Mapping[str, datetime],
    now: datetime,
) -> Decision:
    """Prompt the due survey, hold it back because the user is busy, or do nothing.

    ``busy`` None means the OS cannot tell (Wayland, macOS): the service's throttling (at
    most one survey a day, quiet hours) is then the only guard, and the prompt goes ahead.
    ``prompted`` maps survey ids to when this tray last prompted them.
    """
    if offer is None or dialog_open:
        return "nothing"
    last = prompted.get(offer.id)
    if last is not None and now - last < REPROMPT_AFTER:
        return "nothing"
    return "hold_back" if busy else "prompt"


def notification(offer: SurveyOffer) -> tuple[str, str]:
    """(title, message) of the notification that a survey is waiting."""
    return "dexpulse: a quick question", shorten(offer.question, 200)


def anonymity_line(anonymous: bool) -> str:
    if anonymous:
        return "Anonymous: your answer is not linked to you or this device."
    return "Not anonymous: your IT team can see this answer came from this device."


class InvalidAnswer(ValueError):
    """What the user entered cannot be sent; the message says what to fix."""


@dataclass(frozen=True)
class Answer:
    rating: int | None = None
    yes_no: bool | None = None
    comment: str | None = None


def clean_comment(comment: str | None) -> str | None:
    text = (comment or "").strip()
    if "\x00" in text:
        raise InvalidAnswer("The comment contains a character that cannot be sent.")
    if len(text) > COMMENT_MAX:
        raise InvalidAnswer(f"The comment is too long ({len(text)} of {COMMENT_MAX} characters).")
    return text or None


def validate_rating(rating: int | None) -> int:
    if rating is None or isinstance(rating, bool) or rating not in RATING_LABELS:
        raise InvalidAnswer("Choose a rating from 1 to 5.")
    return rating


def validate_answer(
    offer: SurveyOffer, rating: int | None, yes_no: bool | None, comment: str | None
) -> Answer:
    """The answer to send for ``offer``; InvalidAnswer if the question is not answered. A
    comment is kept only when the survey offers one."""
    text = clean_comment(comment) if offer.comment else None
    if offer.answer == "rating":
        return Answer(rating=validate_rating(rating), comment=text)
    if yes_no is None:
        raise InvalidAnswer("Choose Yes or No.")
    return Answer(yes_no=bool(yes_no), comment=text)


def validate_feedback(rating: int | None, comment: str | None) -> Answer:
    return Answer(rating=validate_rating(rating), comment=clean_comment(comment))


def failure_text(status: int | None, message: str) -> tuple[str, bool]:
    """What the dialog says when the service refuses or cannot be reached, and whether the
    survey is gone for good (so the dialog should offer only to close)."""
    if status is None:
        return "The dexpulse service is not running; please try again later.", False
    if status in (404, 409):
        return "This survey is no longer open. Thank you anyway.", True
    if status == 422:
        return f"The answer was not accepted: {shorten(message, 120)}", False
    return f"Could not send (error {status}); please try again later.", False
