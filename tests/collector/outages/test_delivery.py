"""The notification outbox against a real local HTTP receiver: queued in the detection job's
transaction for the destinations that want the event, retried after what the receiver asked,
failed for good on a refusal, claimed by one replica only, and never in detection's way."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from http_receiver import Receiver, Reply, receiving
from outage_support import T0, ingest, outage
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker
from support import add_device, migrated

from dexpulse.collector.db import make_engine, make_sessionmaker, transaction
from dexpulse.collector.detection.engine import to_minute
from dexpulse.collector.detection.lifecycle import Outage
from dexpulse.collector.models import Notification, OutageEvent
from dexpulse.collector.notify import parse_destinations, verify_signature
from dexpulse.collector.outages.delivery import Deliverer
from dexpulse.collector.outages.job import DetectionJob
from dexpulse.collector.outages.store import record

SECRET = "0123456789abcdef-secret"
S = timedelta(seconds=1)
MIN = timedelta(minutes=1)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@contextmanager
def deliverer(
    sessions: sessionmaker[Session], clock: Clock, *destinations: dict[str, Any]
) -> Iterator[Deliverer]:
    sender = Deliverer(
        sessions, parse_destinations(list(destinations)), clock, rng=random.Random(5)
    )
    try:
        yield sender
    finally:
        sender.close()


def hook(receiver: Receiver, name: str = "hook", **fields: Any) -> dict[str, Any]:
    """A signed webhook destination posting to ``/name`` on the receiver."""
    return {"name": name, "type": "webhook", "url": receiver.url(f"/{name}"), "secret": SECRET,
            **fields}  # fmt: skip


def wifi(ident: str = "wifi-1-1") -> Outage:
    return outage(ident, "wifi", {"site": "Amsterdam", "bssid": "64:d1:54:68:93:ae"}, T0, T0)


def opened(sessions: sessionmaker[Session], sender: Deliverer, *items: Outage) -> None:
    """The detection job's write: the outages and, in the same transaction, the outbox."""
    with transaction(sessions) as session:
        record(session, items or [wifi()], T0, on_event=sender.enqueue)


def outbox(sessions: sessionmaker[Session]) -> dict[str, Notification]:
    with sessions() as session:
        return {n.destination: n for n in session.scalars(select(Notification))}


def test_a_retry_after_is_honoured_then_the_notification_is_sent(db_url: str) -> None:
    """Webhook answers 503 with Retry-After 120, then 200; Slack answers 200. The first tick
    sends both: Slack is sent, the webhook stays pending, due no sooner than two minutes
    later and not sent again before then. Ticking once it is due sends it: two attempts, the
    same delivery id both times, each attempt signed at its own time."""
    clock = Clock(T0 + 5 * S)
    with migrated(db_url) as sessions, receiving() as receiver:
        slack = {"name": "chat", "type": "slack", "url": receiver.url("/slack")}
        with deliverer(sessions, clock, hook(receiver), slack) as sender:
            receiver.answer(Reply(503, {"Retry-After": "120"}), Reply(200), path="/hook")
            opened(sessions, sender)
            first_try = clock.at
            assert sender.tick() == 2
            rows = outbox(sessions)
            assert (rows["chat"].state, rows["chat"].attempts, rows["chat"].sent_at) == (
                "sent", 1, first_try
            )  # fmt: skip
            pending = rows["hook"]
            assert (pending.state, pending.attempts, pending.last_status) == ("pending", 1, 503)
            assert pending.next_attempt_at >= first_try + 120 * S
            clock.at = pending.next_attempt_at - S
            assert sender.tick() == 0
            clock.at = pending.next_attempt_at
            assert sender.tick() == 1
            sent = outbox(sessions)["hook"]
            assert (sent.state, sent.attempts, sent.sent_at) == ("sent", 2, clock.at)
            assert sent.last_status == 200 and sent.last_error is None
        attempts = receiver.on("/hook")
        assert len(attempts) == 2 and len(receiver.on("/slack")) == 1
        [event_id] = {json.loads(a.body)["event_id"] for a in attempts}
        assert [a.headers["x-dexpulse-delivery"] for a in attempts] == [f"{event_id}.hook"] * 2
        for attempt, at in zip(attempts, (first_try, clock.at), strict=True):
            signature = attempt.headers["x-dexpulse-signature"]
            assert verify_signature(SECRET, signature, attempt.body, now=at, tolerance_s=1)
            body = json.loads(attempt.body)
            assert (body["event"], body["outage"]["id"]) == ("opened", "wifi-1-1")
        assert "Wi-Fi outage" in json.loads(receiver.on("/slack")[0].body)["text"]


def test_a_refusal_fails_for_good(db_url: str) -> None:
    """A 400 is the request's fault: the notification fails at once and is never sent again."""
    clock = Clock(T0 + 5 * S)
    with migrated(db_url) as sessions, receiving() as receiver:
        with deliverer(sessions, clock, hook(receiver)) as sender:
            receiver.answer(Reply(400), path="/hook")
            opened(sessions, sender)
            assert sender.tick() == 1
            clock.at += timedelta(hours=2)
            assert sender.tick() == 0
        row = outbox(sessions)["hook"]
        assert (row.state, row.attempts, row.last_status) == ("failed", 1, 400)
        assert row.last_error is not None and "400" in row.last_error
        assert len(receiver.on("/hook")) == 1


