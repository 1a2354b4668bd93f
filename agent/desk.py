"""The contract between the agent service's survey desk and the tray's local API.

The service holds the surveys the collector offered (learned at check-in) and the throttling
state (``surveys.State``); the tray, a per-user process, reaches them only through the
loopback API in ``localapi``. That API is a thin shell over an object with this shape, so it
is tested with a fake desk and the desk is tested without HTTP.
"""

from __future__ import annotations

from typing import Any, Protocol

from .surveys import Offer


class DeskError(Exception):
    """A request the desk refuses; ``status`` is the HTTP status the local API answers with.

    404: no such survey on this device; 409: the survey is already answered, dismissed or
    expired; 422: the answer does not fit the question (e.g. a rating for a yes/no question).
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Desk(Protocol):
    def status(self) -> dict[str, Any]:
        """``{"connection": "connected"|"offline"|"not_enrolled", "issues": [str, ...],
        "last_upload": iso8601 | None, "pending_surveys": int, "agent_version": str}``."""
        ...

    def due(self) -> Offer | None:
        """The survey to prompt now, if the throttling rules allow one."""
        ...

    def shown(self, offer_id: str) -> None:
        """The tray prompted the user with this survey (counts against the throttle)."""
        ...

    def answer(
        self, offer_id: str, rating: int | None, yes_no: bool | None, comment: str | None
    ) -> None:
        """Record the answer and spool it as a ``survey_response`` sample."""
        ...

    def snooze(self, offer_id: str) -> None:
        """Remind me later: not before the snooze interval (>= 12 h) has passed."""
        ...

    def dismiss(self, offer_id: str) -> None:
        """The user declined this survey; it is not asked again."""
        ...

    def feedback(self, rating: int, comment: str | None) -> None:
        """Feedback the user volunteered from the tray menu ("Give feedback")."""
        ...


def offer_json(offer: Offer) -> dict[str, Any]:
    """An offer as the local API sends it to the tray."""
    return {
        "id": offer.id,
        "campaign_id": offer.campaign_id,
        "question": offer.question,
        "answer": offer.answer,
        "comment": offer.comment,
        "anonymous": offer.anonymous,
        "expires_at": offer.expires_at.isoformat().replace("+00:00", "Z"),
    }
