"""Sending the notification outbox: outage events to webhooks, Slack, Teams and TOPdesk.

The detection job queues one ``notifications`` row per event and interested destination in
its own transaction (:meth:`Deliverer.enqueue`). :meth:`Deliverer.tick`, every few seconds
on every replica, claims due rows in a short transaction (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so two replicas never claim the same row; on SQLite the claim takes the write
lock before it reads) by moving their next attempt a lease ahead, sends them with no
transaction open, and records the outcome: sent, retried later with backoff, or failed for
good. A process that dies mid-send leaves the row to be claimed again when the lease lapses,
so delivery is at least once; webhook receivers dedupe on the delivery id, which is stable
across attempts.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ..db import transaction
from ..models import Notification, OutageEvent
from ..notify import Destination, deliver, gives_up, next_attempt_delay, render, wants

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
BATCH = 20


def event_payload(event: OutageEvent) -> dict[str, Any]:
    return {
        "event_id": event.id,
        "event": event.event,
        "at": event.at.isoformat(),
        "outage": event.outage,
    }


class Deliverer:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        destinations: Sequence[Destination],
        clock: Callable[[], datetime],
        *,
        console_url: str | None = None,
        client: httpx.Client | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.sessions = sessions
        self.destinations = {d.name: d for d in destinations}
        self.clock = clock
        self.console_url = console_url
        self.client = client or httpx.Client(follow_redirects=False)
        self.rng = rng or random.Random()

    def enqueue(self, session: Session, event: OutageEvent) -> None:
        """The detection job's event hook: queue ``event`` for each destination wanting it."""
        payload = event_payload(event)
        for destination in self.destinations.values():
            try:
                wanted = wants(destination, payload)
            except ValueError:  # not an event kind notifications carry (e.g. rescoped)
                return
            if wanted:
                session.add(
                    Notification(
                        event_id=event.id, destination=destination.name, state="pending",
                        attempts=0, next_attempt_at=event.at,
                    )
                )  # fmt: skip

    def tick(self) -> int:
        """Send what is due; how many were attempted. Never raises."""
        try:
            claimed = self._claim(self.clock())
        except Exception:
            log.exception("could not read the notification outbox")
            return 0
        for notification_id, destination_name, payload, attempt in claimed:
            try:
                self._send(notification_id, destination_name, payload, attempt)
            except Exception:  # the row is claimed again when its lease lapses
                log.exception("could not record the outcome of notification %s", notification_id)
        return len(claimed)

    def close(self) -> None:
        self.client.close()

    def _claim(self, now: datetime) -> list[tuple[int, str, dict[str, Any], int]]:
        with transaction(self.sessions) as session:
            query = (
                select(Notification, OutageEvent)
                .join(OutageEvent, OutageEvent.id == Notification.event_id)
                .where(Notification.state == "pending", Notification.next_attempt_at <= now)
                .order_by(Notification.next_attempt_at, Notification.id)
                .limit(BATCH)
            )
            dialect = session.bind.dialect.name if session.bind is not None else ""
            if dialect == "postgresql":
                query = query.with_for_update(skip_locked=True, of=Notification)
            elif dialect == "sqlite":
                # A write first takes SQLite's write lock for the whole claim (as the detection
                # job does): a plain SELECT takes none, so two processes (serve --workers 2)
                # would both read the same due rows before either marks them, and both send.
                session.execute(
                    update(Notification).where(Notification.id == -1).values(attempts=0)
                )
            claimed = []
            for row, event in session.execute(query):
                row.attempts += 1
                row.next_attempt_at = now + LEASE
                claimed.append((row.id, row.destination, event_payload(event), row.attempts))
            return claimed

    def _send(self, notification_id: int, name: str, payload: dict[str, Any], attempt: int) -> None:
        now = self.clock()
        destination = self.destinations.get(name)
        status: int | None = None
        error: str | None
        if destination is None:
            ok, retry, error, retry_after = False, False, "destination no longer configured", None
        else:
            try:
                request = render(destination, payload, now=now, console_url=self.console_url)
            except ValueError as exc:
                ok, retry, error, retry_after = False, False, f"cannot render: {exc}", None
            else:
                outcome = deliver(self.client, request)
                ok, retry, status = outcome.ok, outcome.retry, outcome.status
                error, retry_after = outcome.error, outcome.retry_after_s
        with transaction(self.sessions) as session:
            row = session.get(Notification, notification_id)
            if row is None:
                return
            row.last_status, row.last_error = status, (error or None) and str(error)[:1000]
            if ok:
                row.state, row.sent_at = "sent", now
            elif retry and not gives_up(attempt):
                delay = next_attempt_delay(attempt, retry_after, self.rng)
                row.next_attempt_at = now + timedelta(seconds=delay)
            else:
                row.state = "failed"
                log.warning("notification %s to %s failed: %s", notification_id, name, error)
