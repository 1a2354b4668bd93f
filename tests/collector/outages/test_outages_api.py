"""The outage feed as IT reads it: the list and its filters, one outage with its timeline and
explanation, and the live stream from a real server while outages are written."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import serve
from outage_support import T0, outage
from sqlalchemy.orm import Session, sessionmaker
from support import Collector, add_device, migrated

from dexpulse.collector.admin import create_api_key
from dexpulse.collector.db import transaction
from dexpulse.collector.detection.engine import to_minute
from dexpulse.collector.detection.lifecycle import Outage
from dexpulse.collector.outages.store import record
from dexpulse.collector.security import Role

MIN = timedelta(minutes=1)
URL = "/api/v1/outages"

EXPLANATION = {
    "failing": 14,
    "exposed": 20,
    "rate": 0.7,
    "baseline_rate": 0.0123,
    "relative_risk": 7.03,
    "explained_share": 0.85,
    "alternatives": [
        {"cohort": {"site": "Amsterdam"}, "explained_share": 0.6, "relative_risk": 3.2}
    ],
}
SUSPECT = {
    "cohort": {"app_name": "Teams", "app_version": "24.1.0"},
    "first_seen": "2026-11-23T08:40:00+00:00",
}


def wifi(affected: set[str]) -> Outage:
    return outage(
        "wifi-1-1", "wifi", {"site": "Amsterdam", "ssid": "corp", "bssid": "64:d1:54:68:93:ae"},
        T0, T0 + 4 * MIN, affected=affected,
        timeline={T0: (2, 20), T0 + MIN: (9, 20), T0 + 4 * MIN: (14, 20)},
        explanation=EXPLANATION, suspects=[SUSPECT],
    )  # fmt: skip


def crash() -> Outage:
    return outage(
        "app_crash-2-2", "app_crash", {"site": "Amsterdam", "app_name": "Teams"},
        T0 + 30 * MIN, T0 + 33 * MIN, status="resolved", resolved=T0 + 60 * MIN,
    )  # fmt: skip


def silence() -> Outage:
    return outage(
        "silence-3-3", "silence", {"site": "Brussels"}, T0 + 90 * MIN, T0 + 92 * MIN,
        status="recovering",
    )  # fmt: skip


@pytest.fixture
def feed(collector: Collector) -> tuple[Collector, dict[str, str], list[str]]:
    """Three outages (newest first: silence, crash, wifi) in the app's database, a viewer key,
    and the wifi outage's affected devices (two known laptops and one not in the database)."""
    with transaction(collector.sessions) as session:
        known = [str(add_device(session, f"laptop-{i}")) for i in (1, 2)]
        affected = [*known, str(uuid.uuid4())]
        record(session, [wifi(set(affected))], T0 + 4 * MIN)
        record(session, [crash()], T0 + 61 * MIN)
        record(session, [silence()], T0 + 100 * MIN)
    return collector, collector.api_key(Role.VIEWER), affected


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [o["id"] for o in response.json()["outages"]]


def test_the_list_is_newest_first_and_filters(feed: Any) -> None:
    """Most recently started first; status, signal, since and cohort (every pair must match)
    narrow it, and limit cuts it."""
    collector, key, _ = feed
    get = collector.client.get
    assert ids(get(URL, headers=key)) == ["silence-3-3", "app_crash-2-2", "wifi-1-1"]
    assert ids(get(URL, headers=key, params={"status": "open"})) == ["wifi-1-1"]
    both = {"status": ["open", "recovering"]}
    assert ids(get(URL, headers=key, params=both)) == ["silence-3-3", "wifi-1-1"]
    assert ids(get(URL, headers=key, params={"signal": "app_crash"})) == ["app_crash-2-2"]
    # since: started since, still live, or resolved since (the crash resolved at T0+60)
    since = {"since": (T0 + 70 * MIN).isoformat()}
    assert ids(get(URL, headers=key, params=since)) == ["silence-3-3", "wifi-1-1"]
    since = {"since": (T0 + 50 * MIN).isoformat()}
    assert ids(get(URL, headers=key, params=since)) == ["silence-3-3", "app_crash-2-2", "wifi-1-1"]
    amsterdam = {"cohort": "site:Amsterdam"}
    assert ids(get(URL, headers=key, params=amsterdam)) == ["app_crash-2-2", "wifi-1-1"]
    pairs = {"cohort": ["site:Amsterdam", "ssid:corp"]}
    assert ids(get(URL, headers=key, params=pairs)) == ["wifi-1-1"]
    assert ids(get(URL, headers=key, params={"cohort": ["site:Amsterdam", "ssid:guest"]})) == []
    assert ids(get(URL, headers=key, params={"limit": 2})) == ["silence-3-3", "app_crash-2-2"]
    [listed] = get(URL, headers=key, params={"signal": "wifi"}).json()["outages"]
    assert listed["summary"].startswith("Wi-Fi outage at access point 64:d1:54:68:93:ae")
    assert listed["summary"].endswith(": 3 of 20 devices failing, 7x the usual rate")
    assert listed["affected_devices"] == 3 and "timeline" not in listed


