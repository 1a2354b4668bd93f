"""Delivery: classifying answers, backoff, and a retry loop against a real local receiver.

Delays are computed, never slept: the loop below advances a simulated clock by each delay and
signs every attempt at that simulated time, as the delivery job would at the real one.
"""

from __future__ import annotations

import json
import random
import socket
import statistics
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from http_receiver import Receiver, Reply
from notify_support import event

from dexpulse.collector.notify import (
    MAX_ATTEMPTS,
    Outcome,
    deliver,
    gives_up,
    next_attempt_delay,
    parse_destinations,
    render,
    verify_signature,
)
from dexpulse.collector.notify.destinations import Destination
from dexpulse.collector.notify.formats import OutgoingRequest
from dexpulse.collector.notify.sender import parse_retry_after

START = datetime(2026, 11, 23, 9, 7, tzinfo=UTC)
SECRET = "0123456789abcdef-secret"


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """One client for the module (building its TLS context takes a while)."""
    with httpx.Client() as client:
        yield client


def webhook(url: str, **fields: Any) -> Destination:
    item = {"name": "siem", "type": "webhook", "url": url, "secret": SECRET, **fields}
    return parse_destinations([item])[0]


def run(
    client: httpx.Client, destination: Destination, evt: dict[str, Any], seed: int = 7
) -> tuple[list[Outcome], list[float], list[datetime]]:
    """The delivery job's loop in miniature: render at the attempt's time, deliver, stop on
    success, on a permanent failure or when giving up, else wait (simulated) and retry."""
    rng, now = random.Random(seed), START
    outcomes: list[Outcome] = []
    delays: list[float] = []
    times: list[datetime] = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        times.append(now)
        outcome = deliver(client, render(destination, evt, now=now))
        outcomes.append(outcome)
        if outcome.ok or not outcome.retry or gives_up(attempt):
            break
        delays.append(next_attempt_delay(attempt, outcome.retry_after_s, rng))
        now += timedelta(seconds=delays[-1])
    return outcomes, delays, times


# -- against the local receiver ------------------------------------------------------------


def test_503s_with_retry_after_are_retried_with_the_same_delivery_id(
    receiver: Receiver, client: httpx.Client
) -> None:
    busy = Reply(503, {"Retry-After": "200"}, b"maintenance")
    receiver.answer(busy, busy, Reply(200, body=b"thanks"))
    evt = event()
    outcomes, delays, times = run(client, webhook(receiver.url("/hook")), evt)
    assert [o.status for o in outcomes] == [503, 503, 200]
    assert [(o.ok, o.retry) for o in outcomes] == [(False, True), (False, True), (True, False)]
    assert outcomes[0].retry_after_s == 200 and outcomes[0].error == "HTTP 503 Service Unavailable"
    assert (
        outcomes[0].response_excerpt == "maintenance" and outcomes[2].response_excerpt == "thanks"
    )
    assert all(d >= 200 for d in delays)
    assert len(receiver.received) == 3
    assert {r.headers["x-dexpulse-delivery"] for r in receiver.received} == {"42.siem"}
    for got, at in zip(receiver.received, times, strict=True):
        assert got.method == "POST" and got.path == "/hook"
        assert json.loads(got.body) == evt
        assert verify_signature(SECRET, got.headers["x-dexpulse-signature"], got.body, at)
    # the first signature is stale by the third attempt: each attempt must be signed afresh
    first = receiver.received[0]
    assert not verify_signature(SECRET, first.headers["x-dexpulse-signature"], first.body, times[2])


def test_a_400_is_not_retried(receiver: Receiver, client: httpx.Client) -> None:
    receiver.answer(Reply(400, body=b"invalid_payload"))
    outcomes, delays, _ = run(client, webhook(receiver.url()), event())
    assert len(outcomes) == 1 and len(receiver.received) == 1 and delays == []
    (outcome,) = outcomes
    assert not outcome.ok and not outcome.retry and outcome.status == 400
    assert outcome.error == "HTTP 400 Bad Request"
    assert outcome.response_excerpt == "invalid_payload"


def test_a_receiver_that_stays_down_is_given_up_on(
    receiver: Receiver, client: httpx.Client
) -> None:
    receiver.answer(*[Reply(500)] * MAX_ATTEMPTS)
    outcomes, delays, times = run(client, webhook(receiver.url()), event())
    assert len(outcomes) == MAX_ATTEMPTS == len(receiver.received)
    assert all(o.retry for o in outcomes) and len(delays) == MAX_ATTEMPTS - 1
    assert timedelta(minutes=20) < times[-1] - times[0] < timedelta(minutes=111)


def test_retry_after_as_an_http_date(receiver: Receiver, client: httpx.Client) -> None:
    # measured against the receiver's own Date header (http.server sends its real time)
    later = datetime.now(UTC) + timedelta(seconds=90)
    receiver.answer(Reply(429, {"Retry-After": format_datetime(later, usegmt=True)}, b"slow"))
    outcome = deliver(client, render(webhook(receiver.url()), event(), now=START))
    assert outcome.retry and outcome.status == 429
    assert outcome.retry_after_s is not None and 85 <= outcome.retry_after_s <= 91


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_closed_port_is_retried_with_the_error(client: httpx.Client) -> None:
    outcome = deliver(
        client, render(webhook(f"http://127.0.0.1:{_free_port()}/"), event(), now=START)
    )
    assert not outcome.ok and outcome.retry and outcome.status is None
    assert outcome.error is not None and outcome.error.startswith("ConnectError")


