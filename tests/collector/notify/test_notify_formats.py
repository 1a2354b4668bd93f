"""Rendering: the wording, each destination's request, escaping, limits and the filter."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from notify_support import event

from dexpulse.collector.notify import (
    EventError,
    parse_destinations,
    render,
    verify_signature,
    wants,
    wording,
)
from dexpulse.collector.notify.chat import clip
from dexpulse.collector.notify.destinations import Destination

NOW = datetime(2026, 11, 23, 9, 7, tzinfo=UTC)
CONSOLE = "https://dexpulse.example.com/"
SECRET = "0123456789abcdef-secret"


def dest(**fields: Any) -> Destination:
    defaults: dict[str, dict[str, Any]] = {
        "webhook": {"url": "https://hooks.example.com/in"},
        "slack": {"url": "https://hooks.slack.com/services/T/B/X"},
        "teams": {"url": "https://example.logic.azure.com/workflows/1?sig=S"},
        "topdesk": {
            "base_url": "https://acme.topdesk.net",
            "username": "api",
            "application_password": "app-pw",
        },
    }
    item = {"name": "d", **defaults[fields["type"]], **fields}
    return parse_destinations([item])[0]


def body(destination: Destination, evt: dict[str, Any], **kw: Any) -> Any:
    return json.loads(render(destination, evt, now=NOW, console_url=CONSOLE, **kw).body)


# -- wording -------------------------------------------------------------------------------


def test_the_headline_sentence() -> None:
    outage = event()["outage"]
    assert wording.summary(outage, "opened") == (
        "Wi-Fi outage at access point 64:d1:54:68:93:ae (Wi-Fi network corp, site Amsterdam): "
        "14 of 20 devices failing, 7x the usual rate"
    )
    assert wording.summary(outage, "resolved").endswith(": 14 of 20 devices affected")


@pytest.mark.parametrize(
    ("signal", "cohort", "expected"),
    [
        (
            "app_crash",
            {"app_name": "Teams", "app_version": "24.1.0"},
            "App crashes in Teams 24.1.0",
        ),
        ("app_hang", {"app_name": "Excel", "model": "X1"}, "App hangs in Excel (model X1)"),
        (
            "network_probe",
            {"probe_target": "login.example.com", "site": "Gent"},
            "Network reachability outage for login.example.com (site Gent)",
        ),
        (
            "peripheral_failure",
            {"driver": "usbaudio", "driver_version": "2.1", "peripheral": "Jabra"},
            "Peripheral failures in driver usbaudio 2.1 (peripheral Jabra)",
        ),
        ("system", {"model": "Latitude 7440"}, "CPU saturation on model Latitude 7440"),
        ("silence", {"site": "Gent"}, "Devices gone silent at site Gent"),
        ("wifi", {}, "Wi-Fi outage across the whole fleet"),
        ("new_signal", {"colour": "red"}, "New signal outage in colour red"),
    ],
)
def test_headlines_per_signal_and_cohort(
    signal: str, cohort: dict[str, str], expected: str
) -> None:
    assert wording.headline({"signal": signal, "cohort": cohort}) == expected


def test_signal_names() -> None:
    names = [wording.signal_name(s) for s in ("wifi", "network_probe", "system", "silence")]
    assert names == ["Wi-Fi", "network reachability", "CPU saturation", "devices gone silent"]


def test_ratio_and_infinite_relative_risk() -> None:
    assert [wording.ratio(v) for v in (7.03, 1.54, 2.0, 12.6, None)] == [
        "7x", "1.5x", "2x", "13x", None,
    ]  # fmt: skip
    outage = event(explanation={**event()["outage"]["explanation"], "relative_risk": None})
    assert wording.impact(outage["outage"], "opened").endswith("where usually none are")


def test_times_are_shown_in_utc() -> None:
    assert wording.when("2026-11-23T10:02:00+01:00") == "2026-11-23 09:02 UTC"
    assert wording.when("2026-11-23T09:02:00") == "2026-11-23 09:02 UTC"
    assert wording.when("yesterday") == "yesterday" and wording.when(None) == "unknown"
    assert wording.duration("2026-11-23T09:02:00Z", "2026-11-23T10:07:00Z") == "1 h 5 min"


# -- webhook -------------------------------------------------------------------------------


def test_webhook_body_is_the_event_and_headers_identify_the_delivery() -> None:
    evt = event()
    destination = dest(type="webhook", name="siem", secret=SECRET, headers={"X-Api-Key": "k"})
    request = render(destination, evt, now=NOW)
    assert request.method == "POST" and request.url == "https://hooks.example.com/in"
    assert json.loads(request.body) == evt
    assert request.body == render(destination, evt, now=NOW).body  # deterministic
    assert b" " not in request.body.replace(b"Wi-Fi network", b"")  # compact
    headers = request.headers
    assert headers["Content-Type"] == "application/json" and headers["X-Api-Key"] == "k"
    assert headers["X-Dexpulse-Event"] == "opened"
    assert headers["X-Dexpulse-Delivery"] == "42.siem" == request.delivery_id
    later = render(destination, evt, now=NOW + timedelta(minutes=30))
    assert later.headers["X-Dexpulse-Delivery"] == "42.siem"
    signature = headers["X-Dexpulse-Signature"]
    assert signature.startswith(f"t={int(NOW.timestamp())},v1=")
    assert verify_signature(SECRET, signature, request.body, NOW)
    assert verify_signature(
        SECRET, later.headers["X-Dexpulse-Signature"], later.body, NOW + timedelta(minutes=30)
    )


def test_webhook_without_secret_is_unsigned_and_render_needs_an_aware_time() -> None:
    request = render(dest(type="webhook"), event(), now=NOW)
    assert "X-Dexpulse-Signature" not in request.headers
    with pytest.raises(ValueError, match="timezone-aware"):
        render(dest(type="webhook"), event(), now=datetime(2026, 1, 1))  # noqa: DTZ001


def test_the_request_repr_hides_credentials() -> None:
    text = repr(render(dest(type="slack"), event(), now=NOW))
    assert "hooks.slack.com" in text and "T/B/X" not in text
    text = repr(render(dest(type="topdesk"), event(), now=NOW))
    assert "Basic" not in text and "app-pw" not in text


def test_malformed_events_are_refused() -> None:
    with pytest.raises(EventError, match="unknown event kind"):
        render(dest(type="slack"), {**event(), "event": "closed"}, now=NOW)
    with pytest.raises(EventError, match="no outage"):
        wants(dest(type="slack"), {"event_id": 1, "event": "opened", "outage": {}})


# -- slack ---------------------------------------------------------------------------------


def _slack_texts(message: dict[str, Any]) -> str:
    return json.dumps(message)


def test_slack_message_structure() -> None:
    message = body(dest(type="slack"), event())
    blocks = message["blocks"]
    assert message["text"].startswith("Opened: Wi-Fi outage at access point 64:d1:54:68:93:ae")
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Opened: Wi-Fi outage"},
    }
    assert "14 of 20 devices failing, 7x the usual rate" in blocks[1]["text"]["text"]
    fields = [f["text"] for f in blocks[2]["fields"]]
    assert fields == [
        "*Started*\n2026-11-23 09:02 UTC",
        "*Detected*\n2026-11-23 09:06 UTC",
        "*Affected devices*\n14 of 20",
    ]
    texts = _slack_texts(message)
    assert "Teams 24.1.0, first seen 2026-11-23 08:00 UTC" in texts
    assert "Also possible: site Amsterdam (explains 90%)" in texts
    (actions,) = [b for b in blocks if b["type"] == "actions"]
    assert actions["elements"][0]["url"] == "https://dexpulse.example.com/outages/wifi-29384000-3"
    assert blocks[-1]["type"] == "context" and "event 42" in blocks[-1]["elements"][0]["text"]


def test_slack_resolved_and_without_console() -> None:
    request = render(dest(type="slack"), event("resolved"), now=NOW)
    message = json.loads(request.body)
    assert message["blocks"][0]["text"]["text"] == "Resolved: Wi-Fi outage"
    fields = [f["text"] for f in message["blocks"][2]["fields"]]
    assert "*Resolved*\n2026-11-23 10:07 UTC" in fields and "*Duration*\n1 h 5 min" in fields
    assert all(b["type"] != "actions" for b in message["blocks"])


def test_slack_escapes_device_values() -> None:
    evil = {"site": "<!channel> & <https://evil.example|click>", "bssid": "aa:bb"}
    message = body(dest(type="slack"), event(cohort=evil))
    texts = [message["text"], message["blocks"][1]["text"]["text"]]
    for text in texts:
        assert "<!channel>" not in text and "<https://" not in text
        assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in text


def test_slack_clips_without_cutting_an_entity() -> None:
    message = body(dest(type="slack"), event(cohort={"site": "&" * 5000}))
    text = message["blocks"][1]["text"]["text"]
    assert len(text) <= 3000 and text.endswith("&amp;…")
    assert clip("ab&amp;cd", 6) == "ab…" and clip("short", 10) == "short"


# -- teams ---------------------------------------------------------------------------------


def test_teams_adaptive_card() -> None:
    message = body(dest(type="teams"), event())
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    kinds = [block["type"] for block in card["body"]]
    assert kinds[:3] == ["TextBlock", "TextBlock", "FactSet"]
    assert card["body"][0]["text"] == "Opened: Wi-Fi outage"
    assert card["body"][1]["text"].endswith("14 of 20 devices failing, 7x the usual rate")
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts == {
        "Started": "2026-11-23 09:02 UTC",
        "Detected": "2026-11-23 09:06 UTC",
        "Affected devices": "14 of 20",
    }
    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Open in console",
            "url": "https://dexpulse.example.com/outages/wifi-29384000-3",
        }
    ]
    assert (
        "actions"
        not in json.loads(render(dest(type="teams"), event(), now=NOW).body)["attachments"][0][
            "content"
        ]
    )


# -- topdesk -------------------------------------------------------------------------------


def test_topdesk_incident() -> None:
    destination = dest(
        type="topdesk", category="Network", subcategory="Wi-Fi", urgency="High",
        operator_group_id="0d9c5e43-aaaa-bbbb-cccc-000000000001",
    )  # fmt: skip
    request = render(destination, event(), now=NOW, console_url=CONSOLE)
    assert request.url == "https://acme.topdesk.net/tas/api/incidents"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"api:app-pw").decode()
    incident = json.loads(request.body)
    assert (
        incident["briefDescription"]
        == ("Wi-Fi outage at access point 64:d1:54:68:93:ae (Wi-Fi network corp, site Amsterdam)")[
            :79
        ]
        + "…"
    )
    assert len(incident["briefDescription"]) == 80
    assert incident["externalNumber"] == "wifi-29384000-3"
    assert incident["caller"] == {"dynamicName": "dexpulse"}
    assert incident["category"] == {"name": "Network"}
    assert incident["subcategory"] == {"name": "Wi-Fi"} and incident["urgency"] == {"name": "High"}
    assert incident["operatorGroup"] == {"id": "0d9c5e43-aaaa-bbbb-cccc-000000000001"}
    assert "impact" not in incident and "callType" not in incident
    request_text = incident["request"]
    assert request_text.startswith("<b>Wi-Fi outage at access point")
    assert (
        "Relative risk" not in request_text and "7x the rate of comparable cohorts" in request_text
    )
    assert "https://dexpulse.example.com/outages/wifi-29384000-3" in request_text


def test_topdesk_brief_is_at_most_80_characters_and_escapes_html() -> None:
    for site in ("A", "x" * 200):
        for kind in ("opened", "reopened"):
            incident = body(dest(type="topdesk"), event(kind, cohort={"site": site}))
            assert len(incident["briefDescription"]) <= 80
    assert body(dest(type="topdesk"), event("reopened"))["briefDescription"].startswith(
        "Reopened: "
    )
    incident = body(dest(type="topdesk"), event(cohort={"site": "<script>x</script>"}))
    assert "<script>" not in incident["request"] and "&lt;script&gt;" in incident["request"]


def test_topdesk_registered_caller_and_no_resolution() -> None:
    destination = dest(type="topdesk", caller_lookup_id="1a2b")
    incident = body(destination, event())
    assert incident["callerLookup"] == {"id": "1a2b"} and "caller" not in incident
    assert not wants(destination, event("resolved"))
    with pytest.raises(ValueError, match="resolved"):
        render(destination, event("resolved"), now=NOW)


# -- wants ---------------------------------------------------------------------------------


def test_wants_filters_by_event_signal_size_and_enabled() -> None:
    assert wants(dest(type="slack"), event())
    assert not wants(dest(type="slack", enabled=False), event())
    assert not wants(dest(type="slack", events=["resolved"]), event("opened"))
    assert wants(dest(type="slack", events=["resolved"]), event("resolved"))
    assert wants(dest(type="slack", signals=["wifi"]), event())
    assert not wants(dest(type="slack", signals=["app_crash"]), event())
    assert wants(dest(type="slack", min_affected=14), event())
    assert not wants(dest(type="slack", min_affected=15), event())
    assert wants(dest(type="topdesk"), event("reopened"))