def test_bad_filters_and_no_key_are_refused(feed: Any) -> None:
    """A cohort filter without ``name:`` is a 400 in the API's error shape; a limit out of
    range is a 422; without a viewer key, or with a wrong one, it is a 401."""
    collector, key, _ = feed
    get = collector.client.get
    for bad in ("site", ":Amsterdam"):
        response = get(URL, headers=key, params={"cohort": bad})
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_cohort" and bad in response.json()["detail"]
    assert get(URL, headers=key, params={"limit": 0}).status_code == 422
    for signal in ("bogus", "\x00"):  # NUL once reached PostgreSQL, which refuses it: a 500
        response = get(URL, headers=key, params={"signal": signal})
        assert response.status_code == 422 and response.json()["error"] == "validation_error"
    assert get(f"{URL}/wifi%00", headers=key).status_code == 422
    assert get(URL).status_code == 401 and get(URL).json()["error"] == "missing_token"
    wrong = get(URL, headers={"Authorization": "Bearer dxk_not_a_key"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_api_key"
    assert get(f"{URL}/wifi-1-1").status_code == 401


def test_one_outage_in_detail(feed: Any) -> None:
    """The detail has the timeline per minute, the explanation in words and numbers (cohorts
    as words, not Python dicts), suspects, the affected devices with their hostnames (None for
    one the database does not know) and the events so far."""
    collector, key, affected = feed
    response = collector.client.get(f"{URL}/wifi-1-1", headers=key)
    assert response.status_code == 200, response.text
    detail = response.json()
    assert [(p["failing"], p["exposed"]) for p in detail["timeline"]] == [
        (2, 20),
        (9, 20),
        (14, 20),
    ]
    assert datetime.fromisoformat(detail["timeline"][0]["minute"]) == T0
    text = "\n".join(detail["explanation_text"])
    assert detail["explanation_text"][0].startswith("Wi-Fi outage at access point 64:d1:54")
    for words in ("14 of 20 devices", "70.0%", "1.23%", "7.03x as often", "85%",
                  "Also considered: site Amsterdam (explains 60%)",
                  "Suspect change: Teams 24.1.0 first seen 2026-11-23 08:40 UTC"):  # fmt: skip
        assert words in text, (words, text)
    assert "{" not in text
    assert detail["suspects"] == [SUSPECT]
    hostnames = {d["id"]: d["hostname"] for d in detail["affected"]}
    assert hostnames == {affected[0]: "laptop-1", affected[1]: "laptop-2", affected[2]: None}
    assert [e["event"] for e in detail["events"]] == ["opened"]
    assert datetime.fromisoformat(detail["events"][0]["minute"]) == T0 + 4 * MIN
    crashed = collector.client.get(f"{URL}/app_crash-2-2", headers=key).json()
    assert [e["event"] for e in crashed["events"]] == ["opened", "resolved"]
    assert crashed["status"] == "resolved" and crashed["resolved_at"] is not None


def test_an_unknown_outage_is_a_404(feed: Any) -> None:
    """An id no outage has: 404 in the API's error shape."""
    collector, key, _ = feed
    response = collector.client.get(f"{URL}/wifi-9-9", headers=key)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found" and "wifi-9-9" in response.json()["detail"]


def test_a_bad_last_event_id_is_a_400(feed: Any) -> None:
    """A Last-Event-ID that is not an event id (letters, a negative number, more digits than
    an event id has) is refused with 400 in the API's error shape."""
    collector, key, _ = feed
    for bad in ("abc", "-1", "1.5", "1" * 19):
        headers = {**key, "Last-Event-ID": bad}
        response = collector.client.get(f"{URL}/stream", headers=headers)
        assert response.status_code == 400, (bad, response.text)
        assert response.json()["error"] == "invalid_last_event_id"


# -- the live stream, from a real server --------------------------------------------------------


def events(response: httpx.Response, count: int) -> list[tuple[int, str, dict[str, Any]]]:
    """The next ``count`` events of an SSE response: (id, event, data)."""
    found: list[tuple[int, str, dict[str, Any]]] = []
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line.startswith(":") or line.startswith("retry:"):
            continue
        if line:
            name, _, value = line.partition(": ")
            fields[name] = value
            continue
        if fields:
            found.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
            fields = {}
        if len(found) == count:
            return found
    raise AssertionError(f"the stream ended after {found}")


def write(sessions: sessionmaker[Session], item: Outage, at: datetime) -> None:
    with transaction(sessions) as session:
        record(session, [item], at)


def test_the_stream_delivers_events_as_they_are_written(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real collector process streams outage events written to its database by someone
    else (the detection job on another replica, here the test): what happened before the
    client connected is not sent, what happens after is, in order, with id, event and the
    outage as data. Reconnecting with Last-Event-ID (or ``?after=``) gives only what came
    after that id; a Last-Event-ID that is no event id is a 400."""
    monkeypatch.setenv("DEXPULSE_DETECTION_ENABLED", "false")
    monkeypatch.delenv("DEXPULSE_NOTIFY_DESTINATIONS", raising=False)
    with serve(db_url, tmp_path) as server, migrated(db_url) as sessions:
        with transaction(sessions) as session:
            _, plaintext = create_api_key(session, "stream", Role.VIEWER)
            record(session, [crash()], T0 + 61 * MIN)  # before anyone listens
        key = {"Authorization": f"Bearer {plaintext}"}
        item = silence()
        item.status = "open"
        timeout = httpx.Timeout(10.0)
        with httpx.Client(base_url=server.url, headers=key, timeout=timeout) as client:
            with client.stream("GET", f"{URL}/stream") as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                write(sessions, item, T0 + 92 * MIN)
                item.status, item.recovering_since = "recovering", to_minute(T0 + 95 * MIN)
                write(sessions, item, T0 + 100 * MIN)
                live = events(response, 2)
            assert [(e, d["id"], d["status"]) for _, e, d in live] == [
                ("opened", "silence-3-3", "open"),
                ("recovering", "silence-3-3", "recovering"),
            ]
            first, second = live[0][0], live[1][0]
            assert first < second
            assert live[0][2]["cohort"] == {"site": "Brussels"} and "timeline" not in live[0][2]
            assert live[1][2]["event_at"].startswith("2026-11-23T10:40")
            item.status = "resolved"
            item.resolved_at, item.closed_at = to_minute(T0 + 95 * MIN), to_minute(T0 + 110 * MIN)
            write(sessions, item, T0 + 110 * MIN)
            resumed = {"Last-Event-ID": str(first)}
            with client.stream("GET", f"{URL}/stream", headers=resumed) as response:
                again = events(response, 2)
            assert [(i, e) for i, e, _ in again] == [
                (second, "recovering"),
                (second + 1, "resolved"),
            ]
            with client.stream("GET", f"{URL}/stream", params={"after": second}) as response:
                assert [e for _, e, _ in events(response, 1)] == ["resolved"]
            # "²" (byte 0xb2 in the header) is a digit to str.isdigit, not to int()
            for bad in (b"yesterday", b"\xb2"):
                refused = client.get(f"{URL}/stream", headers={"Last-Event-ID": bad})
                assert refused.status_code == 400, (bad, refused.text)
                assert refused.json()["error"] == "invalid_last_event_id"
