"""An outage event as the HTTP request a destination takes: pure, no IO, no clock.

The delivery job calls :func:`wants` to decide whether a destination gets an event and
:func:`render` on *every attempt*, passing the current time: the webhook signature carries that
time, and a request signed an hour ago (retries span about an hour) would be refused as stale.
Everything else in the rendered request is the same on each attempt; in particular the
``X-Dexpulse-Delivery`` id (event id and destination name), by which receivers drop duplicates.

The event is the outbox's JSON: ``{"event_id": int, "event": "opened"|"reopened"|"resolved",
"at": ISO-8601, "outage": {...}}`` with the outage as the collector's API shows it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from . import chat, topdesk, wording
from .destinations import (
    ALL_EVENTS,
    Destination,
    SlackDestination,
    TeamsDestination,
    TopdeskDestination,
    WebhookDestination,
)
from .signing import SIGNATURE_HEADER, sign
from .signing import verify_signature as verify_signature

USER_AGENT = "dexpulse-notify/1"
EVENT_HEADER = "X-Dexpulse-Event"
DELIVERY_HEADER = "X-Dexpulse-Delivery"


@dataclass(frozen=True, slots=True)
class OutgoingRequest:
    """One HTTP request, ready to send. Its repr shows neither the URL's path and query
    (Slack and Teams URLs are credentials) nor headers or body (Basic auth), so it is safe
    to log."""

    method: str
    url: str = field(repr=False)
    headers: dict[str, str] = field(repr=False)
    body: bytes = field(repr=False)
    timeout_s: float = 10.0
    destination: str = ""
    delivery_id: str = ""

    def __repr__(self) -> str:
        parts = urlsplit(self.url)
        return (
            f"OutgoingRequest({self.method} {parts.scheme}://{parts.netloc}/..., "
            f"{len(self.body)} bytes, destination={self.destination!r}, "
            f"delivery_id={self.delivery_id!r})"
        )


class EventError(ValueError):
    """The event is not an outage event this layer can render."""


def _outage(event: Mapping[str, Any]) -> Mapping[str, Any]:
    if event.get("event") not in ALL_EVENTS:
        raise EventError(f"unknown event kind {event.get('event')!r}")
    if not isinstance(event.get("event_id"), int):
        raise EventError("event_id must be an integer")
    outage = event.get("outage")
    if not isinstance(outage, Mapping) or "id" not in outage or "signal" not in outage:
        raise EventError("the event has no outage object with an id and a signal")
    return outage


def wants(destination: Destination, event: Mapping[str, Any]) -> bool:
    """Whether ``destination`` gets ``event``: enabled, the event kind and signal are among
    those it asks for, and the outage has at least ``min_affected`` affected devices.

    The affected count only grows during an outage, so a destination can get the
    ``resolved`` of an outage whose ``opened`` was under its threshold."""
    outage = _outage(event)
    if not destination.enabled or event["event"] not in destination.events:
        return False
    if destination.signals is not None and outage.get("signal") not in destination.signals:
        return False
    affected = outage.get("affected_devices")
    return isinstance(affected, int) and affected >= destination.min_affected


def delivery_id(destination: Destination, event: Mapping[str, Any]) -> str:
    """Stable across retries: the same event to the same destination has the same id."""
    return f"{event['event_id']}.{destination.name}"


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def render(
    destination: Destination,
    event: Mapping[str, Any],
    *,
    now: datetime,
    console_url: str | None = None,
) -> OutgoingRequest:
    """The request that tells ``destination`` about ``event``.

    ``now`` (timezone-aware) is the signing time of webhook requests; ``console_url`` makes
    messages link to the outage in the console. Raises :class:`EventError` for a malformed
    event and ``ValueError`` for a TOPdesk ``resolved`` event (never wanted, see
    :mod:`.topdesk`)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    outage = _outage(event)
    link = wording.console_link(console_url, outage)
    ident = delivery_id(destination, event)

    def request(url: str, headers: dict[str, str], body: bytes) -> OutgoingRequest:
        return OutgoingRequest(
            "POST", url, headers, body, destination.timeout_s, destination.name, ident
        )

    base_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if isinstance(destination, WebhookDestination):
        body = _json(dict(event))
        headers = {
            **destination.headers,
            **base_headers,
            EVENT_HEADER: str(event["event"]),
            DELIVERY_HEADER: ident,
        }
        if destination.secret is not None:
            secret = destination.secret.get_secret_value()
            headers[SIGNATURE_HEADER] = sign(secret, int(now.timestamp()), body)
        return request(destination.url, headers, body)
    if isinstance(destination, SlackDestination | TeamsDestination):
        build = (
            chat.slack_message if isinstance(destination, SlackDestination) else chat.teams_message
        )
        body = _json(build(event, outage, link))
        return request(destination.url.get_secret_value(), base_headers, body)
    if isinstance(destination, TopdeskDestination):
        if event["event"] == "resolved":
            raise ValueError("TOPdesk destinations do not take resolved events")
        body = _json(topdesk.incident(destination, event, outage, link))
        headers = {**topdesk.headers(destination), "User-Agent": USER_AGENT}
        return request(destination.base_url + topdesk.INCIDENTS_PATH, headers, body)
    raise TypeError(f"unknown destination type {type(destination).__name__}")
