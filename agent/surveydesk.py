"""The agent service's survey desk: the surveys handed over at check-in, the throttling state,
and the answers, which go into the spool as ``survey_response`` samples like any sample (so an
answer given offline is sent when the collector is reachable again).

The tray reaches this through the local API (:mod:`.localapi`), from its own threads, so every
method holds one lock; the throttling decisions themselves are the pure functions of
:mod:`.surveys`, fed with this desk's clock. The state is saved after every change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from dexpulse.schema import SurveyResponseSample
from dexpulse.schema.checkin import SurveyOffer

from . import surveys
from .config import SurveysConfig
from .desk import DeskError
from .spool import Spool
from .state import StateStore

log = logging.getLogger(__name__)

STATE = "surveys"
FEEDBACK_ID = "feedback"
"""The survey id of feedback volunteered from the tray menu (not a campaign's)."""
FEEDBACK_EVERY = timedelta(hours=1)
SHOWN_DEDUP = timedelta(minutes=10)


def rules_of(config: SurveysConfig) -> surveys.Rules:
    return surveys.Rules(
        min_interval=timedelta(hours=config.min_interval_h),
        snooze_min=timedelta(hours=config.snooze_h),
        quiet_start=config.quiet_start,
        quiet_end=config.quiet_end,
        weekend_quiet=config.weekend_quiet,
        max_shows=config.max_shows,
    )


def offer_of(wire: SurveyOffer) -> surveys.Offer:
    return surveys.Offer(
        id=wire.id,
        campaign_id=wire.campaign_id,
        question=wire.question,
        answer=wire.answer,
        comment=wire.comment,
        anonymous=wire.anonymous,
        not_before=wire.not_before,
        expires_at=wire.expires_at,
    )


def _local(now: datetime) -> datetime:
    """``now`` as naive local wall-clock time (the OS's time zone), for quiet hours."""
    return now.astimezone().replace(tzinfo=None)


class SurveyDesk:
    def __init__(
        self,
        states: StateStore,
        spool: Spool,
        rules: surveys.Rules,
        *,
        clock: Callable[[], datetime],
        status: Callable[[], dict[str, Any]],
        local_time: Callable[[datetime], datetime] = _local,
    ) -> None:
        self.states = states
        self.spool = spool
        self.rules = rules
        self.clock = clock
        self._status = status
        self.local_time = local_time
        self._lock = threading.Lock()
        self._offers: list[surveys.Offer] = []
        self._last_feedback: datetime | None = None
        saved = states.load(STATE)
        try:
            self._state = surveys.State.from_json(saved) if saved else surveys.State()
        except ValueError as exc:  # a damaged memory: start afresh rather than stop
            log.warning("survey state unreadable (%s); starting afresh", exc)
            self._state = surveys.State()

    # -- fed by the service ----------------------------------------------------------------

    def set_offers(self, offers: list[SurveyOffer]) -> None:
        """The surveys the last check-in listed; closes (and reports) what has ended."""
        with self._lock:
            self._offers = [offer_of(o) for o in offers]
            self._sweep()

    def sweep(self) -> None:
        with self._lock:
            self._sweep()

    def _sweep(self) -> None:
        now = self.clock()
        state, ended = surveys.sweep(self._offers, self._state, now, self.rules)
        by_id = {o.id: o for o in self._offers}
        samples = [
            SurveyResponseSample(
                ts=now,
                survey_id=survey_id,
                status="expired" if how == "expired" else "dismissed",
                anonymous=by_id[survey_id].anonymous if survey_id in by_id else False,
            )
            for survey_id, how in ended
        ]
        if samples:
            self.spool.put(samples)
        self._save(state)

    def _save(self, state: surveys.State) -> None:
        if state != self._state:
            self.states.save(STATE, state.to_json())
            self._state = state

    # -- the Desk protocol (for the local API) ---------------------------------------------

    def status(self) -> dict[str, Any]:
        with self._lock:
            now = self.clock()
            pending = sum(
                1
                for o in self._offers
                if o.id not in self._state.closed and o.expires_at > now and o.not_before <= now
            )
        return {**self._status(), "pending_surveys": pending}

    def due(self) -> surveys.Offer | None:
        with self._lock:
            now = self.clock()
            return surveys.due(
                self._offers, self._state, now, self.local_time(now), self.rules, busy=False
            )

    def _open(self, offer_id: str) -> surveys.Offer:
        for offer in self._offers:
            if offer.id == offer_id:
                if (ended := self._state.closed.get(offer_id)) is not None:
                    raise DeskError(409, f"survey {offer_id} is already {ended}")
                if offer.expires_at <= self.clock():  # the collector would not count it
                    raise DeskError(409, f"survey {offer_id} is no longer open")
                return offer
        raise DeskError(404, f"no survey {offer_id} on this device")

    def shown(self, offer_id: str) -> None:
        """Counts once per ``SHOWN_DEDUP``: two trays of one user (both autostart entries
        set, say) showing the same survey at login is one prompt, not two."""
        with self._lock:
            self._open(offer_id)
            now = self.clock()
            last = self._state.shown_at.get(offer_id)
            if last is not None and timedelta(0) <= now - last < SHOWN_DEDUP:
                return
            self._save(surveys.shown(self._state, offer_id, now))

    def answer(
        self, offer_id: str, rating: int | None, yes_no: bool | None, comment: str | None
    ) -> None:
        with self._lock:
            offer = self._open(offer_id)
            if offer.answer == "rating" and (rating is None or yes_no is not None):
                raise DeskError(422, "this survey asks for a rating from 1 to 5")
            if offer.answer == "yes_no" and (yes_no is None or rating is not None):
                raise DeskError(422, "this survey asks for yes or no")
            if comment is not None and not offer.comment:
                raise DeskError(422, "this survey takes no comment")
            now = self.clock()
            self.spool.put(
                [
                    SurveyResponseSample(
                        ts=now,
                        survey_id=offer_id,
                        status="answered",
                        rating=rating,
                        yes_no=yes_no,
                        comment=(comment or "").strip() or None,
                        anonymous=offer.anonymous,
                    )
                ]
            )  # spooled before the state says answered: a crash between asks again, not loses
            self._save(surveys.close(self._state, offer_id, "answered", now))

    def snooze(self, offer_id: str) -> None:
        with self._lock:
            self._open(offer_id)
            self._save(surveys.snooze(self._state, offer_id, self.clock(), self.rules))

    def dismiss(self, offer_id: str) -> None:
        with self._lock:
            offer = self._open(offer_id)
            now = self.clock()
            self.spool.put(
                [
                    SurveyResponseSample(
                        ts=now, survey_id=offer_id, status="dismissed", anonymous=offer.anonymous
                    )
                ]
            )
            self._save(surveys.close(self._state, offer_id, "dismissed", now))

    def feedback(self, rating: int, comment: str | None) -> None:
        """Volunteered feedback counts in the device's sentiment: one per ``FEEDBACK_EVERY``,
        so a script with the user's token cannot drown the score."""
        if not 1 <= rating <= 5:
            raise DeskError(422, "rating must be from 1 to 5")
        now = self.clock()
        with self._lock:
            if self._last_feedback is not None and now - self._last_feedback < FEEDBACK_EVERY:
                raise DeskError(429, "thank you: feedback was sent a moment ago; try in an hour")
            self._last_feedback = now
        self.spool.put(
            [
                SurveyResponseSample(
                    ts=now,
                    survey_id=FEEDBACK_ID,
                    rating=rating,
                    comment=(comment or "").strip() or None,
                )
            ]
        )
