"""``dexpulse collector watch``: the outage feed in a terminal, as it happens.

Reads the collector's live stream (``GET /api/v1/outages/stream``, Server-Sent Events) and
prints one line per event in words, e.g.::

    10:42:05  OPENED     Wi-Fi outage at access point 24:de:c6:4c:bd:00 (site Amsterdam):
                         14 of 20 devices failing, 7x the usual rate  [wifi-29923652-1]

It reconnects with ``Last-Event-ID`` when the connection drops, so nothing is missed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import httpx

from ..notify.wording import summary


def parse_sse(lines: Iterable[str]) -> Iterator[tuple[str | None, str, str]]:
    """(id, event, data) per Server-Sent Event in ``lines``."""
    event_id: str | None = None
    name, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield event_id, name, "\n".join(data)
            name, data = "message", list[str]()
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "id":
            event_id = value
        elif field == "event":
            name = value
        elif field == "data":
            data.append(value)


def describe(event: str, data: dict[str, Any]) -> str:
    at = data.get("event_at", "")
    try:
        clock = datetime.fromisoformat(at).strftime("%H:%M:%S")
    except ValueError:
        clock = "--:--:--"
    words = summary(data, "resolved" if event == "resolved" else "opened")
    return f"{clock}  {event.upper():<10} {words}  [{data.get('id')}]"


def watch(
    url: str,
    api_key: str,
    write: Callable[[str], None],
    *,
    client: httpx.Client | None = None,
    stop_after: int | None = None,
) -> int:
    """Follow the stream until interrupted (or ``stop_after`` events); events printed."""
    client = client or httpx.Client(timeout=httpx.Timeout(10.0, read=60.0))
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "text/event-stream"}
    last: str | None = None
    shown = 0
    while stop_after is None or shown < stop_after:
        if last is not None:
            headers["Last-Event-ID"] = last
        try:
            with client.stream(
                "GET", f"{url.rstrip('/')}/api/v1/outages/stream", headers=headers
            ) as r:
                if r.status_code in (401, 403):
                    raise SystemExit(
                        f"dexpulse collector watch: {r.status_code}: check the API key"
                    )
                r.raise_for_status()
                for event_id, name, data in parse_sse(r.iter_lines()):
                    last = event_id or last
                    write(describe(name, json.loads(data)))
                    shown += 1
                    if stop_after is not None and shown >= stop_after:
                        break
        except (httpx.TransportError, httpx.HTTPStatusError) as exc:
            write(f"(stream interrupted: {exc}; reconnecting)")
            time.sleep(2)
    return shown