def test_only_wanted_events_reach_only_the_destinations_that_want_them(db_url: str) -> None:
    """An outage goes through every event. Notifications are queued for opened and resolved
    only (rescoped, recovering and back-to-ongoing are not news to IT), and only for the
    destinations whose events, signals, min_affected and enabled let them through."""
    with migrated(db_url) as sessions, receiving() as receiver:
        destinations = [
            hook(receiver, "all"),
            hook(receiver, "big", min_affected=4),  # the outage has 3 affected devices
            hook(receiver, "crashes", signals=["app_crash"]),
            hook(receiver, "ends", events=["resolved"]),
            hook(receiver, "off", enabled=False),
        ]
        with deliverer(sessions, Clock(T0), *destinations) as sender:
            item = wifi()
            steps: list[tuple[int, dict[str, Any]]] = [
                (0, {}),
                (3, {"cohort": (("site", "Amsterdam"),)}),
                (10, {"status": "recovering", "recovering_since": to_minute(T0 + 8 * MIN)}),
                (12, {"status": "ongoing", "last_alarm": to_minute(T0 + 12 * MIN)}),
                (40, {"status": "resolved", "resolved_at": to_minute(T0 + 20 * MIN),
                      "closed_at": to_minute(T0 + 40 * MIN)}),
            ]  # fmt: skip
            for minutes, changes in steps:
                for name, value in changes.items():
                    setattr(item, name, value)
                with transaction(sessions) as session:
                    record(session, [item], T0 + minutes * MIN, on_event=sender.enqueue)
        with sessions() as session:
            kinds = session.scalars(select(OutageEvent.event).order_by(OutageEvent.id)).all()
            queued = session.execute(
                select(OutageEvent.event, Notification.destination)
                .join(Notification, Notification.event_id == OutageEvent.id)
                .order_by(Notification.id)
            ).all()
        assert kinds == ["opened", "rescoped", "recovering", "ongoing", "resolved"]
        assert [tuple(q) for q in queued] == [
            ("opened", "all"), ("resolved", "all"), ("resolved", "ends")
        ]  # fmt: skip


def test_two_replicas_never_send_the_same_notification(db_url: str) -> None:
    """Replica 1 reads a batch of due rows for its claim and is held there, before it has
    marked them; replica 2 ticks meanwhile. Every notification still reaches the receiver
    exactly once. On PostgreSQL replica 2 skips the rows replica 1 has locked and sends the
    rest without waiting; on SQLite (``serve --workers 2``) it waits for replica 1's claim."""
    postgres = db_url.startswith("postgresql")
    clock = Clock(T0 + 5 * S)
    held, go_on = threading.Event(), threading.Event()

    def hold_after_reading(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "JOIN outage_events" in statement and not held.is_set():  # the claim's SELECT
            held.set()
            go_on.wait(10)

    with migrated(db_url) as sessions, receiving() as receiver:
        other = make_engine(db_url)
        event.listen(other, "after_cursor_execute", hold_after_reading)
        counts: list[int] = []
        try:
            with (
                deliverer(make_sessionmaker(other), clock, hook(receiver)) as one,
                deliverer(sessions, clock, hook(receiver)) as two,
            ):
                opened(sessions, one, *(wifi(f"wifi-1-{i}") for i in range(30)))
                first = threading.Thread(target=lambda: counts.append(one.tick()))
                first.start()
                assert held.wait(10)
                second = threading.Thread(target=lambda: counts.append(two.tick()))
                second.start()
                second.join(5 if postgres else 0.5)
                done_while_held = not second.is_alive()
                go_on.set()
                first.join(10)
                second.join(10)
        finally:
            go_on.set()
            other.dispose()
        delivered = Counter(r.headers["x-dexpulse-delivery"] for r in receiver.on("/hook"))
        assert len(delivered) == 30 and set(delivered.values()) == {1}
        assert sorted(counts) == [10, 20]
        if postgres:  # SKIP LOCKED: replica 2 did not wait for replica 1's row locks
            assert done_while_held and counts == [10, 20]
        with sessions() as session:
            assert set(session.scalars(select(Notification.state))) == {"sent"}


def test_a_hanging_receiver_does_not_hold_detection_up(db_url: str) -> None:
    """A tick stuck on a receiver that does not answer holds no transaction: the detection job
    runs (and writes) to completion meanwhile; the tick then times out and leaves the
    notification pending for a retry."""
    clock = Clock(T0 + 5 * S)
    with migrated(db_url) as sessions, receiving() as receiver:
        with deliverer(sessions, clock, hook(receiver, timeout_s=2)) as sender:
            receiver.answer(Reply(hang_s=10), path="/hook")
            opened(sessions, sender)
            with transaction(sessions) as session:
                ingest(session, add_device(session, "laptop-1"), T0 + 10 * S)
            job = DetectionJob(sessions, holder="a", on_event=sender.enqueue)
            ticking = threading.Thread(target=sender.tick)
            ticking.start()
            try:
                assert receiver.wait_for(1)
                started = time.monotonic()
                result = job.run(T0 + MIN)
                took = time.monotonic() - started
                stuck = ticking.is_alive()
            finally:
                ticking.join(10)
        assert result is not None and result.batches == 1
        assert stuck, f"the tick was over before detection finished ({took:.2f} s)"
        row = outbox(sessions)["hook"]
        assert (row.state, row.attempts) == ("pending", 1)
        assert row.last_error is not None and "timed out" in row.last_error
