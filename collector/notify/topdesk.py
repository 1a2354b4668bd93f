"""TOPdesk: an incident per opened or reopened outage, through the REST API (``/tas/api``).

What the API offers, as found while building this (sources: TOPdesk's API explorer pages
``developers.topdesk.com/explorer/?page=incident`` as cited by the Pipedream TOPdesk
components, Cortex XSOAR's TOPdesk integration, the TOPdeskPS endpoint table, and
``developers.topdesk.com/tutorial.html``):

* ``POST /tas/api/incidents`` creates an incident. ``briefDescription`` holds at most 80
  characters; ``request`` is the request text, in which a few HTML tags (``<b>``, ``<i>``,
  ``<br>``, ...) are rendered; ``externalNumber`` (at most 60 characters) can be set by
  operators; an unregistered caller is ``caller: {"dynamicName": ...}``, a registered one
  ``callerLookup: {"id": ...}``; category, subcategory, call type, entry type, impact and
  urgency can be given as ``{"name": ...}``; the operator group is given by ``{"id": ...}``.
* Authentication is HTTP Basic with a user's name and an application password (the user's
  permission group needs REST API access and "use application passwords").
* An existing incident is addressed by its TOPdesk id (``/incidents/id/{id}``) or number
  (``/incidents/number/{number}``); ``PATCH`` on those takes an ``action`` text that is added
  to the incident, and ``closed``. No path addresses an incident by ``externalNumber``.

So resolving would need the TOPdesk id or number of the incident created for the outage: the
create response has it, but the outbox does not keep responses, and finding it first (a
``GET /tas/api/incidents`` list query, then the PATCH) is two requests where a delivery is one.
Resolution is therefore not pushed: TOPdesk destinations take ``opened`` and ``reopened``
only (the config refuses ``resolved``). The outage id is the incident's external number, so
a reopened outage's second incident is visibly the same outage.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from typing import Any

from . import wording
from .destinations import TopdeskDestination

BRIEF_MAX = 80
EXTERNAL_NUMBER_MAX = 60
INCIDENTS_PATH = "/tas/api/incidents"


def brief(outage: Mapping[str, Any], event: str) -> str:
    """The headline, prefixed "Reopened: " for a reopened outage, in at most 80 characters."""
    text = wording.headline(outage)
    if event == "reopened":
        text = f"Reopened: {text}"
    return text if len(text) <= BRIEF_MAX else text[: BRIEF_MAX - 1].rstrip() + "…"


def request_text(outage: Mapping[str, Any], event: str, link: str | None, event_id: Any) -> str:
    """The incident's request: the wording as escaped HTML, lines joined by ``<br>``."""

    def lines(heading: str, items: list[str]) -> list[str]:
        return [f"<b>{heading}</b>", *(f"- {html.escape(i)}" for i in items), ""] if items else []

    parts = [f"<b>{html.escape(wording.summary(outage, event))}</b>", ""]
    parts += [f"{label}: {html.escape(value)}" for label, value in wording.facts(outage, event)]
    parts.append("")
    parts += lines("Why", wording.reasons(outage))
    parts += lines("Suspects (new shortly before it started)", wording.suspects(outage))
    if link:
        parts.append(f"Console: {html.escape(link)}")
    parts.append(
        f"Filed by dexpulse: outage {html.escape(str(outage.get('id')))}, event {event_id}"
    )
    return "<br>".join(parts)


def incident(
    destination: TopdeskDestination,
    event: Mapping[str, Any],
    outage: Mapping[str, Any],
    link: str | None,
) -> dict[str, Any]:
    """The JSON body of ``POST /tas/api/incidents``."""
    kind = str(event["event"])
    body: dict[str, Any] = {
        "briefDescription": brief(outage, kind),
        "request": request_text(outage, kind, link, event.get("event_id")),
        "externalNumber": str(outage.get("id"))[:EXTERNAL_NUMBER_MAX],
    }
    if destination.caller_lookup_id:
        body["callerLookup"] = {"id": destination.caller_lookup_id}
    else:
        body["caller"] = {"dynamicName": destination.caller_name}
    named = {
        "category": destination.category,
        "subcategory": destination.subcategory,
        "callType": destination.call_type,
        "entryType": destination.entry_type,
        "impact": destination.impact,
        "urgency": destination.urgency,
    }
    body.update({key: {"name": value} for key, value in named.items() if value})
    if destination.operator_group_id:
        body["operatorGroup"] = {"id": destination.operator_group_id}
    return body


def headers(destination: TopdeskDestination) -> dict[str, str]:
    """JSON in and out, Basic auth with the application password."""
    password = destination.application_password.get_secret_value()
    token = base64.b64encode(f"{destination.username}:{password}".encode()).decode()
    return {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Authorization": f"Basic {token}",
    }