def test_a_timeout_is_retried_with_the_error(receiver: Receiver, client: httpx.Client) -> None:
    receiver.answer(Reply(hang_s=5))
    request = render(webhook(receiver.url(), timeout_s=0.2), event(), now=START)
    outcome = deliver(client, request)
    assert not outcome.ok and outcome.retry and outcome.status is None
    assert outcome.error == "timed out after 0.2 s (ReadTimeout)"


def test_slack_and_topdesk_requests_arrive_as_rendered(
    receiver: Receiver, client: httpx.Client
) -> None:
    slack, topdesk = parse_destinations(
        [
            {"name": "s", "type": "slack", "url": receiver.url("/services/T/B/X")},
            {
                "name": "t",
                "type": "topdesk",
                "base_url": receiver.url(),
                "username": "api",
                "application_password": "pw",
            },
        ]
    )
    receiver.answer(Reply(200, body=b"ok"), Reply(201, {"Content-Type": "application/json"}, b"{}"))
    assert deliver(client, render(slack, event(), now=START)).ok
    assert deliver(client, render(topdesk, event(), now=START)).status == 201
    to_slack, to_topdesk = receiver.received
    assert to_slack.path == "/services/T/B/X" and "blocks" in json.loads(to_slack.body)
    assert to_topdesk.path == "/tas/api/incidents"
    assert to_topdesk.headers["authorization"] == "Basic YXBpOnB3"
    assert json.loads(to_topdesk.body)["externalNumber"] == "wifi-29384000-3"


# -- classification, with a mock transport -------------------------------------------------


def _outcome(
    handler: Callable[[httpx.Request], httpx.Response], url: str = "https://r/"
) -> Outcome:
    request = OutgoingRequest("POST", url, {}, b"{}", 1.0, "d", "1.d")
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        return deliver(client, request)


@pytest.mark.parametrize(
    ("status", "ok", "retry"),
    [
        (200, True, False), (202, True, False), (204, True, False),
        (408, False, True), (425, False, True), (429, False, True),
        (500, False, True), (502, False, True), (503, False, True), (504, False, True),
        (400, False, False), (401, False, False), (403, False, False), (404, False, False),
        (410, False, False), (413, False, False), (422, False, False), (301, False, False),
    ],
)  # fmt: skip
def test_status_classes(status: int, ok: bool, retry: bool) -> None:
    outcome = _outcome(lambda request: httpx.Response(status))
    assert (outcome.ok, outcome.retry, outcome.status) == (ok, retry, status)
    assert (outcome.error is None) == ok


def test_a_redirect_says_it_is_not_followed() -> None:
    outcome = _outcome(lambda r: httpx.Response(308, headers={"Location": "https://elsewhere/"}))
    assert outcome.error is not None and "not followed" in outcome.error


def test_retry_after_is_ignored_on_permanent_failures_and_the_excerpt_is_bounded() -> None:
    outcome = _outcome(
        lambda r: httpx.Response(400, headers={"Retry-After": "5"}, content=b"x" * 5000)
    )
    assert outcome.retry_after_s is None and len(outcome.response_excerpt) == 512


def _raise(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def test_transport_failures_never_raise() -> None:
    refused = _outcome(_raise(httpx.ConnectError("[Errno 111] Connection refused")))
    assert refused.retry and refused.error == "ConnectError: [Errno 111] Connection refused"
    slow = _outcome(_raise(httpx.ReadTimeout("read")))
    assert slow.retry and slow.error == "timed out after 1 s (ReadTimeout)"
    odd = _outcome(_raise(RuntimeError("bug")))
    assert odd.retry and odd.error == "unexpected RuntimeError: bug"
    with httpx.Client() as client:
        bad = deliver(client, OutgoingRequest("POST", "ftp://x/", {}, b"", 1.0))
    assert not bad.retry and bad.error is not None and bad.error.startswith("unusable URL")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None), ("", None), ("soon", None), ("120", 120.0), ("1.5", 1.5), ("-3", 0.0),
        ("99999", 3600.0), ("nan", None),
        ("Mon, 23 Nov 2026 09:08:00 GMT", 60.0), ("Mon, 23 Nov 2026 09:00:00 GMT", 0.0),
        ("Mon, 23 Nov 2026 09:08:00", 60.0),
    ],
)  # fmt: skip
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, START) == expected


# -- backoff -------------------------------------------------------------------------------


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    rng = random.Random(3)
    for attempt, ceiling in [(1, 5), (2, 10), (3, 20), (7, 320), (8, 600), (17, 600), (500, 600)]:
        delays = [next_attempt_delay(attempt, None, rng) for _ in range(300)]
        assert 0 <= min(delays) and max(delays) <= ceiling
        assert max(delays) > 0.9 * ceiling and min(delays) < 0.1 * ceiling  # spread over all of it


def test_retry_after_is_a_floor_capped_at_an_hour() -> None:
    rng = random.Random(3)
    assert next_attempt_delay(1, 30, rng) == 30
    assert next_attempt_delay(8, 1, rng) <= 600
    assert next_attempt_delay(1, 86400, rng) == 3600
    with pytest.raises(ValueError):
        next_attempt_delay(0, None, rng)


def test_all_attempts_span_about_an_hour() -> None:
    rng = random.Random(11)
    totals = [
        sum(next_attempt_delay(a, None, rng) for a in range(1, MAX_ATTEMPTS)) for _ in range(400)
    ]
    assert (
        timedelta(minutes=45) < timedelta(seconds=statistics.mean(totals)) < timedelta(minutes=65)
    )
    assert not gives_up(MAX_ATTEMPTS - 1) and gives_up(MAX_ATTEMPTS)
