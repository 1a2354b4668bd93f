"""`dexpulse collector watch`: Server-Sent Events parsed and told in words."""

from __future__ import annotations

import json

from dexpulse.collector.outages.watch import describe, parse_sse


def test_events_are_parsed_across_comments_and_multi_line_data() -> None:
    lines = [
        "retry: 5000", "", ": keep-alive", "",
        "id: 7", "event: opened", 'data: {"a":', "data: 1}", "",
        "id: 8", "event: resolved", "data: {}", "",
    ]  # fmt: skip
    events = list(parse_sse(lines))
    assert events == [("7", "opened", '{"a":\n1}'), ("8", "resolved", "{}")]
    assert json.loads(events[0][2]) == {"a": 1}


def test_an_event_is_one_line_in_words() -> None:
    outage = {
        "id": "wifi-1-1", "signal": "wifi",
        "cohort": {"site": "amsterdam", "bssid": "64:d1:54:68:93:ae"},
        "affected_devices": 14, "exposed_devices": 20, "event_at": "2026-11-23T10:42:05+00:00",
        "explanation": {"relative_risk": 7.0},
    }  # fmt: skip
    line = describe("opened", outage)
    assert line.startswith("10:42:05  OPENED")
    assert "64:d1:54:68:93:ae" in line and "14 of 20 devices" in line and "[wifi-1-1]" in line
    assert "7x the usual rate" in line
    assert "affected" in describe("resolved", outage)
