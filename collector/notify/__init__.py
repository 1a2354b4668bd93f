"""Notifying IT of outage events: destination config, message formats, delivery.

The detection job stores opened / reopened / resolved events in an outbox; a delivery job
reads them and, per configured destination, calls :func:`wants`, :func:`render` and
:func:`deliver`, retrying on ``Outcome.retry`` after :func:`next_attempt_delay` until
:func:`gives_up`. Nothing here touches the database or a clock, so that job owns state and
time, and everything here is testable as plain functions (``docs/notifications.md``).
"""

from __future__ import annotations

from .destinations import (
    Destination,
    DestinationConfigError,
    NotifySettings,
    SlackDestination,
    TeamsDestination,
    TopdeskDestination,
    WebhookDestination,
    parse_destinations,
)
from .formats import EventError, OutgoingRequest, delivery_id, render, wants
from .sender import MAX_ATTEMPTS, Outcome, deliver, gives_up, next_attempt_delay
from .signing import sign, verify_signature

__all__ = [
    "MAX_ATTEMPTS",
    "Destination",
    "DestinationConfigError",
    "EventError",
    "NotifySettings",
    "OutgoingRequest",
    "Outcome",
    "SlackDestination",
    "TeamsDestination",
    "TopdeskDestination",
    "WebhookDestination",
    "deliver",
    "delivery_id",
    "gives_up",
    "next_attempt_delay",
    "parse_destinations",
    "render",
    "sign",
    "verify_signature",
    "wants",
]
